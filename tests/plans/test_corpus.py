"""Every ``terraform show -json`` document: each format version, each provider shape.

Each hand-written document (see ``corpus_documents.py``) is parsed, counted, masked, summarised
by the rules summariser and judged by the built-in policy; none may be refused or crash.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import Environment
from tfpilot_core.plan import Plan, PlanError
from tfpilot_core.summary_rules import summarize_plan
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings

sys.path.insert(0, str(Path(__file__).parent))
from corpus_documents import CASES, REQUIRED_TAGS, Case

PROD = Environment(key="prod", slug="production", protected=True)


def engine() -> BuiltinPolicyEngine:
    """The built-in rules with a naming pattern every corpus name meets and one required tag."""
    return BuiltinPolicyEngine(
        PolicySettings.model_validate(
            {"required_tags": REQUIRED_TAGS, "naming_pattern": "[a-z][a-z0-9-]*"}
        )
    )


def read(case: Case) -> tuple[Plan, str, set[tuple[str, str | None]]]:
    """Parse, mask, summarise and judge one document, as the CLI does."""
    plan = Plan.parse(json.dumps(case.document))
    masked = plan.masked()
    findings = engine().evaluate_plan(plan, PROD)
    text, markdown = summarize_plan(
        make_request("req-1"), masked, SummaryContext(findings=findings)
    )
    return masked, text + markdown, {(f.rule_id, f.address) for f in findings}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_document_is_read(case: Case) -> None:
    masked, summary, findings = read(case)
    assert {a.value: n for a, n in masked.counts().items()} == case.counts
    assert masked.format_version == case.document["format_version"]
    for item in case.document["resource_changes"]:
        if item["change"]["actions"] != ["no-op"]:
            assert item["address"] in summary
    assert findings == case.findings
    dumped = json.dumps(
        [[c.before, c.after] for c in masked.resource_changes + masked.resource_drift]
        + [[o.before, o.after] for o in masked.output_changes]
        + [dict(masked.raw), summary],
        default=str,
    )
    for secret in case.secrets:
        assert secret not in dumped


def test_format_0_1_sensitive_output_is_masked_from_planned_values() -> None:
    [case] = [c for c in CASES if c.name == "format-0.1"]
    plan = Plan.parse(case.document)
    assert plan.output_changes[0].sensitive
    assert plan.masked().output_changes[0].after == "(sensitive)"


def test_format_0_2_drift_paths() -> None:
    [case] = [c for c in CASES if c.name == "format-0.2"]
    assert Plan.parse(case.document).drifted_paths() == {"aws_db_instance.main": ["tags.team"]}


def test_gcp_network_tags_are_skipped_with_the_reason_logged(
    log_capture: list[dict[str, object]],
) -> None:
    [case] = [c for c in CASES if c.name == "gcp-network-tags"]
    read(case)
    [skipped] = [e for e in log_capture if e["event"] == "policy_tags_skipped"]
    assert skipped["address"] == "google_compute_instance.web"
    assert "network tags" in str(skipped["reason"])


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("0.1", True),
        ("0.2", True),
        ("1.0", True),
        ("1.2", True),
        ("1.99", True),
        ("0.0", False),
        ("2.0", False),
        ("10.1", False),
        ("one", False),
        ("1", False),
    ],
)
def test_format_versions(version: str, accepted: bool) -> None:
    document = {"format_version": version}
    if accepted:
        assert Plan.parse(document).format_version == version
        return
    with pytest.raises(PlanError) as info:
        Plan.parse(document)
    assert info.value.problems[0].field == "format_version"
    assert "\n" not in info.value.message  # one problem, one line
    if version.startswith(("2", "10")):
        assert "newer major version" in info.value.message
