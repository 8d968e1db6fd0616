"""The PR comment, the plan's check run and SARIF, from the events a request goes through."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from gh_support import create, github_section

from tfpilot_core.models import (
    Approval,
    Conclusion,
    CostEstimate,
    Event,
    PlanSummary,
    PolicyFinding,
    PolicyLevel,
    RunAttempt,
    RunKind,
    RunStatus,
)
from tfpilot_runner_github.infra import InfraRepo
from tfpilot_runner_github.observer import GitHubObserver
from tfpilot_runner_github.plugin import infra_for
from tfpilot_runner_github.testing import GitHubStandIn

DIGEST = "ab" * 32


def planned(request: Any, findings: int = 2, *, failed: bool = False, summary: str = "") -> Any:
    """``request`` with a concluded plan attempt, findings, cost and a summary."""
    attempt = RunAttempt(
        id="plan-1-abcdef01",
        kind=RunKind.PLAN,
        number=1,
        runner="github",
        revision=request.revision,
        actor="alice",
        status=RunStatus.COMPLETED,
        conclusion=Conclusion.FAILURE if failed else Conclusion.SUCCESS,
        plan_digest=None if failed else DIGEST,
        error="Error: boom: the provider said no" if failed else None,
        url="https://github.test/acme/infra/actions/runs/7",
    )
    attempt = attempt.model_copy(update={"completed_at": attempt.created_at})
    levels = [PolicyLevel.BLOCKING, PolicyLevel.MANDATORY, PolicyLevel.ADVISORY]
    return request.model_copy(
        update={
            "runs": {RunKind.PLAN: [attempt]},
            "policy_findings": [
                PolicyFinding(
                    rule_id=f"rule-{i}",
                    level=levels[i % 3],
                    message=f"finding <{i}> | piped",
                    address="module.this.sandbox_bucket.this",
                )
                for i in range(findings)
            ],
            "cost": CostEstimate(monthly=Decimal("12.50"), previous=Decimal("10")),
            "summary": PlanSummary(text="s", markdown=summary or "**1 to create**"),
        }
    )


@pytest.fixture
def setup(make_platform: Any, standin: GitHubStandIn) -> tuple[Any, InfraRepo, GitHubObserver]:
    platform = make_platform(github=github_section(standin.url, sarif="true"))
    infra = infra_for(platform)
    return platform, infra, GitHubObserver(infra)


def event(request: Any, type_: str) -> Event:
    return Event(request_id=request.id, type=type_)


def test_comment_shows_what_a_reviewer_needs(setup: Any, standin: GitHubStandIn) -> None:
    platform, infra, observer = setup
    request = create(platform)
    infra.ensure_pr(request, [])
    request = planned(request)
    observer.on_event(event(request, "plan_succeeded"), request)
    [body] = [c["body"] for c in standin.repo.comments.values()]
    assert body.startswith(f"<!-- tfpilot:request:{request.id} -->")
    assert "is **plan_ready**" in body and f"Plan digest: `{DIGEST}`" in body
    assert "**1 to create**" in body and "Monthly: 12.50 USD (+2.50)" in body
    assert "| blocking | `rule-0` |" in body and "finding &lt;1&gt; \\| piped" in body
    assert "None yet." in body and "**Next:** approve with a review" in body
    assert infra.record(request.id).value["shown_digest"] == DIGEST
    approved = request.model_copy(
        update={"approvals": [Approval(actor="bob", revision=1, plan_digest=DIGEST)]}
    )
    observer.on_event(event(approved, "approved"), approved)
    [body] = [c["body"] for c in standin.repo.comments.values()]  # the same comment, updated
    assert "`bob` approved plan `abababababab`" in body and "is **approved**" in body
    observer.on_event(event(approved, "policy_evaluated"), approved)  # not a comment event
    assert len(standin.calls("PATCH", "/issues/comments/")) == 1


def test_failure_links_the_runbook(setup: Any, standin: GitHubStandIn) -> None:
    platform, infra, observer = setup
    request = create(platform)
    infra.ensure_pr(request, [])
    failed = planned(request, failed=True)
    observer.on_event(event(failed, "plan_failed"), failed)
    [body] = [c["body"] for c in standin.repo.comments.values()]
    assert "is **failed**" in body and "Error: boom" in body
    assert f"Runbook: {infra.settings.runbook_url}" in body


def test_check_run_annotations_and_sarif(setup: Any, standin: GitHubStandIn) -> None:
    platform, infra, observer = setup
    request = create(platform)
    record = infra.ensure_pr(request, [])
    request = planned(request, findings=75)
    observer.on_event(event(request, "plan_succeeded"), request)
    [check] = standin.repo.checks.values()
    assert check["head_sha"] == record["head_sha"] and check["conclusion"] == "failure"
    assert len(check["output"]["annotations"]) == 75
    assert {a["annotation_level"] for a in check["output"]["annotations"]} == {
        "failure",
        "warning",
        "notice",
    }
    assert check["external_id"] == f"{request.id}:plan-1-abcdef01"
    [sarif] = standin.sarifs
    assert sarif["ref"] == f"refs/heads/{record['branch']}"
    assert len(sarif["log"]["runs"][0]["results"]) == 75


def test_a_long_comment_is_trimmed_with_a_link(setup: Any, standin: GitHubStandIn) -> None:
    platform, infra, observer = setup
    request = create(platform)
    infra.ensure_pr(request, [])
    request = planned(request, summary="- `module.this.x` changes\n" * 5000)
    observer.on_event(event(request, "plan_succeeded"), request)
    [body] = [c["body"] for c in standin.repo.comments.values()]
    assert 60_000 < len(body) < 65_536
    assert body.endswith(f"Full text: https://tfpilot.test/requests/{request.id}\n")


def test_requests_without_a_pr_are_left_alone(setup: Any, standin: GitHubStandIn) -> None:
    platform, _, observer = setup
    request = planned(create(platform))
    observer.on_event(event(request, "plan_succeeded"), request)
    assert standin.calls() == []


def test_comment_carries_the_structured_diff_collapsed(setup: Any, standin: GitHubStandIn) -> None:
    from tfpilot_core import plan_diff
    from tfpilot_core.plan import Plan

    platform, infra, observer = setup
    request = create(platform)
    infra.ensure_pr(request, [])
    request = planned(request)
    change = {
        "address": "module.this.sandbox_bucket.this",
        "type": "sandbox_bucket",
        "name": "this",
        "mode": "managed",
        "change": {
            "actions": ["update"],
            "before": {"versioning": True, "secret": "s3cr3t-old"},
            "after": {"versioning": False, "secret": "s3cr3t-new"},
            "before_sensitive": {"secret": True},
            "after_sensitive": {"secret": True},
        },
    }
    masked = Plan.parse({"format_version": "1.2", "resource_changes": [change]}).masked()
    plan_diff.record(platform.store, request.id, DIGEST, masked)
    observer.on_event(event(request, "plan_succeeded"), request)
    [body] = [c["body"] for c in standin.repo.comments.values()]
    assert "<details><summary>Changes by resource</summary>" in body
    assert "| `versioning` | true | false |" in body
    assert "s3cr3t" not in body
