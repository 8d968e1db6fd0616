"""Reject / request changes, and cancelling a queued run: the lifecycle's rules (unit level)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.errors import ConflictError, ForbiddenError, ValidationError
from tfpilot_core.interfaces import RunResult, RunSpec
from tfpilot_core.lifecycle import RequestStatus, current_plan, derive_status, withdrawn
from tfpilot_core.models import Conclusion, RunKind, RunStatus
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with


def create(platform: Platform, environment: str = "prod") -> Any:
    return platform.create(
        "dev", module="test/bucket", environment=environment, project="shop", inputs={"name": "x"}
    )


def digest(request: Any) -> str:
    plan = current_plan(request)
    assert plan is not None and plan.plan_digest
    return str(plan.plan_digest)


def kinds(platform: Platform, request_id: str) -> list[str]:
    return [e.type for e in platform.timeline("admin", request_id)]


def test_reject_stops_approve_and_apply_until_a_new_plan(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    plan_digest = digest(request)
    rejected = platform.reject(
        "appr", request.id, plan_digest=plan_digest[:12], reason="opens the bucket to the world"
    )
    assert platform.status(rejected) is RequestStatus.REJECTED
    [rejection] = rejected.rejections
    assert (rejection.actor, rejection.plan_digest, rejection.reason) == (
        "appr",
        plan_digest,
        "opens the bucket to the world",
    )
    with pytest.raises(ConflictError, match=r"appr rejected plan .*opens the bucket"):
        platform.approve("anna", request.id, plan_digest=plan_digest)
    with pytest.raises(ConflictError, match="status rejected"):
        platform.apply("appr", request.id)
    event = next(e for e in platform.timeline("admin", request.id) if e.type == "rejected")
    assert event.actor == "appr"
    assert event.data["plan_digest"] == plan_digest
    assert event.data["reason"] == "opens the bucket to the world"
    # A new plan is a new review: the rejection binds to the plan run it refused.
    replanned = platform.plan("dev", request.id)
    assert platform.status(replanned) is RequestStatus.PLAN_READY
    assert platform.status(platform.approve("appr", request.id)) is RequestStatus.APPROVED


def test_request_changes_is_cleared_by_an_update(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    asked = platform.reject(
        "appr", request.id, plan_digest=digest(request), reason="add tags", request_changes=True
    )
    assert platform.status(asked) is RequestStatus.CHANGES_REQUESTED
    assert "changes_requested" in kinds(platform, request.id)
    with pytest.raises(ConflictError, match="asked for changes to plan"):
        platform.approve("anna", request.id)
    updated = platform.update("dev", request.id, {"tags": {"team": "web"}})
    assert platform.status(updated) is RequestStatus.REQUEST_CREATED
    assert platform.status(platform.plan("dev", request.id)) is RequestStatus.PLAN_READY


def test_a_rejection_overrules_an_earlier_approval(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    platform.approve("appr", request.id)
    rejected = platform.reject("anna", request.id, plan_digest=digest(request), reason="too big")
    assert platform.status(rejected) is RequestStatus.REJECTED
    with pytest.raises(ConflictError, match="status rejected"):
        platform.apply("appr", request.id)
    with pytest.raises(ConflictError, match="anna rejected"):
        platform.reject("appr", request.id, plan_digest=digest(request), reason="again")


def test_reject_is_digest_bound_and_needs_a_reason(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    current = digest(request)
    with pytest.raises(ConflictError, match=f"current: {current[:12]}"):
        platform.reject("appr", request.id, plan_digest="0" * 64, reason="no")
    with pytest.raises(ValidationError) as info:
        platform.reject("appr", request.id, plan_digest=current, reason="   ")
    assert [(p.field, p.rule) for p in info.value.problems] == [("reason", "required")]
    with pytest.raises(ValidationError) as info:
        platform.reject("appr", request.id, plan_digest=current[:8], reason="short digest")
    assert info.value.problems[0].field == "plan_digest"
    with pytest.raises(ValidationError) as info:
        platform.reject("appr", request.id, plan_digest=current, reason="x" * 5000)
    assert info.value.problems[0].rule == "max_length"
    assert platform.status(platform.get(request.id)) is RequestStatus.PLAN_READY


def test_who_may_reject_is_who_may_approve(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    current = digest(request)
    with pytest.raises(ForbiddenError, match="needs role approver"):
        platform.reject("dana", request.id, plan_digest=current, reason="nope")
    # Four eyes in a protected environment: an approver who created it may not reject it either.
    own = platform.create(
        "appr", module="test/bucket", environment="prod", project="shop", inputs={"name": "y"}
    )
    own = platform.plan("appr", own.id)
    with pytest.raises(ForbiddenError, match="four eyes"):
        platform.reject("appr", own.id, plan_digest=digest(own), reason="mine")


def test_nothing_to_reject_before_a_plan(platform: Platform) -> None:
    request = create(platform)
    with pytest.raises(ConflictError, match="no successful plan"):
        platform.reject("appr", request.id, plan_digest="a" * 64, reason="early")


def test_rejected_is_notified_to_the_author(platform: Platform, register_plugin: Any) -> None:
    seen: list[tuple[str, str]] = []

    class Recorder:
        def notify(self, event: Any, request: Any) -> None:
            seen.append((event.type, event.data.get("reason", "")))

    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [Registration(name="recorder", factory=lambda s, c: Recorder())],
        )
    )
    platform.host._registrations.clear()
    request = platform.plan("dev", create(platform).id)
    platform.reject("appr", request.id, plan_digest=digest(request), reason="wrong region")
    assert ("rejected", "wrong region") in seen


class DispatchingRunner:
    """Leaves every run queued (like GitHub Actions); cancels where it runs on request."""

    dispatches = True

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cancelled: list[str] = []
        self.dispatch = True

    def plan(self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False) -> Any:
        if self.dispatch:
            return RunResult(success=True, dispatched=True, external_id="991")
        return self.inner.plan(spec, refresh_only=refresh_only, destroy=destroy)

    def apply(self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None) -> Any:
        return RunResult(success=True, dispatched=True)

    def destroy(self, spec: RunSpec) -> Any:
        return RunResult(success=True, dispatched=True)

    def cancel_run(self, request: Any, attempt: Any) -> str:
        self.cancelled.append(attempt.id)
        return f"cancelled run {attempt.external_id}"


@pytest.fixture
def dispatching(
    platform: Platform, register_plugin: Callable[..., str], runner: Any
) -> DispatchingRunner:
    made = DispatchingRunner(runner)
    register_plugin(
        plugin_with(
            "tfpilot_register_runners",
            lambda: [Registration(name="queue", factory=lambda s, c: made)],
        ),
        name="queue_runner",
    )
    platform.host._registrations.clear()
    platform.config.core.runner = "queue"
    return made


def test_cancel_a_queued_plan(platform: Platform, dispatching: DispatchingRunner) -> None:
    request = platform.plan("dev", create(platform).id)
    assert platform.status(request) is RequestStatus.PLANNING
    queued = request.latest(RunKind.PLAN)
    assert queued is not None and queued.status is RunStatus.QUEUED
    cancelled = platform.cancel("dev", request.id)
    attempt = cancelled.latest(RunKind.PLAN)
    assert attempt is not None and withdrawn(attempt)
    assert attempt.conclusion is Conclusion.CANCELLED
    assert "cancelled by dev" in (attempt.error or "")
    # It never ran, so the request is as it was before it was queued, and may be planned again.
    assert platform.status(cancelled) is RequestStatus.REQUEST_CREATED
    assert dispatching.cancelled == [queued.id]
    event = next(e for e in platform.timeline("admin", request.id) if e.type == "run_cancelled")
    assert event.data["run"] == queued.id and event.data["runner"] == "cancelled run 991"
    assert platform.kernel.store.get_record("locks", request.id) is None  # lock released
    with pytest.raises(ConflictError, match="no queued run"):
        platform.cancel("dev", request.id)
    assert platform.status(platform.plan("dev", request.id)) is RequestStatus.PLANNING


def test_cancel_keeps_the_earlier_plan_current(
    platform: Platform, dispatching: DispatchingRunner
) -> None:
    dispatching.dispatch = False
    request = platform.plan("dev", create(platform).id)
    approved = platform.approve("appr", request.id)
    dispatching.dispatch = True
    requeued = platform.plan("dev", request.id)
    assert platform.status(requeued) is RequestStatus.PLANNING
    back = platform.cancel("admin", request.id)
    assert platform.status(back) is RequestStatus.APPROVED
    assert digest(back) == digest(approved)
    assert platform.apply("appr", request.id).latest(RunKind.APPLY) is not None


def test_who_may_cancel(platform: Platform, dispatching: DispatchingRunner) -> None:
    request = platform.plan("dev", create(platform).id)
    with pytest.raises(ForbiddenError, match=r"only who started it \(dev\) or an admin"):
        platform.cancel("dana", request.id)
    with pytest.raises(ForbiddenError):
        platform.cancel("appr", request.id)
    assert platform.status(platform.cancel("admin", request.id)) is RequestStatus.REQUEST_CREATED


def test_a_running_run_cannot_be_cancelled(platform: Platform, runner: Any) -> None:
    request = create(platform)
    # A local run starts in progress; stall it and try to cancel from "another process".
    _, attempt = platform.kernel.start_attempt(request.id, RunKind.PLAN, "dev", "fake")
    with pytest.raises(ConflictError, match=rf"{attempt.id} .* already running"):
        platform.cancel("dev", request.id)
    with pytest.raises(ConflictError, match="already running"):
        platform.cancel("admin", request.id, attempt.id)


def test_a_job_refuses_a_cancelled_attempt(
    platform: Platform, dispatching: DispatchingRunner
) -> None:
    from tfpilot_core.runs.executor import execute_plan

    request = platform.plan("dev", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    assert attempt is not None
    platform.cancel("dev", request.id)
    with pytest.raises(ConflictError, match="already completed"):
        execute_plan(platform, request.id, attempt.id, runner_name="fake")


def test_a_run_cancelled_after_it_started_still_counts_as_failed() -> None:
    from datetime import UTC, datetime

    from tfpilot_core.models import Placement, Request, RunAttempt

    at = datetime(2026, 1, 1, tzinfo=UTC)
    attempt = RunAttempt(
        id="plan-1",
        kind=RunKind.PLAN,
        number=1,
        runner="github",
        revision=1,
        actor="dev",
        status=RunStatus.COMPLETED,
        conclusion=Conclusion.CANCELLED,
        created_at=at,
        started_at=at,
        completed_at=at,
    )
    request = Request(
        id="req_dev_bucket_abc123",
        placement=Placement(
            project="shop", environment="dev", module="test/bucket", module_version="1"
        ),
        inputs={},
        created_by="dev",
        runs={RunKind.PLAN: [attempt]},
    )
    assert derive_status(request, now=at) is RequestStatus.FAILED
    never_started = attempt.model_copy(update={"started_at": None})
    request.runs[RunKind.PLAN] = [never_started]
    assert derive_status(request, now=at) is RequestStatus.REQUEST_CREATED


def test_an_attempt_labels_log_lines_only_while_its_lock_is_held(
    platform: Platform, runner: Any
) -> None:
    from tfpilot_core import log

    request = create(platform)
    before = log.fields()
    # Recorded without the lock (by hand, as above): nothing would end a binding, so none.
    platform.kernel.start_attempt(request.id, RunKind.PLAN, "dev", "fake")
    assert log.fields() == before
    with platform.kernel.locked(request.id, "dev", "probe"):
        _, attempt = platform.kernel.start_attempt(request.id, RunKind.PLAN, "dev", "fake")
        assert log.fields()["attempt_id"] == attempt.id
    assert log.fields() == before
