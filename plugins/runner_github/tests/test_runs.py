"""The run model with the github runner: queued attempts, polling, what the job refuses."""

from __future__ import annotations

from typing import Any

import pytest
from gh_support import create

from tfpilot_core.errors import ConflictError, ForbiddenError, LockedError, NotFoundError
from tfpilot_core.models import Conclusion, RunKind, RunStatus
from tfpilot_core.runs import RunUpdate, advance, find_attempt
from tfpilot_core.runs.executor import execute_apply, execute_plan, sync
from tfpilot_runner_github.testing import GitHubStandIn


@pytest.fixture
def platform(make_platform: Any) -> Any:
    return make_platform()


def test_a_dispatched_plan_is_queued(platform: Any, standin: GitHubStandIn) -> None:
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    assert attempt.status is RunStatus.QUEUED and attempt.started_at is None
    assert platform.status(request).value == "planning"
    [dispatch] = standin.dispatches
    assert dispatch["request"] == {
        "request_id": request.id,
        "revision": 1,
        "attempt_id": attempt.id,
        "kind": "plan",
        "environment": "dev",
        "plan_digest": None,
        "correlation_id": attempt.details["correlation_id"],
        "traceparent": dispatch["request"]["traceparent"],
    }
    # The correlation id is the dispatching session's trace id, on the attempt and its events.
    assert attempt.details["correlation_id"] == platform.trace_id
    dispatched = [e for e in platform.store.list_events(request.id) if e.type == "plan_dispatched"]
    assert [e.correlation_id for e in dispatched] == [platform.trace_id]
    with pytest.raises((ConflictError, ForbiddenError, LockedError)):
        platform.plan("alice", request.id)  # a run is in progress
    assert "plan_dispatched" in [e.type for e in platform.timeline("alice", request.id)]


def test_sync_finds_the_run_by_name_and_records_its_end(
    platform: Any, standin: GitHubStandIn
) -> None:
    standin.return_run_details = False  # GitHub Enterprise Server: 204, no run id
    request = platform.plan("alice", create(platform).id)
    other = platform.plan("alice", create(platform, "other").id)
    assert request.latest(RunKind.PLAN).external_id is None
    rows = sync(platform)
    assert sorted(r["result"] for r in rows) == ["recorded queued", "recorded queued"]
    run_ids = {d["request"]["request_id"]: str(d["run_id"]) for d in standin.dispatches}
    assert platform.get(request.id).latest(RunKind.PLAN).external_id == run_ids[request.id]
    assert platform.get(other.id).latest(RunKind.PLAN).external_id == run_ids[other.id]
    standin.set_run(int(run_ids[request.id]), "in_progress")
    sync(platform)
    assert platform.get(request.id).latest(RunKind.PLAN).status is RunStatus.IN_PROGRESS
    standin.set_run(int(run_ids[request.id]), "completed", "cancelled")
    sync(platform)
    done = platform.get(request.id).latest(RunKind.PLAN)
    assert (
        done.conclusion is Conclusion.CANCELLED
        and platform.status(platform.get(request.id)).value == "failed"
    )
    assert platform.status(platform.get(other.id)).value == "planning"


def test_advance_is_monotonic(platform: Any) -> None:
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    _, reason = advance(platform, request.id, attempt.id, RunUpdate(RunStatus.IN_PROGRESS))
    assert reason is None
    _, reason = advance(platform, request.id, attempt.id, RunUpdate(RunStatus.QUEUED))
    assert reason is not None and "out of order" in reason
    done = RunUpdate(RunStatus.COMPLETED, Conclusion.TIMED_OUT)
    assert advance(platform, request.id, attempt.id, done)[1] is None
    again = RunUpdate(RunStatus.COMPLETED, Conclusion.FAILURE)
    assert "already" in (advance(platform, request.id, attempt.id, again)[1] or "")
    assert platform.get(request.id).latest(RunKind.PLAN).conclusion is Conclusion.TIMED_OUT
    with pytest.raises(NotFoundError):
        find_attempt(platform.get(request.id), "plan-9-nope")


def test_the_job_refuses_what_it_should_not_run(platform: Any) -> None:
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    with pytest.raises(ConflictError, match="is a plan run, not apply"):
        execute_apply(platform, request.id, attempt.id)
    advance(platform, request.id, attempt.id, RunUpdate(RunStatus.COMPLETED, Conclusion.FAILURE))
    with pytest.raises(ConflictError, match="already completed"):
        execute_plan(platform, request.id, attempt.id)
    with pytest.raises(NotFoundError):
        execute_plan(platform, request.id, "plan-7-unknown")


@pytest.mark.slow
def test_the_job_plans_and_a_stale_revision_is_refused(
    make_platform: Any, standin: GitHubStandIn, tmp_path: Any
) -> None:
    platform = make_platform()
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    out = tmp_path / "artifact" / "tfplan"
    done = execute_plan(platform, request.id, attempt.id, plan_out=out)
    plan = done.latest(RunKind.PLAN)
    from tfpilot_core.platform import sha256

    assert plan.conclusion is Conclusion.SUCCESS and plan.plan_digest == sha256(out.read_bytes())
    assert out.stat().st_mode & 0o777 == 0o600
    assert platform.status(done).value == "plan_ready"
    platform.approve("bob", request.id, plan_digest=plan.plan_digest)
    applying = platform.apply("bob", request.id)
    apply = applying.latest(RunKind.APPLY)
    assert apply.status is RunStatus.QUEUED and apply.plan_digest == plan.plan_digest
    # A tampered artifact is refused before Terraform runs.
    bad = tmp_path / "bad.tfplan"
    bad.write_bytes(out.read_bytes() + b"x")
    with pytest.raises(ConflictError, match="tampered"):
        execute_apply(platform, request.id, apply.id, plan_file=bad)
    assert platform.status(platform.get(request.id)).value == "failed"


def test_cancel_a_queued_run_cancels_the_workflow_run(
    platform: Any, standin: GitHubStandIn
) -> None:
    standin.return_run_details = False  # the run id is found by name, as sync finds it
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    [dispatch] = standin.dispatches
    cancelled = platform.cancel("alice", request.id)
    assert platform.status(cancelled).value == "request_created"
    assert standin.repo.runs[int(dispatch["run_id"])]["conclusion"] == "cancelled"
    [event] = [e for e in platform.timeline("alice", request.id) if e.type == "run_cancelled"]
    assert event.data["runner"] == f"cancelled GitHub Actions run {dispatch['run_id']}"
    # The job, should it start anyway, refuses the cancelled attempt.
    with pytest.raises(ConflictError, match="already completed"):
        execute_plan(platform, request.id, attempt.id)


def test_the_pr_comment_says_what_follows_a_rejection(
    platform: Any, standin: GitHubStandIn
) -> None:
    from tfpilot_runner_github.comment import next_step

    request = platform.plan("alice", create(platform).id)
    for status, words in (("rejected", "was rejected"), ("changes_requested", "asked for changes")):
        assert words in next_step(request, status)
