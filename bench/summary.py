#!/usr/bin/env python3
"""Fact extraction + prompt building for a 10,000-resource plan, against ``json.loads`` of it.

The plan has the shape of ``bench/plan_parse.py``'s resources (sensitive attributes, replaces
with ``replace_paths``, drift) but the mix of a large real change: mostly creations and updates,
30 destroys or replacements. (With ``--destructive-every 5``, plan_parse's mix of 40% deletes and
replacements, the prompt cannot hold every destructive change and the summariser falls back to
the rules summary, "over budget": that is measured too.) The summariser receives a parsed,
masked plan (the platform parses and masks once for policy, cost and summary), so the measured
work is what the ``llm`` summariser adds: :func:`tfpilot_core.plan_facts.extract_facts` (which
includes the rules summary) and fitting the prompt to its budget with litellm's
``token_counter``. Both sides are alternated in one process and the medians compared.
Target: at most 2x ``json.loads``; the prompt stays under ``max_prompt_tokens``. The facts carry
attribute changes (paths with masked before/after values) for every listed resource.

``--plans P`` adds the second measure (issue 28): a real plan of a sandbox bucket (real
Terraform, the embedded engine) in a fresh process each time, with the rules summariser and
with the ``llm`` summariser pointed at an unreachable model server (``timeout_seconds`` 5,
litellm not yet imported, as in a CLI process). Target: the plan with the unreachable model
takes at most its timeout plus 110% of the plan without a model.

    .venv/bin/python bench/summary.py [--resources N] [--rounds R] [--budget TOKENS] [--plans P]
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
    parser.add_argument("--plans", type=int, default=0, help="plans per summariser (0: skip)")
    args = parser.parse_args()
    if args.plans:
        plans(args.plans)

    from plan_parse import resource

    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import (
        CostEstimate,
        Placement,
        PolicyFinding,
        PolicyLevel,
        Request,
    )
    from tfpilot_core.plan import Plan
    from tfpilot_core.plan_facts import FactsExtractor, extract_facts
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


#: Run in a fresh process: one plan of a sandbox bucket, its duration printed as JSON.
_PLAN_ONE = """
import json, sys, time
from tfpilot_core.platform import Platform
environ = {"TFPILOT_HOME": sys.argv[1], "TFPILOT_CONFIG": sys.argv[2]}
platform = Platform.from_config(environ=environ)
request = platform.create("alice", module="sandbox/bucket", environment="dev", project="shop",
                          inputs={"name": "bench"})
started = time.perf_counter()
planned = platform.plan("alice", request.id)
took = time.perf_counter() - started
print(json.dumps({"seconds": took, "summarizer": planned.summary.summarizer,
                  "reason": planned.summary.fallback_reason}))
"""


def plans(count: int) -> None:
    """Time ``count`` plans each with the rules summariser and an unreachable model."""
    import socket
    import subprocess
    import tempfile

    timeout = 5.0
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        configs = {
            "rules": "",
            "llm, unreachable": (
                '[core]\nsummarizer = "llm"\n[plugins.summarize_llm]\n'
                f'model = "openai/gpt-4o-mini"\napi_base = "{url}"\napi_key = "sk-bench"\n'
                f"timeout_seconds = {timeout}\n"
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in configs}
        reasons: set[str] = set()
        for _ in range(count):
            for name, extra in configs.items():
                with tempfile.TemporaryDirectory() as tmp:
                    config = Path(tmp) / "tfpilot.toml"
                    config.write_text('[users.alice]\nrole = "developer"\n' + extra)
                    env = {**os.environ, "HOME": tmp, "TF_CLI_CONFIG_FILE": f"{tmp}/none.tfrc"}
                    out = subprocess.run(
                        [sys.executable, "-c", _PLAN_ONE, tmp, str(config)],
                        capture_output=True,
                        text=True,
                        env=env,
                        timeout=600,
                        check=True,
                    )
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    times[name].append(result["seconds"])
                    if result["reason"]:
                        reasons.add(result["reason"])
    rules = statistics.median(times["rules"])
    llm = statistics.median(times["llm, unreachable"])
    bound = timeout + 1.1 * rules
    print(f"plans ({count} each, fresh processes, real Terraform, load {os.getloadavg()[0]:.1f}):")
    print(f"  rules summariser:            median {rules:6.2f} s {sorted(times['rules'])}")
    print(f"  llm, unreachable, timeout 5: median {llm:6.2f} s {sorted(times['llm, unreachable'])}")
    verdict = "met" if llm <= bound else "NOT met"
    print(f"  bound (timeout + 110% of rules): {bound:.2f} s -> {verdict}")
    print(f"  recorded reasons: {sorted(reasons)}")


if __name__ == "__main__":
    main()
