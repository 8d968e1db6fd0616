"""A failed apply run by the job executor (``tfpilot run apply --attempt``) is explained the same
way as a local one (issue 28 item 3): the job records failures through
``Kernel.recording_failure``, so the attempt carries the explanation and the PR comment, which
the GitHub observer updates on ``apply_failed``, shows it. Real Terraform on the sandbox, the
GitHub stand-in for the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.failures import explanation_of
from tfpilot_core.models import Conclusion, RunKind
from tfpilot_core.runs.executor import execute_apply, execute_plan
from tfpilot_core.testing.fixtures import PlatformFactory

pytestmark = pytest.mark.slow

TOKEN = "ghs_test_token"


@pytest.fixture
def github() -> Iterator[Any]:
    """The GitHub stand-in (repository ``acme/infra``)."""
    from tfpilot_runner_github.testing import GitHubStandIn

    server = GitHubStandIn(token=TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_job_apply_failure_is_explained_on_the_attempt_and_in_the_pr_comment(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch, github: Any
) -> None:
    from tfpilot_sandbox.objects import ObjectStore

    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)
    platform = tfpilot_platform(
        '[core]\nrunner = "github"\n[plugins.runner_local]\ntimeout_seconds = 300\n'
        f'[plugins.runner_github]\nrepository = "acme/infra"\ntoken = "{TOKEN}"\n'
        f'api_url = "{github.url}"\nmax_retries = 2\nbackoff_factor = 0.01\n'
        "seconds_between_requests = 0\nseconds_between_writes = 0\n"
    )
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "dup"}
    )
    request = platform.plan("alice", request.id)  # dispatched: the job plans
    planned = execute_plan(platform, request.id, request.latest(RunKind.PLAN).id)
    plan = planned.latest(RunKind.PLAN)
    assert plan is not None and plan.conclusion is Conclusion.SUCCESS
    platform.approve("bob", request.id, plan_digest=plan.plan_digest)
    queued = platform.apply("bob", request.id).latest(RunKind.APPLY)  # dispatched
    assert queued is not None
    [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
    ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"])).create(
        "sandbox_bucket", request.inputs["name"], {"region": "local-1"}
    )
    with pytest.raises(ExternalToolError) as raised:
        execute_apply(platform, request.id, queued.id)
    assert raised.value.explanation is not None
    attempt = platform.get(request.id).latest(RunKind.APPLY)
    assert attempt is not None and attempt.id == queued.id
    explained = explanation_of(attempt)
    assert explained is not None and explained.cause == "name_conflict"
    assert explained.evidence and "name taken" in explained.evidence
    # The PR comment the observer keeps up to date says why, beside the PR's runbook.
    bodies = [c["body"] for c in github.repo.comments.values()]
    assert any(
        "#### Why it failed" in b and "**The name is already taken** (name_conflict)" in b
        for b in bodies
    ), bodies
