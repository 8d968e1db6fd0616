"""The Actions job and ``tfpilot apply`` share one apply gate (tfpilot_core.lifecycle.applying).

The job used to keep a weaker copy of the gate: it refused only when there was no approval and
the environment was not ``auto_apply``. Here a plan with a mandatory finding, not approved, in an
``auto_apply`` environment is refused by ``tfpilot apply``; an apply attempt dispatched for it
anyway (by hand, or by an older dispatcher) must be refused by the job with the same words, the
attempt recorded as failed, and nothing applied.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from gh_support import USERS, create, github_section

from tfpilot_core.errors import ConflictError, NotFoundError
from tfpilot_core.models import Conclusion, PolicyFinding, PolicyLevel, RunKind, RunStatus
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration
from tfpilot_core.runs.executor import execute_apply, execute_plan
from tfpilot_core.testing import plugin_with
from tfpilot_core.testing.fixtures import PlatformFactory
from tfpilot_runner_github.testing import GitHubStandIn


class _NeedsAReviewer:
    """A policy engine that makes every plan carry one mandatory finding."""

    def evaluate(self, subject: Any) -> list[PolicyFinding]:
        if subject.stage != "plan":
            return []
        return [
            PolicyFinding(
                rule_id="probe.review",
                level=PolicyLevel.MANDATORY,
                message="a reviewer must accept this change",
            )
        ]


def _platform(tfpilot_platform: PlatformFactory, url: str) -> Platform:
    probe = plugin_with(
        "tfpilot_register_policy_engines",
        lambda: [Registration(name="probe", factory=lambda settings, context: _NeedsAReviewer())],
    )
    return tfpilot_platform(
        '[core]\nrunner = "github"\npolicy_engines = ["probe"]\n'
        'environments = [{ key = "dev", auto_apply = true }, { key = "prod", protected = true }]\n'
        + USERS
        + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        + github_section(url),
        users="",
        extra_plugins=[("probe", probe)],
    )


@pytest.mark.slow
def test_the_job_refuses_an_unapproved_plan_with_a_mandatory_finding_as_apply_does(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch, standin: GitHubStandIn
) -> None:
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)
    platform = _platform(tfpilot_platform, standin.url)
    request = platform.plan("alice", create(platform).id)
    planned = execute_plan(platform, request.id, request.latest(RunKind.PLAN).id)
    plan = planned.latest(RunKind.PLAN)
    assert plan.conclusion is Conclusion.SUCCESS and plan.plan_digest
    assert [f.level for f in planned.policy_findings] == [PolicyLevel.MANDATORY]

    # The local path: auto_apply stays inside policy, so this plan needs an approver.
    with pytest.raises(ConflictError) as local:
        platform.apply("carol", request.id)
    assert "auto_apply stays inside policy" in local.value.message

    # An apply attempt for the same plan, dispatched to a job all the same.
    kernel = platform.kernel
    _, attempt = kernel.start_attempt(
        request.id,
        RunKind.APPLY,
        "carol",
        "github",
        queued=True,
        plan_digest=plan.plan_digest,
        module_version=plan.module_version,
    )
    with pytest.raises(ConflictError) as job:
        execute_apply(platform, request.id, attempt.id)
    assert job.value.message == local.value.message

    after = platform.get(request.id)
    refused = after.latest(RunKind.APPLY)
    assert refused.id == attempt.id and refused.status is RunStatus.COMPLETED
    assert refused.conclusion is Conclusion.FAILURE
    assert "auto_apply stays inside policy" in (refused.error or "")
    events = [e.type for e in platform.timeline("carol", request.id)]
    assert "apply_failed" in events and "apply_succeeded" not in events
    with pytest.raises(NotFoundError):  # Terraform never ran: no state was written
        platform.store.get_artifact(request.id, "state.tfstate")
