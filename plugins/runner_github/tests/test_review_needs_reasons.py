"""A GitHub review cannot carry written reasons, so it never approves a plan that needs them.

In a protected environment each opt-out on a request is the approver's to accept with a reason
(``tfpilot_core.lifecycle.approvals.required_overrides``, as for mandatory findings). An
approving review of such a plan is refused with a reply on the PR that names each opt-out (rule,
who opted out, why) and says where to approve instead: the request's web page, or
``tfpilot approve ID --plan DIGEST --override RULE=REASON``. Real Terraform plans on the sandbox
provider; GitHub is the local stand-in.
"""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from gh_support import USERS, deliver, github_section

from tfpilot_core.models import Conclusion, RunKind
from tfpilot_core.runs.executor import execute_plan
from tfpilot_core.testing.fixtures import PlatformFactory
from tfpilot_runner_github.testing import GitHubStandIn
from tfpilot_runner_github.webhook import create_webhook_app

RULE = "encryption.enabled"
WHY = "Public build artefacts, nothing secret: approved by security (SEC-42)."


@pytest.mark.slow
def test_an_approving_review_of_a_plan_with_an_opt_out_in_a_protected_env_is_refused(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch, standin: GitHubStandIn
) -> None:
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)
    platform = tfpilot_platform(
        '[core]\nrunner = "github"\npolicy_engines = ["policy_builtin"]\n'
        'environments = [{ key = "dev" }, { key = "prod", protected = true }]\n'
        + USERS
        + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        + github_section(standin.url),
        users="",
    )
    request = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="prod",
        project="shop",
        inputs={"name": "logs"},
        opt_outs=[{"rule_id": RULE, "justification": WHY}],
    )
    planned = platform.plan("alice", request.id)
    planned = execute_plan(platform, request.id, planned.latest(RunKind.PLAN).id)
    plan = planned.latest(RunKind.PLAN)
    assert plan.conclusion is Conclusion.SUCCESS and plan.plan_digest

    client = TestClient(create_webhook_app(platform))
    review = {"action": "submitted", "pull_request": {"number": 1}}
    review["review"] = standin.review(1, "bob-gh")
    outcome = deliver(client, "pull_request_review", review).json()
    assert outcome["status"] == "ignored", outcome
    reason = outcome["reason"]
    assert f"accept the opt-out of `{RULE}` by alice" in reason and "SEC-42" in reason
    assert "A GitHub review cannot carry them" in reason and "web UI" in reason
    assert f"tfpilot approve {request.id} --plan {plan.plan_digest[:12]}" in reason
    assert f"--override {RULE}=REASON" in reason
    assert platform.get(request.id).approvals == []
    replies = [c["body"] for c in standin.repo.comments.values() if c["issue"] == 1]
    assert any(r.startswith("tfpilot: review ignored: this approval needs") for r in replies)

    # What the reply says to do works: the same approver, with the reason, from the CLI's path.
    overrides = [{"rule_id": RULE, "reason": "Checked with security: public artefacts only."}]
    overrides += [
        {"rule_id": f.rule_id, "reason": "reviewed"}
        for f in planned.policy_findings
        if f.level.value == "mandatory"
    ]
    approved = platform.approve(
        "bob", request.id, plan_digest=plan.plan_digest, overrides=overrides
    )
    assert RULE in [o.rule_id for o in approved.approvals[-1].overrides]
