"""The ``rules`` summariser on synthetic plans: order, reasons, cost, findings, and no secrets."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import (
    CostEstimate,
    Placement,
    PolicyFinding,
    PolicyLevel,
    Request,
)
from tfpilot_core.plan import Plan
from tfpilot_core.summary_rules import (
    RulesSummarizer,
    changed_attributes,
    summarize_plan,
)

SECRETS = ("TOPSECRET-before", "TOPSECRET-after", "TOPSECRET-create", "TOPSECRET-drift", "hunter2")


def change(address: str, actions: list[str], **fields: Any) -> dict[str, Any]:
    """A ``resource_changes`` entry."""
    rtype, name = address.split(".")[-2:]
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/tfpilot/sandbox",
        "action_reason": fields.pop("action_reason", None),
        "change": {"actions": actions, **fields},
    }


PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.15.5",
    "variables": {"password": {"value": "hunter2"}},
    "resource_changes": [
        change(
            "module.this.sandbox_bucket.new",
            ["create"],
            before=None,
            after={"name": "new", "password": "TOPSECRET-create", "tags": {}},
            after_unknown={"id": True},
            after_sensitive={"password": True},
        ),
        change(
            "module.this.sandbox_bucket.swap",
            ["delete", "create"],
            action_reason="replace_because_cannot_update",
            replace_paths=[["name"], ["region"]],
            before={"name": "old", "region": "local-1", "secret": "TOPSECRET-before"},
            after={"name": "swap", "region": "local-2", "secret": "TOPSECRET-after"},
            before_sensitive={"secret": True},
            after_sensitive={"secret": True},
        ),
        change(
            "module.this.sandbox_queue.gone",
            ["delete"],
            action_reason="delete_because_no_resource_config",
            before={"name": "gone", "token": "TOPSECRET-before"},
            after=None,
            before_sensitive=True,
        ),
        change(
            "module.this.sandbox_instance.web",
            ["update"],
            before={"size": "small", "tags": {"a": "1"}, "key": "TOPSECRET-before", "same": 1},
            after={"size": "large", "tags": {"a": "2"}, "key": "TOPSECRET-after", "same": 1},
            before_sensitive={"key": True},
            after_sensitive={"key": True},
        ),
        change("module.this.sandbox_bucket.keep", ["no-op"], before={"a": 1}, after={"a": 1}),
    ],
    "resource_drift": [
        change(
            "module.this.sandbox_bucket.keep",
            ["update"],
            before={"public_access": False, "secret": "TOPSECRET-drift"},
            after={"public_access": True, "secret": "TOPSECRET-drift2"},
            before_sensitive={"secret": True},
            after_sensitive={"secret": True},
        )
    ],
    "output_changes": {
        "password": {
            "actions": ["create"],
            "before": None,
            "after": "TOPSECRET-after",
            "after_sensitive": True,
        },
        "id": {"actions": ["no-op"], "before": "x", "after": "x"},
    },
}


@pytest.fixture
def request_doc() -> Request:
    """The request the plan belongs to."""
    return Request(
        id="req_dev_bucket_abc234",
        placement=Placement(
            project="demo", environment="dev", module="sandbox/bucket", module_version="v1"
        ),
        inputs={"name": "new", "password": "hunter2"},
        created_by="alice",
    )


CONTEXT = SummaryContext(
    findings=[
        PolicyFinding(rule_id="tags.required", level=PolicyLevel.ADVISORY, message="add tags"),
        PolicyFinding(
            rule_id="no.public",
            level=PolicyLevel.BLOCKING,
            message="public <access> & *stars*",
            address="module.this.sandbox_bucket.keep",
        ),
    ],
    cost=CostEstimate(monthly=Decimal("32.30"), previous=Decimal("2.30"), currency="USD"),
)


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "raw-defensive"])
def test_no_sensitive_value_ever_appears(request_doc: Request, masked: bool) -> None:
    """Masked or (defensively) not, no value marked sensitive reaches text or Markdown."""
    plan = Plan.parse(copy.deepcopy(PLAN))
    if masked:
        plan = plan.masked(sensitive_inputs=["password"])
    summary = RulesSummarizer().summarize(request_doc, plan, CONTEXT)
    for secret in SECRETS:
        assert secret not in summary.text
        assert secret not in summary.markdown
    assert summary.summarizer == "rules"


def test_order_reasons_and_attribute_names(request_doc: Request) -> None:
    """Counts, destructive first with reasons, then creations and updates with names."""
    text, _ = summarize_plan(request_doc, Plan.parse(copy.deepcopy(PLAN)), CONTEXT)
    lines = text.splitlines()
    assert lines[0] == "Plan for req_dev_bucket_abc234 (sandbox/bucket in dev)"
    assert "Summary: 1 to replace, 1 to destroy, 1 to create, 1 to update in place." in lines
    order = [
        text.index("Destructive changes (2)"),
        text.index("DELETE module.this.sandbox_queue.gone"),
        text.index("REPLACE module.this.sandbox_bucket.swap"),
        text.index("To create (1)"),
        text.index("To update in place (1)"),
        text.index("Changed outside Terraform (1)"),
        text.index("Outputs changing (1)"),
        text.index("Cost"),
        text.index("Policy findings: 1 blocking, 0 mandatory, 1 advisory"),
    ]
    assert order == sorted(order)
    assert (
        "REPLACE module.this.sandbox_bucket.swap (sandbox_bucket): because an attribute that "
        "cannot change in place changes; forced by name, region"
    ) in text
    assert "because it is no longer in the configuration" in text
    assert (
        "UPDATE module.this.sandbox_instance.web (sandbox_instance): changes key (sensitive), "
        "size, tags"
    ) in text
    assert "module.this.sandbox_bucket.keep: public_access, secret (sensitive)" in text
    assert "32.30 USD per month (was 2.30 USD, +30.00 USD)" in text
    assert "[blocking] no.public on module.this.sandbox_bucket.keep" in text
    assert "no-op" not in text.lower()


def test_markdown_escapes_free_text(request_doc: Request) -> None:
    """Addresses are code spans; policy messages cannot inject Markdown or HTML."""
    _, markdown = summarize_plan(request_doc, Plan.parse(copy.deepcopy(PLAN)), CONTEXT)
    assert markdown.startswith("### Plan for `req_dev_bucket_abc234`")
    assert "`module.this.sandbox_bucket.swap`" in markdown
    assert "public \\<access\\> &amp; \\*stars\\*" in markdown
    assert "#### Destructive changes (2): review these first" in markdown
    assert "<access>" not in markdown


def test_summary_is_deterministic_and_handles_empty_plans(request_doc: Request) -> None:
    """Same input, same bytes; an empty plan says so; unknown costs say so."""
    plan = Plan.parse(copy.deepcopy(PLAN))
    assert summarize_plan(request_doc, plan, CONTEXT) == summarize_plan(request_doc, plan, CONTEXT)
    empty = Plan.parse({"format_version": "1.2"})
    context = SummaryContext(cost=CostEstimate(monthly=None, previous=Decimal(0)))
    text, markdown = summarize_plan(request_doc, empty, context)
    assert "No changes to infrastructure." in text
    assert "**No changes to infrastructure.**" in markdown
    assert "unknown per month (was 0.00 USD); some resources are priced by usage" in text


def test_sensitive_attributes_of_a_masked_plan_are_listed_as_hidden(request_doc: Request) -> None:
    """Masking makes both sides equal: the name is still listed, without a claim of change."""
    text, _ = summarize_plan(request_doc, Plan.parse(copy.deepcopy(PLAN)).masked(), CONTEXT)
    assert "changes key (sensitive, value hidden), size, tags" in text


def test_changed_attributes_never_reads_into_nested_keys() -> None:
    """Only top-level names: nested paths may run through user-chosen map keys."""
    plan = Plan.parse(
        {
            "format_version": "1.0",
            "resource_changes": [
                change(
                    "a.b",
                    ["update"],
                    before={"tags": {"customer-acme": "1"}},
                    after={"tags": {"customer-acme": "2"}},
                    after_unknown={"arn": True},
                )
            ],
        }
    )
    assert changed_attributes(plan.resource_changes[0]) == ["arn", "tags"]
