#!/usr/bin/env python3
"""Fact extraction + prompt building for a 10,000-resource plan, against ``json.loads`` of it.

The plan has the shape of ``bench/plan_parse.py``'s resources (sensitive attributes, replaces
with ``replace_paths``, drift) but the mix of a large real change: mostly creations and updates,
30 destroys or replacements. (With ``--destructive-every 5``, plan_parse's mix of 40% deletes and
replacements, the prompt cannot hold every destructive change and the summariser falls back to
the rules summary, "over budget": that is measured too.) The summariser receives a parsed,
masked plan (the platform parses and masks once for policy, cost and summary), so the measured
work is what the ``llm`` summariser adds: :func:`tfpilot_core.facts.extract_facts` (which
includes the rules summary) and fitting the prompt to its budget with litellm's
``token_counter``. Both sides are alternated in one process and the medians compared.
Target: at most 2x ``json.loads``; the prompt stays under ``max_prompt_tokens``.

    .venv/bin/python bench/summary.py [--resources N] [--rounds R] [--budget TOKENS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    """Run the benchmark and print the medians, the ratio and the prompt size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--destructive-every", type=int, default=333)
    args = parser.parse_args()

    from plan_parse import resource

    from tfpilot_core.facts import FactsExtractor, extract_facts
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import (
        CostEstimate,
        Placement,
        PolicyFinding,
        PolicyLevel,
        Request,
    )
    from tfpilot_core.plan import Plan
    from tfpilot_summarize_llm.settings import LLMSettings
    from tfpilot_summarize_llm.summarizer import AnswerRejected, LLMSummarizer, _import_litellm

    def change(i: int) -> dict[str, Any]:
        # plan_parse rotates create/update/replace/delete/no-op; keep its replaces and deletes
        # only every ``destructive_every`` resources.
        entry = resource(i)
        if i % 5 in (2, 3) and i % args.destructive_every >= 5:
            entry = resource(i - (i % 5) + (0 if i % 5 == 2 else 1))
            entry["address"] = entry["address"].rsplit(".", 1)[0] + f".b{i}"
        return entry

    changes = [change(i) for i in range(args.resources)]
    drift = [dict(c, change=dict(c["change"], actions=["update"])) for c in changes[1:500:10]]
    raw = json.dumps(
        {
            "format_version": "1.2",
            "terraform_version": "1.15.5",
            "resource_changes": changes,
            "resource_drift": drift,
        }
    ).encode()
    plan = Plan.parse(json.loads(raw)).masked()
    request = Request(
        id="req_dev_bucket_abc234",
        placement=Placement(
            project="shop", environment="dev", module="aws/s3-bucket", module_version="1"
        ),
        inputs={"name": "logs-abc234"},
        created_by="alice",
    )
    findings = [
        PolicyFinding(
            rule_id="tags.required",
            level=PolicyLevel.MANDATORY,
            message="missing required tags: owner",
            address=c.address,
        )
        for c in plan.resource_changes[:500]
    ]
    context = SummaryContext(
        findings=findings, cost=CostEstimate(monthly=Decimal("1234.50"), previous=Decimal("1000"))
    )
    settings = LLMSettings(model="openai/gpt-4o-mini", max_prompt_tokens=args.budget)
    summarizer = LLMSummarizer(settings, Path("/nonexistent"))
    litellm = _import_litellm()  # once, outside the timings (as in a long-running process)

    def facts_and_prompt() -> tuple[int, int]:
        try:
            _, messages, tokens = summarizer.fit(FactsExtractor(request, plan, context))
        except AnswerRejected:
            return -1, 0  # over budget: the rules summary is used
        return tokens, len(json.dumps(messages))

    facts_and_prompt()
    json.loads(raw)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        _, chars = facts_and_prompt()
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        json.loads(raw)
        base.append(time.perf_counter() - started)
    facts = extract_facts(request, plan, context)
    try:
        fitted, messages, _ = summarizer.fit(FactsExtractor(request, plan, context))
    except AnswerRejected as exc:
        fitted, messages = None, []
        print(f"no prompt: {exc} -> the rules summary is used")
    counted = litellm.token_counter(model=settings.model, messages=messages) if messages else 0
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"plan: {args.resources} resource changes, {len(raw) / 1e6:.1f} MB of JSON")
    print(
        f"json.loads:                median {statistics.median(base) * 1000:7.1f} ms "
        f"(min {min(base) * 1000:.1f})"
    )
    print(
        f"facts + prompt (budgeted): median {statistics.median(ours) * 1000:7.1f} ms "
        f"(min {min(ours) * 1000:.1f})"
    )
    print(f"ratio: {ratio:.2f}x (target <= 2x)")
    if fitted is not None:
        print(
            f"prompt: {counted} tokens (litellm.token_counter, budget {args.budget}), "
            f"{chars} characters; destructive changes kept: {len(fitted.destructive)} of "
            f"{len(facts.destructive)}; left out: {fitted.omitted}"
        )
    if counted > args.budget:
        raise SystemExit("prompt over budget")


if __name__ == "__main__":
    main()
