"""A/B start-up of the CLI: another checkout of tfpilot (before) against this one (after).

Run with the project's interpreter::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/ab_startup.py /tmp/before [REQUESTS] [RUNS]

Each command runs alternately on the two trees (the old one through ``PYTHONPATH``, the venv's
console script for both), ``RUNS`` pairs after two warm-ups, each tree on its own store seeded
with ``REQUESTS`` requests (``Platform.create``; request-time Terraform checks off, so seeding
is quick). It prints the medians and after/before. Noise between two runs of one tree on a
shared 2-core machine is about 10%: compare several runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The same one-resource plan as cli_startup.py times (run as a script: its folder is on sys.path).
from cli_startup import TINY_PLAN

PYTHON = sys.executable
TFPILOT = str(Path(PYTHON).parent / "tfpilot")

_SEED = """
import sys
from tfpilot_core import Platform
platform = Platform.from_config()
last = None
for i in range(int(sys.argv[1])):
    env = ("dev", "stage", "prod")[i % 3]
    last = platform.create(
        "alice", module="sandbox/bucket", environment=env, project="shop", inputs={"name": f"b{i}"}
    )
print(last.id if last else "")
"""

Tree = tuple[str, dict[str, str], str]


def prepare(pythonpath: str | None, requests: int) -> Tree:
    """A home with a one-user configuration and ``requests`` requests; its environment."""
    home = tempfile.mkdtemp(prefix="tfpilot-ab-")
    Path(home, "tfpilot.toml").write_text('[users.alice]\nrole = "developer"\n')
    Path(home, "tiny.json").write_text(json.dumps(TINY_PLAN))
    dropped = ("TFPILOT_HOME", "TFPILOT_CONFIG", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(HOME=home, TFPILOT_USER="alice", TFPILOT_REQUEST_TIME_TERRAFORM="0")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    subprocess.run([TFPILOT, "requests", "list"], cwd=home, env=env, capture_output=True)
    last = ""
    if requests:
        seeded = subprocess.run(
            [PYTHON, "-c", _SEED, str(requests)],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        last = seeded.stdout.strip().splitlines()[-1]
    return home, env, last


def wall_time(tree: Tree, args: list[str]) -> float:
    """Seconds one run takes (exit 0, or 9 for a policy finding, count as complete)."""
    home, env, request_id = tree
    args = [request_id if a == "REQUEST" else a for a in args]
    started = time.perf_counter()
    result = subprocess.run([TFPILOT, *args], cwd=home, env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 9):
        sys.exit(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-300:]!r}")
    return elapsed


def main() -> int:
    """Print before/after medians per command."""
    old = Path(sys.argv[1])
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    plugins = sorted(p for p in (old / "plugins").iterdir() if p.is_dir())
    before = prepare(":".join([str(old), *map(str, plugins)]), requests)
    after = prepare(None, requests)
    commands = [
        ("requests list", ["requests", "list"]),
        ("modules list", ["modules", "list"]),
        ("policy check", ["policy", "check", "tiny.json"]),
        ("--help", ["--help"]),
    ]
    if requests:
        commands += [
            ("requests show", ["requests", "show", "REQUEST"]),
            ("timeline", ["timeline", "REQUEST"]),
        ]
    print(f"requests in store: {requests}; load average {os.getloadavg()}")
    for name, args in commands:
        for _ in range(2):  # warm-ups: page cache, .pyc files, the CLI's caches
            wall_time(before, args)
            wall_time(after, args)
        old_times: list[float] = []
        new_times: list[float] = []
        for _ in range(runs):
            old_times.append(wall_time(before, args))
            new_times.append(wall_time(after, args))
        old_ms = statistics.median(old_times) * 1000
        new_ms = statistics.median(new_times) * 1000
        print(
            f"{name:15} before {old_ms:7.1f} ms  after {new_ms:7.1f} ms  "
            f"after/before {new_ms / old_ms:5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
