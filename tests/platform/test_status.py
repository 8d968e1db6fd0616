"""Status is derived from facts: every status, priorities, staleness, revisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tfpilot_core.lifecycle import RequestStatus, derive_status
from tfpilot_core.models import (
    Approval,
    Conclusion,
    Placement,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def base(**fields: object) -> Request:
    return Request(
        id="req_dev_bucket_abcdef",
        placement=Placement(project="p1", environment="dev", module="m", module_version="v"),
        inputs={},
        created_by="a",
        **fields,  # type: ignore[arg-type]
    )


def attempt(
    kind: RunKind,
    *,
    done: Conclusion | None = Conclusion.SUCCESS,
    revision: int = 1,
    digest: str | None = "d1",
    age: timedelta = timedelta(minutes=1),
) -> RunAttempt:
    started = NOW - age
    return RunAttempt(
        id=f"{kind.value}-x",
        kind=kind,
        number=1,
        runner="fake",
        revision=revision,
        actor="a",
        status=RunStatus.COMPLETED if done else RunStatus.IN_PROGRESS,
        conclusion=done,
        created_at=started,
        started_at=started,
        completed_at=NOW if done else None,
        plan_digest=digest,
    )


def status(request: Request) -> RequestStatus:
    return derive_status(request, now=NOW)


def test_created() -> None:
    assert status(base()) is RequestStatus.REQUEST_CREATED


def test_planning_plan_ready_failed() -> None:
    assert (
        status(base(runs={RunKind.PLAN: [attempt(RunKind.PLAN, done=None)]}))
        is RequestStatus.PLANNING
    )
    assert status(base(runs={RunKind.PLAN: [attempt(RunKind.PLAN)]})) is RequestStatus.PLAN_READY
    assert (
        status(base(runs={RunKind.PLAN: [attempt(RunKind.PLAN, done=Conclusion.FAILURE)]}))
        is RequestStatus.FAILED
    )


def test_approved_only_for_current_revision_and_digest() -> None:
    runs = {RunKind.PLAN: [attempt(RunKind.PLAN)]}
    good = Approval(actor="b", revision=1, plan_digest="d1")
    assert status(base(runs=runs, approvals=[good])) is RequestStatus.APPROVED
    other_digest = Approval(actor="b", revision=1, plan_digest="d2")
    assert status(base(runs=runs, approvals=[other_digest])) is RequestStatus.PLAN_READY
    # After an update (revision 2) the plan and approval of revision 1 no longer count.
    assert status(base(runs=runs, approvals=[good], revision=2)) is RequestStatus.REQUEST_CREATED


def test_applying_applied_apply_failed() -> None:
    plan = attempt(RunKind.PLAN)
    assert (
        status(
            base(runs={RunKind.PLAN: [plan], RunKind.APPLY: [attempt(RunKind.APPLY, done=None)]})
        )
        is RequestStatus.APPLYING
    )
    assert (
        status(base(runs={RunKind.PLAN: [plan], RunKind.APPLY: [attempt(RunKind.APPLY)]}))
        is RequestStatus.APPLIED
    )
    failed = attempt(RunKind.APPLY, done=Conclusion.FAILURE)
    assert (
        status(base(runs={RunKind.PLAN: [plan], RunKind.APPLY: [failed]})) is RequestStatus.FAILED
    )


def test_applied_then_updated_stays_applied_until_planned() -> None:
    runs = {RunKind.PLAN: [attempt(RunKind.PLAN)], RunKind.APPLY: [attempt(RunKind.APPLY)]}
    assert status(base(runs=runs, revision=2)) is RequestStatus.APPLIED
    replanned = {
        **runs,
        RunKind.PLAN: [attempt(RunKind.PLAN), attempt(RunKind.PLAN, revision=2, digest="d2")],
    }
    assert status(base(runs=replanned, revision=2)) is RequestStatus.PLAN_READY


def test_destroying_destroyed_destroy_failed_take_priority() -> None:
    runs = {RunKind.PLAN: [attempt(RunKind.PLAN)], RunKind.APPLY: [attempt(RunKind.APPLY)]}
    assert (
        status(base(runs={**runs, RunKind.DESTROY: [attempt(RunKind.DESTROY, done=None)]}))
        is RequestStatus.DESTROYING
    )
    assert (
        status(base(runs={**runs, RunKind.DESTROY: [attempt(RunKind.DESTROY)]}))
        is RequestStatus.DESTROYED
    )
    failed = attempt(RunKind.DESTROY, done=Conclusion.FAILURE)
    assert status(base(runs={**runs, RunKind.DESTROY: [failed]})) is RequestStatus.FAILED


def test_stale_runs_show_as_failed() -> None:
    old = timedelta(hours=3)
    assert (
        status(base(runs={RunKind.PLAN: [attempt(RunKind.PLAN, done=None, age=old)]}))
        is RequestStatus.FAILED
    )
    plan = attempt(RunKind.PLAN)
    stale_apply = attempt(RunKind.APPLY, done=None, age=old)
    assert (
        status(base(runs={RunKind.PLAN: [plan], RunKind.APPLY: [stale_apply]}))
        is RequestStatus.FAILED
    )
    assert (
        derive_status(
            base(runs={RunKind.PLAN: [attempt(RunKind.PLAN, done=None, age=old)]}),
            now=NOW,
            stale_after=timedelta(hours=4),
        )
        is RequestStatus.PLANNING
    )


def test_every_status_is_covered() -> None:
    # Keeps this file honest when a status is added.
    covered = {
        RequestStatus.REQUEST_CREATED,
        RequestStatus.PLANNING,
        RequestStatus.PLAN_READY,
        RequestStatus.APPROVED,
        RequestStatus.REJECTED,
        RequestStatus.CHANGES_REQUESTED,
        RequestStatus.APPLYING,
        RequestStatus.APPLIED,
        RequestStatus.DESTROYING,
        RequestStatus.DESTROYED,
        RequestStatus.FAILED,
    }
    assert covered == set(RequestStatus)


def test_run_updates_are_monotonic() -> None:
    import pytest

    done = attempt(RunKind.PLAN)
    with pytest.raises(ValueError, match="cannot go from completed"):
        done.advanced(status=RunStatus.IN_PROGRESS)
    with pytest.raises(ValueError, match="is final"):
        done.advanced(conclusion=Conclusion.FAILURE)
    with pytest.raises(ValueError, match="completion time is final"):
        done.advanced(completed_at=None)


def test_v1_documents_still_load() -> None:
    from pathlib import Path

    sample = Path(__file__).parent / "data" / "request_v1.json"
    request = Request.load(sample.read_bytes())
    assert request.schema_version == 2
    assert request.placement.module == "sandbox/bucket" and request.placement.project == "shop"
    assert derive_status(request, now=NOW) is RequestStatus.PLAN_READY
