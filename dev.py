#!/usr/bin/env python3
"""Set up and run tfpilot from a fresh clone: ``python3 dev.py demo`` or ``python3 dev.py test``.

The first run creates ``.venv`` and installs the core and every plugin under ``plugins/``
(editable, with their test extras). Later runs reinstall only when a ``pyproject.toml`` changed.
Only the standard library is used here, so this works on a machine with nothing but Python 3.11+.

Commands:
  setup            create/refresh .venv and stop
  demo [ARGS]      run `tfpilot demo` (the whole request lifecycle, offline)
  test [ARGS]      ruff (lint + format check), mypy --strict on tfpilot_core, then pytest
  run CMD [ARGS]   run any command inside .venv (e.g. `python3 dev.py run tfpilot --help`)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("TFPILOT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".tfpilot-installed"


def _plugins() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in _plugins())]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def setup() -> None:
    """Create the virtual environment and install everything, unless it is up to date."""
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating virtual environment in {VENV}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if _run(*pip, "--upgrade", "pip") != 0:
        sys.exit("pip upgrade failed")
    targets: list[str] = ["-e", f"{ROOT}[dev]"]
    for plugin in _plugins():
        targets += ["-e", f"{plugin}[test]"]
    print(f"installing tfpilot-core and {len(_plugins())} plugin(s)", file=sys.stderr)
    if _run(*pip, *targets) != 0:
        sys.exit("installation failed (see pip's output above)")
    STAMP.write_text(wanted)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    # Nothing tfpilot runs may reach the internet.
    env.setdefault("CHECKPOINT_DISABLE", "1")
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return env


def test(args: list[str]) -> int:
    """The whole test suite, as CI runs it."""
    env = _env()
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff check", [BIN / "ruff", "check", "."]),
        ("ruff format --check", [BIN / "ruff", "format", "--check", "."]),
        ("mypy --strict tfpilot_core", [BIN / "mypy", "tfpilot_core"]),
    ]
    for title, cmd in steps:
        print(f"==> {title}", flush=True)
        if _run(*cmd, env=env) != 0:
            print(f"FAILED: {title}", file=sys.stderr)
            return 1
    print("==> pytest", flush=True)
    # Independent test files run on both cores; each file stays on one worker (its module-scoped
    # servers and fixtures are started once). Pass your own -n to change it (-n 0: serial).
    parallel = [] if any(a == "-n" or a.startswith("-n") for a in args) else ["-n", "2"]
    return _run(BIN / "python", "-m", "pytest", *parallel, "--dist", "loadfile", *args, env=env)


def main(argv: list[str]) -> int:
    """Entry point: dispatch on the first argument."""
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in {"setup", "demo", "test", "run"}:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    setup()
    if command == "setup":
        return 0
    if command == "demo":
        return _run(BIN / "tfpilot", "demo", *rest, env=_env())
    if command == "test":
        return test(rest)
    if not rest:
        print("usage: python3 dev.py run CMD [ARGS]", file=sys.stderr)
        return 2
    return _run(*rest, env=_env())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
