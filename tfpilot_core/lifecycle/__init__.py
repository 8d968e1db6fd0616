"""The request lifecycle: status derived from facts here, and every transition's rules below.

Status is never stored: it is a pure function of a request's run attempts, approvals and revision
(:func:`derive_status`, this module, which depends on the models only so that stores may use it).
The rules of every transition live once in the submodules, each written as its checks plus its
steps, and are called alike by the local CLI, the HTTP API, MCP and the GitHub Actions job:

- :mod:`~tfpilot_core.lifecycle.kernel`: what every action and capability needs (:class:`Kernel`);
- :mod:`~tfpilot_core.lifecycle.changes`: create and update;
- :mod:`~tfpilot_core.lifecycle.attempts`: run attempts recorded from elsewhere (dispatch, updates,
  cancelling a queued run);
- :mod:`~tfpilot_core.lifecycle.planning`: plan and destroy plans;
- :mod:`~tfpilot_core.lifecycle.approvals`: approve, reject and request changes;
- :mod:`~tfpilot_core.lifecycle.applying`: the apply gate, apply and destroy;
- :mod:`~tfpilot_core.lifecycle.drift`: drift checks and reconciling stale runs;
- :mod:`~tfpilot_core.lifecycle.reads`: authorized reads (view, list, timeline, audit, verify).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from tfpilot_core.models import (
    Approval,
    Conclusion,
    Rejection,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
    utcnow,
)

#: A run that has not completed this long after it was created is stale and shown as failed.
DEFAULT_STALE_AFTER = timedelta(hours=2)


class RequestStatus(enum.StrEnum):
    """What a request is doing, derived from its facts (never stored as truth)."""

    REQUEST_CREATED = "request_created"
    PLANNING = "planning"
    PLAN_READY = "plan_ready"
    APPROVED = "approved"
    #: A reviewer rejected the current plan (with a reason): it cannot be approved or applied.
    REJECTED = "rejected"
    #: A reviewer asked for changes to the current plan: update the request (or plan again).
    CHANGES_REQUESTED = "changes_requested"
    APPLYING = "applying"
    APPLIED = "applied"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    FAILED = "failed"


#: Statuses that the passage of time alone can turn into ``failed`` (a stale run).
STALEABLE = frozenset({RequestStatus.PLANNING, RequestStatus.APPLYING, RequestStatus.DESTROYING})


def is_active(attempt: RunAttempt) -> bool:
    """Whether the attempt has not completed yet."""
    return attempt.status is not RunStatus.COMPLETED


def is_stale(
    attempt: RunAttempt,
    *,
    now: datetime | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> bool:
    """An attempt that has not completed long after it was created."""
    now = now or utcnow()
    started = attempt.started_at or attempt.created_at
    return is_active(attempt) and now - started > stale_after


def withdrawn(attempt: RunAttempt) -> bool:
    """A run cancelled while still queued: it never ran, so it changed nothing.

    Such an attempt is kept (the timeline names it) but does not count for the status: the
    request is as it was before the run was queued. A run cancelled after it started (say, in
    GitHub's UI) did run, and counts as failed.
    """
    return (
        attempt.status is RunStatus.COMPLETED
        and attempt.conclusion is Conclusion.CANCELLED
        and attempt.started_at is None
    )


def latest_counting(request: Request, kind: RunKind) -> RunAttempt | None:
    """The latest attempt of ``kind`` that counts for the status (not :func:`withdrawn`)."""
    for attempt in reversed(request.attempts(kind)):
        if not withdrawn(attempt):
            return attempt
    return None


def _succeeded(attempt: RunAttempt | None) -> bool:
    return attempt is not None and attempt.conclusion is Conclusion.SUCCESS


def _failed(attempt: RunAttempt | None) -> bool:
    return (
        attempt is not None
        and attempt.status is RunStatus.COMPLETED
        and attempt.conclusion is not Conclusion.SUCCESS
    )


def current_plan(request: Request) -> RunAttempt | None:
    """The latest plan attempt if it is of the current revision, else ``None``.

    Plans of earlier revisions no longer count after an update.
    """
    plan = latest_counting(request, RunKind.PLAN)
    if plan is None or plan.revision != request.revision:
        return None
    return plan


def current_approval(request: Request) -> Approval | None:
    """The approval of the current revision's successful plan, if there is one."""
    plan = current_plan(request)
    if not _succeeded(plan) or plan is None or plan.plan_digest is None:
        return None
    for approval in reversed(request.approvals):
        if approval.revision == request.revision and approval.plan_digest == plan.plan_digest:
            return approval
    return None


def current_rejection(request: Request) -> Rejection | None:
    """The rejection (or request for changes) of the current plan run, if there is one.

    A rejection binds to one plan run of one revision: an update or a new plan clears it.
    """
    plan = current_plan(request)
    if not _succeeded(plan) or plan is None or plan.plan_digest is None:
        return None
    for rejection in reversed(request.rejections):
        if (
            rejection.revision == request.revision
            and rejection.run == plan.id
            and rejection.plan_digest == plan.plan_digest
        ):
            return rejection
    return None


def derive_status(
    request: Request, *, now: datetime | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> RequestStatus:
    """The request's status, from its facts alone, by a fixed priority.

    destroy failed -> failed; destroyed; destroying; apply of the current plan failed -> failed;
    plan failed -> failed; applying; applied; rejected / changes_requested (over approved: one
    reviewer's refusal stops the plan); approved; plan_ready; planning; request_created.
    A stale run (no result long after it started) counts as failed; a run cancelled while
    queued does not count at all (:func:`withdrawn`).
    """
    now = now or utcnow()

    def failed(attempt: RunAttempt | None) -> bool:
        return _failed(attempt) or (
            attempt is not None and is_stale(attempt, now=now, stale_after=stale_after)
        )

    destroy = latest_counting(request, RunKind.DESTROY)
    if destroy is not None:
        if failed(destroy):
            return RequestStatus.FAILED
        if _succeeded(destroy):
            return RequestStatus.DESTROYED
        return RequestStatus.DESTROYING

    plan = current_plan(request)
    apply = latest_counting(request, RunKind.APPLY)
    # An apply counts for the current state only if it applied the current revision's plan;
    # otherwise the request was updated since, and the new plan decides the status.
    apply_is_current = (
        apply is not None
        and plan is not None
        and apply.plan_digest == plan.plan_digest
        and apply.revision == request.revision
    )

    if apply_is_current and apply is not None:
        if failed(apply):
            return RequestStatus.FAILED
        if is_active(apply):
            return RequestStatus.APPLYING
        return RequestStatus.APPLIED

    if plan is not None:
        if failed(plan):
            return RequestStatus.FAILED
        if is_active(plan):
            return RequestStatus.PLANNING
        rejection = current_rejection(request)
        if rejection is not None:
            if rejection.request_changes:
                return RequestStatus.CHANGES_REQUESTED
            return RequestStatus.REJECTED
        if current_approval(request) is not None:
            return RequestStatus.APPROVED
        return RequestStatus.PLAN_READY

    if apply is not None and _succeeded(apply):
        # Updated after an apply, not planned again yet: what exists is still the applied state.
        return RequestStatus.APPLIED
    if apply is not None and failed(apply):
        return RequestStatus.FAILED
    return RequestStatus.REQUEST_CREATED
