"""How fast is reading an Infracost document, compared with ``json.loads`` of the same bytes?

Run with the project's interpreter (tfpilot-cost-infracost installed)::

    .venv/bin/python bench/cost.py [--resources 5000] [--runs 7]

It builds a version "0.2" document shaped like Infracost's diff output (two projects, a past
breakdown and a diff, two cost components per resource, a sub-resource on every third resource,
a usage-based component without usage on every fifth), then times, alternately so that a noisy
machine slows all alike:

1. ``json.loads`` of the bytes (the baseline);
2. :func:`parse_report` (decode with ``parse_float=Decimal``, every money value to ``Decimal``,
   every shape checked);
3. :func:`parse_estimate` (the above, then the core's ``CostEstimate`` with every line, and the
   components of the most changed and the unknown ones).

It prints min and median of each and the ratios of the medians (target for ``parse_report``: at
most 3x). Printed, not asserted: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tfpilot_cost_infracost.parse import parse_estimate, parse_report


def component(name: str, monthly: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "unit": "hours",
        "hourlyQuantity": None if monthly is None else "1",
        "monthlyQuantity": None if monthly is None else "730",
        "price": "0.0416",
        "hourlyCost": None if monthly is None else "0.0416",
        "monthlyCost": monthly,
    }


def resource(i: int, scale: str) -> dict[str, Any]:
    comps = [component("Instance usage (Linux/UNIX, on-demand)", f"{30 + i % 97}.{scale}7")]
    comps.append(component("CPU credits", "0.50"))
    if i % 5 == 0:
        comps.append(component("Requests", None) | {"usageBased": True})
    entry: dict[str, Any] = {
        "name": f"module.app{i % 40}.aws_instance.web[{i}]",
        "resourceType": "aws_instance",
        "metadata": {"calls": [{"blockName": "aws_instance.web", "filename": "main.tf"}]},
        "hourlyCost": "0.0485",
        "monthlyCost": f"{30.5 + i % 97:.2f}",
        "costComponents": comps,
    }
    if i % 3 == 0:
        entry["subresources"] = [
            {
                "name": "root_block_device",
                "resourceType": "root_block_device",
                "metadata": {},
                "hourlyCost": "0.0068",
                "monthlyCost": "5",
                "costComponents": [component("Storage (general purpose SSD, gp3)", "5")],
            }
        ]
    return entry


def document(resources: int) -> bytes:
    half = resources // 2
    projects = []
    for p, (start, stop) in enumerate(((0, half), (half, resources))):
        now = [resource(i, "4") for i in range(start, stop)]
        past = [resource(i, "1") for i in range(start, stop)]
        projects.append(
            {
                "name": f"infra/project-{p}",
                "metadata": {"path": f"project-{p}/plan.json", "type": "terraform_plan_json"},
                "pastBreakdown": {"resources": past, "totalMonthlyCost": "1000.00"},
                "breakdown": {"resources": now, "totalMonthlyCost": "1100.00"},
                "diff": {"resources": now[: len(now) // 4], "totalMonthlyCost": "100.00"},
            }
        )
    doc = {
        "version": "0.2",
        "currency": "USD",
        "projects": projects,
        "totalMonthlyCost": "2200.00",
        "pastTotalMonthlyCost": "2000.00",
        "diffTotalMonthlyCost": "200.00",
        "timeGenerated": "2026-01-01T00:00:00Z",
        "summary": {"totalDetectedResources": resources},
    }
    return json.dumps(doc).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    raw = document(args.resources)
    cases: dict[str, Callable[[], object]] = {
        "json.loads": lambda: json.loads(raw),
        "parse_report": lambda: parse_report(raw),
        "parse_estimate": lambda: parse_estimate(raw),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, run in cases.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    estimate = parse_estimate(raw)
    print(
        f"document: {args.resources} resources (+ past breakdown and diff), "
        f"{len(raw) / 1e6:.1f} MB; {len(estimate.lines)} lines, "
        f"{sum(len(line.components) for line in estimate.lines)} components"
    )
    base = statistics.median(times["json.loads"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<15} min {min(values) * 1000:7.1f} ms  median {median * 1000:7.1f} ms  "
            f"ratio {median / base:4.2f}x"
        )
    ratio = statistics.median(times["parse_report"]) / base
    print(f"parse_report / json.loads = {ratio:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
