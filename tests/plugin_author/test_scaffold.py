"""``tfpilot plugins new``: each kind scaffolded, pip-installed into a fresh venv, listed by
``tfpilot --json plugins`` and its own tests run there.

The venv is made with ``python -m venv --system-site-packages`` from the project's Python, and a
``.pth`` file adds the project's site-packages, so tfpilot-core (and setuptools, to build the
plugin) are importable with no network; the plugin is installed without dependencies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.scaffold import KINDS, files_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        check=True,
    )
    purelib = subprocess.run(
        [
            str(root / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The project's site-packages (tfpilot-core, pip, setuptools), after the venv's own.
    # addsitedir, not a bare path: the project's own .pth files (its editable installs) count.
    project = sysconfig.get_path("purelib")
    (Path(purelib) / "project.pth").write_text(f"import site; site.addsitedir({project!r})\n")
    return root


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "TFPILOT_HOME": str(home), "PIP_NO_INDEX": "1"}
    env.pop("TFPILOT_CONFIG", None)
    return env


@pytest.mark.parametrize("kind", list(KINDS))
def test_scaffold_installs_lists_and_passes_its_tests(
    kind: str, venv: Path, tmp_path: Path
) -> None:
    name = f"my_{kind.replace('-', '_')}"
    result = CliRunner().invoke(
        cli, ["--json", "plugins", "new", name, "--kind", kind, "--dir", str(tmp_path)], obj=App()
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    folder = Path(written["path"])
    assert set(written["files"]) == set(files_for(name, kind))
    env = _env(tmp_path)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run(
        [python, "-c", "from tfpilot_core.cli import main; main()", "--json", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    [info] = [p for p in json.loads(listed.stdout)["items"] if p["name"] == name]
    assert info["status"] == "loaded", info
    assert info["distribution"] == f"tfpilot-{name.replace('_', '-')}"
    tests = subprocess.run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(folder / "tests"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=folder,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout


def test_the_plugin_module_is_lazy() -> None:
    """Module-level imports of every kind's plugin.py: nothing but hookimpl and typing."""
    allowed = {
        "from __future__ import annotations",
        "from typing import TYPE_CHECKING",
        "from typing import TYPE_CHECKING, Any",
        "from tfpilot_core import hookimpl",
    }
    for kind in KINDS:
        plugin = files_for("lazy_one", kind)["tfpilot_lazy_one/plugin.py"]
        top = {line for line in plugin.splitlines() if line.startswith(("import ", "from "))}
        assert top <= allowed, (kind, top - allowed)


def test_bad_names_and_kinds_are_one_line_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["plugins", "new", "Bad-Name", "--kind", "store", "--dir", str(tmp_path)], obj=App()
    )
    assert result.exit_code == 3
    assert "NAME" in result.output
    again = CliRunner().invoke(
        cli, ["plugins", "new", "twice", "--kind", "store", "--dir", str(tmp_path)], obj=App()
    )
    assert again.exit_code == 0
    third = CliRunner().invoke(
        cli, ["plugins", "new", "twice", "--kind", "store", "--dir", str(tmp_path)], obj=App()
    )
    assert third.exit_code == 3 and "already exists" in third.output
