#!/usr/bin/env python3
"""Parse + mask + summarise a 10,000-resource plan, against ``json.loads`` of the same bytes.

The plan is generated in the shape ``terraform show -json`` prints (creates, updates with
sensitive attributes, replaces with reasons, deletes, drift). Every side starts from the same
bytes; the measurements are alternated in one process and the medians compared. tfpilot is
timed two ways: as the lifecycle does it (one pass, ``Plan.parse(data, masked=True)``: each
change masked as it is read) and in two steps (``Plan.parse(data).masked()``: the unmasked plan
kept too, for callers that need it), each followed by the rules summary. Target: the lifecycle's
at most 2x ``json.loads``.

Then peak memory on a plan of ``--memory-mb`` (50 MB): each pipeline in a fresh process that
reads the file, then runs once; the growth of its peak RSS is compared with ``json.loads``'s.
Target: at most 1.3x.

    python3 dev.py run python bench/plan_parse.py [--resources N] [--rounds R] [--memory-mb M]
        [--cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def resource(i: int) -> dict[str, Any]:
    """One resource change; the action rotates through create/update/replace/delete/no-op."""
    kind = i % 5
    address = f"module.app{i % 50}.aws_s3_bucket.b{i}"
    before = None if kind == 0 else {"bucket": f"b-{i}", "tags": {"team": "a"}, "secret": f"s{i}"}
    after = None if kind == 3 else {"bucket": f"b-{i}", "tags": {"team": "b"}, "secret": f"s{i}x"}
    actions = [["create"], ["update"], ["delete", "create"], ["delete"], ["no-op"]][kind]
    change: dict[str, Any] = {
        "actions": actions,
        "before": before,
        "after": after,
        "after_unknown": {"arn": True} if after else {},
        "before_sensitive": {"secret": True} if before else False,
        "after_sensitive": {"secret": True} if after else False,
    }
    if kind == 2:
        change["replace_paths"] = [["bucket"]]
    entry: dict[str, Any] = {
        "address": address,
        "module_address": f"module.app{i % 50}",
        "mode": "managed",
        "type": "aws_s3_bucket",
        "name": f"b{i}",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": change,
    }
    if kind == 2:
        entry["action_reason"] = "replace_because_cannot_update"
    return entry


def make_plan(count: int) -> bytes:
    """A plan document of ``count`` resource changes (and a few drifted ones)."""
    changes = [resource(i) for i in range(count)]
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": changes,
        "resource_drift": changes[:20],
        "output_changes": {"id": {"actions": ["create"], "before": None, "after": "x"}},
        "configuration": {"root_module": {}},
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    return json.dumps(doc).encode()


def _setup() -> tuple[Any, Any, Any, Any, Any]:
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import Placement, Request
    from tfpilot_core.plan import Plan
    from tfpilot_core.summary_rules import RulesSummarizer

    request = Request(
        id="req_dev_bench_abcdef",
        placement=Placement(
            project="bench", environment="dev", module="aws/s3-bucket", module_version="v"
        ),
        inputs={},
        created_by="bench",
    )
    return Plan, RulesSummarizer(), request, SummaryContext, json


def pipelines(data: bytes) -> dict[str, Callable[[], object]]:
    """What is timed, from the same bytes: the baseline and tfpilot's two ways."""
    plan_class, summarizer, request, context, _ = _setup()

    def lifecycle() -> str:
        # What judge_plan does (and the CLI's plan files): parse and mask in one pass, then
        # summarise the masked plan.
        plan = plan_class.parse(data, masked=True)
        return str(summarizer.summarize(request, plan, context()).text)

    def two_steps() -> str:
        # Parse, keep the unmasked plan, then mask a copy (callers that need both).
        plan = plan_class.parse(data).masked()
        return str(summarizer.summarize(request, plan, context()).text)

    return {"json.loads": lambda: json.loads(data), "lifecycle": lifecycle, "two steps": two_steps}


def _peak_child(path: str, which: str) -> None:
    """In a fresh process: read the plan, run one pipeline, print RSS at start and peak (KiB)."""
    import resource

    with open(path, "rb") as handle:
        data = handle.read()
    run = pipelines(data)[which]
    with open("/proc/self/statm") as statm:
        start = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    result = run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del result
    print(json.dumps({"start": start, "peak": peak}))


def memory(megabytes: float) -> None:
    """Peak memory of each pipeline on a plan of about ``megabytes``, each in a fresh process."""
    import subprocess
    import sys
    import tempfile

    per_resource = len(make_plan(1000)) / 1000
    count = int(megabytes * 1e6 / per_resource)
    data = make_plan(count)
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(data)
        handle.flush()
        print(f"peak memory, {count} resources, {len(data) / 1e6:.1f} MB, fresh process each:")
        found: dict[str, tuple[int, int]] = {}
        for which in ("json.loads", "lifecycle", "two steps"):
            out = subprocess.run(
                [sys.executable, __file__, "--peak-child", handle.name, which],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            got = json.loads(out)
            found[which] = (got["start"], got["peak"])
    base_start, base_peak = found["json.loads"]
    base_growth = base_peak - base_start
    for which, (start, peak) in found.items():
        growth = peak - start
        print(
            f"  {which:<12} grows {growth / 1024:7.1f} MiB (peak {peak / 1024:7.1f} MiB "
            f"from {start / 1024:6.1f}): {growth / base_growth:.2f}x json.loads"
        )
    start, peak = found["lifecycle"]
    ratio = (peak - start) / base_growth
    verdict = "within" if ratio <= 1.3 else "ABOVE"
    print(f"  lifecycle {ratio:.2f}x (target at most 1.3: {verdict})")


def main() -> None:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--memory-mb", type=float, default=50.0, help="0 skips the memory part")
    parser.add_argument(
        "--cpu", action="store_true", help="time CPU (process time), not wall clock"
    )
    parser.add_argument("--peak-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_child:
        _peak_child(*args.peak_child)
        return

    data = make_plan(args.resources)
    runs = pipelines(data)
    text = runs["lifecycle"]()
    assert "s1x" not in str(text), "a sensitive value reached the summary"
    assert runs["two steps"]() == text, "the two ways summarise differently"
    clock = time.process_time if args.cpu else time.perf_counter
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = clock()
            run()
            times[name].append(clock() - start)
    base = statistics.median(times["json.loads"])
    print(f"machine: {os.cpu_count()} cpu(s), Python {platform.python_version()}")
    size = len(data) / 1e6
    print(
        f"plan: {args.resources} resources, {size:.1f} MB; {args.rounds} alternated rounds; "
        f"clock: {'CPU time' if args.cpu else 'wall'}; load average {os.getloadavg()[0]:.1f}"
    )
    labels = {
        "json.loads": "json.loads",
        "lifecycle": "parse masked, summarise",
        "two steps": "parse, mask, summarise",
    }
    for name, found in times.items():
        median = statistics.median(found)
        print(f"  {labels[name]:<28} {median * 1000:8.1f} ms (median)  {median / base:5.2f}x")
    ratio = statistics.median(times["lifecycle"]) / base
    verdict = "within" if ratio <= 2 else "ABOVE"
    print(f"  lifecycle ratio {ratio:.2f} (what judge_plan does; target at most 2: {verdict})")
    if args.memory_mb:
        memory(args.memory_mb)


if __name__ == "__main__":
    main()
