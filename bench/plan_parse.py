#!/usr/bin/env python3
"""Parse + mask + summarise a 10,000-resource plan, against ``json.loads`` of the same bytes.

The plan is generated in the shape ``terraform show -json`` prints (creates, updates with
sensitive attributes, replaces with reasons, deletes, drift). Both sides start from the same
bytes; the two measurements are alternated in one process and the medians compared.
Target: tfpilot at most 3x ``json.loads``.

    python3 dev.py run python bench/plan_parse.py [--resources N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
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


def main() -> None:
    """Run the benchmark and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import Placement, Request
    from tfpilot_core.plan import Plan
    from tfpilot_core.summary_rules import RulesSummarizer

    data = make_plan(args.resources)
    request = Request(
        id="req_dev_bench_abcdef",
        placement=Placement(
            project="bench", environment="dev", module="aws/s3-bucket", module_version="v"
        ),
        inputs={},
        created_by="bench",
    )
    summarizer = RulesSummarizer()

    def tfpilot() -> str:
        plan = Plan.parse(data).masked()
        return summarizer.summarize(request, plan, SummaryContext()).text

    text = tfpilot()
    assert "s1x" not in text, "a sensitive value reached the summary"
    baseline, ours = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        json.loads(data)
        baseline.append(time.perf_counter() - start)
        start = time.perf_counter()
        tfpilot()
        ours.append(time.perf_counter() - start)
    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"machine: {os.cpu_count()} cpu(s), Python {platform.python_version()}")
    size = len(data) / 1e6
    print(f"plan: {args.resources} resources, {size:.1f} MB; {args.rounds} alternated rounds")
    print(f"  json.loads                     {b * 1000:8.1f} ms (median)")
    print(f"  parse + mask + summarise       {o * 1000:8.1f} ms (median)")
    verdict = "within" if o / b <= 3 else "ABOVE"
    print(f"  ratio {o / b:.2f} (target at most 3: {verdict})")


if __name__ == "__main__":
    main()
