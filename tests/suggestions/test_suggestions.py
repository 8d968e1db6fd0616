"""Suggestions on the sandbox and AWS modules: each clears what it claims (policy re-run on the
patched inputs), is valid against the module schema, and applying one makes a new revision."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import pytest

from tfpilot_core import hookimpl
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import ForbiddenError, NotFoundError, PluginError
from tfpilot_core.platform import Platform
from tfpilot_core.suggestions import Proposal, SuggestionContext
from tfpilot_core.suggestions.service import SuggestionReport

from .conftest import findings_on

Make = Callable[..., Platform]
OPT_OUT = {"rule_id": "public_access.blocked", "justification": "a public demo web server"}


def check_claims(platform: Platform, request_id: str, report: SuggestionReport) -> None:
    """Every suggestion is valid and clears each request-stage finding it lists, re-judged."""
    request = platform.get(request_id)
    spec = platform.catalog.get(request.placement.module)
    before = findings_on(platform, request, request.inputs)
    for suggestion in report.suggestions:
        patched = normalize_inputs(
            spec,
            suggestion.patch,
            previous=request.inputs,
            request_id=request.id,
            server_tags={k: v for k, v in request.inputs.get("tags", {}).items() if ":" in k},
        )
        after = findings_on(platform, request, patched)
        for ref in suggestion.clears:
            if ref.stage == "request":
                key = (ref.rule_id, ref.address or "")
                assert key in before, f"{suggestion.id} claims {key}, which was not there"
                assert key not in after, f"{suggestion.id} does not clear {key}"


def by_id(report: SuggestionReport) -> dict[str, Any]:
    return {s.id: s for s in report.suggestions}


def test_sandbox_instance_public_and_large_in_dev(make_platform: Make) -> None:
    platform = make_platform()
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "large", "public_ip": True},
        opt_outs=[OPT_OUT],
    )
    report = platform.suggestions.for_request("alice", request.id)
    found = by_id(report)
    assert set(found) == {"public-access-off", "smaller-size"}, report.rejected
    assert found["public-access-off"].patch == {"public_ip": False}
    assert found["public-access-off"].kind == "safer"
    assert [(r.rule_id, r.address) for r in found["public-access-off"].clears] == [
        ("public_access.blocked", "inputs.public_ip")
    ]
    # The opt-out it made necessary is no longer needed with the patch.
    assert found["public-access-off"].unused_opt_outs == ["public_access.blocked"]
    assert found["smaller-size"].patch == {"size": "small"}
    assert ("size.allowed", "inputs.size") in {
        (r.rule_id, r.address) for r in found["smaller-size"].clears
    }
    assert report.what_if is False and "not planned" in report.what_if_note
    check_claims(platform, request.id, report)


def test_aws_modules(make_platform: Make) -> None:
    platform = make_platform()
    cases: list[tuple[str, str, dict[str, Any], dict[str, dict[str, Any]]]] = [
        (
            "aws/s3-bucket",
            "prod",
            {"name": "acme-data", "versioning_enabled": False},
            {"versioning-on": {"versioning_enabled": True}},
        ),
        (
            "aws/s3-bucket",
            "dev",
            {"name": "acme-scratch"},
            {"lifecycle-expiry": {}},
        ),
        (
            "aws/sqs-queue",
            "prod",
            {"name": "orders", "dlq_enabled": False},
            {"dead-letter-on": {"dlq_enabled": True}},
        ),
        (
            "aws/cloudwatch-log-group",
            "dev",
            {"name": "app-orders", "retention_in_days": 365},
            {"shorter-retention": {"retention_in_days": 30}},
        ),
        (
            "aws/ecr-repo",
            "dev",
            {"name": "orders"},
            {"shorter-retention": {"untagged_image_expiry_days": 7, "max_image_count": 30}},
        ),
    ]
    for module, env, inputs, expected in cases:
        request = platform.create(
            "alice", module=module, environment=env, project="shop", inputs=inputs
        )
        report = platform.suggestions.for_request("alice", request.id)
        found = by_id(report)
        assert set(found) == set(expected), (module, env, report.rejected)
        for sid, patch in expected.items():
            if patch:
                assert found[sid].patch == patch, (module, sid)
        check_claims(platform, request.id, report)
    # The pack's findings are the ones these suggestions claim, and they clear them.
    rules = {
        r.rule_id
        for req in platform.list("alice").items
        for s in platform.suggestions.for_request("alice", req.id).suggestions
        for r in s.clears
    }
    assert rules == {"test.versioning_prod", "test.dlq_prod", "test.retention_dev"}
    lifecycle = [
        s
        for req in platform.list("alice").items
        for s in platform.suggestions.for_request("alice", req.id).suggestions
        if s.id == "lifecycle-expiry"
    ]
    # Normalised against the schema: the optional attributes of the object got their defaults.
    assert lifecycle[0].patch["lifecycle_rules"][0]["abort_incomplete_multipart_upload_days"] == 7


def test_proposals_are_checked_before_they_are_shown(make_platform: Make) -> None:
    class Liar:
        """Proposes an unknown key, a wrong type, a fix that fixes nothing, and raises."""

        def __init__(self, sid: str, patch: dict[str, Any] | None) -> None:
            self.id = sid
            self.patch = patch

        def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
            if self.patch is None:
                raise RuntimeError("suggester exploded")
            yield Proposal("t", "r", "cheaper", self.patch)

    suggesters = [
        Liar("unknown-key", {"colour": "blue"}),
        Liar("wrong-type", {"public_ip": "sometimes"}),
        Liar("no-fix", {"size": "xlarge"}),
        Liar("no-change", {"size": "large"}),
        Liar("immutable", {"region": "local-2"}),
        Liar("raises", None),
    ]

    @hookimpl(optionalhook=True)
    def tfpilot_register_suggesters(host: Any) -> list[Any]:
        return suggesters

    plugin = SimpleNamespace(tfpilot_register_suggesters=tfpilot_register_suggesters)
    platform = make_platform(extra_plugins=[("liars", plugin)])
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "large"},
    )
    report = platform.suggestions.for_request("alice", request.id)
    assert {s.id for s in report.suggestions} == {"smaller-size"}
    reasons = {r.id: r.reason for r in report.rejected}
    assert "unknown_key" in reasons["unknown-key"] or "not an input" in reasons["unknown-key"]
    assert "schema" in reasons["wrong-type"]
    assert "leaves findings on the inputs it patches: size.allowed" in reasons["no-fix"]
    assert reasons["no-change"] == "the patch changes nothing"
    assert "schema" in reasons["immutable"]
    assert "raises" not in reasons  # skipped and logged: suggestions are advice
    assert all(r.source == "liars" for r in report.rejected)

    # Two suggesters with one id are refused, naming both.
    suggesters.append(Liar("smaller-size", {"size": "small"}))
    with pytest.raises(PluginError, match="'core' and 'liars'"):
        platform.suggestions.for_request("alice", request.id)


def test_reads_are_authorized_and_stale_ids_refused(make_platform: Make) -> None:
    platform = make_platform()
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "medium"},
    )
    with pytest.raises(ForbiddenError):
        platform.suggestions.for_request("mallory", request.id)
    with pytest.raises(NotFoundError, match="smaller-size"):
        platform.suggestions.apply("alice", request.id, "public-access-off")
    updated = platform.suggestions.apply("alice", request.id, "smaller-size")
    assert updated.revision == 2 and updated.inputs["size"] == "small"
    # Applied: the suggestion is gone for the new revision.
    assert platform.suggestions.for_request("alice", request.id).suggestions == []
    events = [e.type for e in platform.timeline("alice", request.id)]
    assert "suggestion_applied" in events


@pytest.mark.slow
def test_after_a_plan_cost_and_plan_policy_come_from_what_if_plans(make_platform: Make) -> None:
    from decimal import Decimal

    from tfpilot_sandbox.cost import monthly_price

    platform = make_platform()
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "large", "public_ip": True},
        opt_outs=[OPT_OUT],
    )
    planned = platform.plan("alice", request.id)
    assert planned.cost is not None
    # A viewer sees the suggestions, but does not get Terraform run for them.
    viewed = platform.suggestions.for_request("victor", request.id)
    assert not viewed.what_if and "right to plan" in viewed.what_if_note
    assert {s.id for s in viewed.suggestions} == {"public-access-off", "smaller-size"}
    with pytest.raises(ForbiddenError):
        platform.suggestions.for_request("victor", request.id, what_if=True)
    report = platform.suggestions.for_request("alice", request.id)
    assert report.what_if, report.what_if_note
    found = by_id(report)
    large = monthly_price("sandbox_instance", {"size": "large", "public_ip": True})
    small = monthly_price("sandbox_instance", {"size": "small", "public_ip": True})
    private = monthly_price("sandbox_instance", {"size": "large", "public_ip": False})
    assert large is not None and small is not None and private is not None
    size = found["smaller-size"].cost
    assert size is not None and size.before == large and size.after == small
    assert size.delta == small - large < Decimal(0)
    public = found["public-access-off"]
    assert public.cost is not None and public.cost.delta == private - large
    # The plan-stage finding on the instance itself is cleared too, judged on the what-if plan.
    assert ("public_access.blocked", "plan") in {(r.rule_id, r.stage) for r in public.clears}
    # No working directory of a what-if plan is left behind.
    work = platform.config.home / "work"
    assert sorted(p.name for p in work.iterdir()) == [request.id]

    # Applying makes a new revision: the approval-bound plan is void, and it is planned again.
    updated = platform.suggestions.apply("alice", request.id, "smaller-size")
    assert updated.revision == 2
    latest = updated.latest(__import__("tfpilot_core.models").models.RunKind.PLAN)
    assert latest is not None and latest.revision == 2 and latest.plan_digest
    assert updated.cost is not None and updated.cost.monthly == small


def test_a_cheaper_proposal_that_is_not_cheaper_is_rejected(make_platform: Make) -> None:
    class Retagger:
        """Calls a tag change "cheaper" (issue 28: a "cheaper" suggestion at +0.00 USD)."""

        id = "retag-cheaper"

        def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
            yield Proposal("Cheaper tags", "tags cost less", "cheaper", {"tags": {"team": "x"}})

    @hookimpl(optionalhook=True)
    def tfpilot_register_suggesters(host: Any) -> list[Any]:
        return [Retagger()]

    plugin = SimpleNamespace(tfpilot_register_suggesters=tfpilot_register_suggesters)
    platform = make_platform(extra_plugins=[("retag", plugin)])
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "large"},
    )
    # Before a plan the cost effect is unknown: offered, with the cost unknown.
    unplanned = platform.suggestions.for_request("alice", request.id)
    assert "retag-cheaper" in by_id(unplanned)
    platform.plan("alice", request.id)
    report = platform.suggestions.for_request("alice", request.id)
    assert report.what_if, report.what_if_note
    assert "retag-cheaper" not in by_id(report)
    reasons = {r.id: r.reason for r in report.rejected}
    assert reasons["retag-cheaper"] == "offered as cheaper, but its cost effect is +0.00 USD/month"
    # The real cheaper one is still offered, with a negative effect.
    size = by_id(report)["smaller-size"].cost
    assert size is not None and size.delta is not None and size.delta < 0
