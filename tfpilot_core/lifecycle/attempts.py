"""Run attempts recorded from elsewhere: dispatch, monotonic updates, the job's input.

A dispatching runner (e.g. GitHub Actions) starts a run and returns at once; the attempt stays
``queued`` (:func:`record_dispatch`) until the job that runs it claims it (:func:`claim`) and
concludes it with the same checks and steps as a local run. Until then it may be cancelled
(:func:`cancel`), which the job respects: it refuses a completed attempt. Updates from outside
(webhooks, polling) go through :func:`advance`, which never moves an attempt backwards and never
concludes one as a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.propagate import inject

from tfpilot_core.errors import ConflictError, NotFoundError
from tfpilot_core.lifecycle.kernel import Kernel, SupportsKernel
from tfpilot_core.log import get_logger
from tfpilot_core.models import Conclusion, Request, RunAttempt, RunKind, RunStatus
from tfpilot_core.run_logs.correlation import correlation_id
from tfpilot_core.stores.cas import update_request

if TYPE_CHECKING:
    from tfpilot_core.interfaces import RunResult

# The facade: importing structlog costs more than a small command; see tfpilot_core.log.
log = get_logger("tfpilot.runs")

_ORDER = {RunStatus.QUEUED: 0, RunStatus.IN_PROGRESS: 1, RunStatus.COMPLETED: 2}


@dataclass(frozen=True)
class RunUpdate:
    """What an outside source (a webhook, polling) says about a dispatched run.

    ``conclusion`` is only read when ``status`` is completed. ``external_id``/``url`` name the
    run where it executes (the Actions run id and its page).
    """

    status: RunStatus
    conclusion: Conclusion | None = None
    external_id: str | None = None
    url: str | None = None
    source: str = "external"
    error: str | None = None


def find_attempt(request: Request, attempt_id: str) -> RunAttempt:
    """The attempt ``attempt_id`` of ``request``; :class:`NotFoundError` naming both if absent."""
    for attempts in request.runs.values():
        for attempt in attempts:
            if attempt.id == attempt_id:
                return attempt
    raise NotFoundError(f"request {request.id} has no run attempt {attempt_id!r}")


def _replace(request: Request, attempt: RunAttempt) -> None:
    attempts = request.runs[attempt.kind]
    for i, existing in enumerate(attempts):
        if existing.id == attempt.id:
            attempts[i] = attempt
            return
    raise NotFoundError(f"request {request.id} has no run attempt {attempt.id!r}")


def dispatch_payload(
    request: Request, attempt: RunAttempt, *, plan_digest: str | None = None
) -> dict[str, Any]:
    """The one JSON input a dispatched job receives (``workflow_dispatch`` input ``request``).

    Request id, revision, attempt id and kind, the plan digest an apply must match, a
    correlation id (the attempt's: the dispatching session's trace id, so that events, log lines
    and spans of both processes share it) and the W3C
    ``traceparent`` of the current span, so the job's spans continue the dispatcher's trace.
    """
    carrier: dict[str, str] = {}
    inject(carrier)
    correlation = _correlation(attempt)
    return {
        "request_id": request.id,
        "revision": attempt.revision,
        "attempt_id": attempt.id,
        "kind": attempt.kind.value,
        "environment": request.placement.environment,
        "plan_digest": plan_digest or attempt.plan_digest,
        "correlation_id": correlation,
        "traceparent": carrier.get("traceparent", ""),
    }


def _correlation(attempt: RunAttempt) -> str:
    # The attempt's correlation id (the trace id of the session that started it).
    found = attempt.details.get("correlation_id") or attempt.details.get("trace_id")
    return str(found or correlation_id() or attempt.id)


def record_dispatch(
    platform: SupportsKernel, request_id: str, attempt: RunAttempt, actor: str, result: RunResult
) -> Request:
    """After a dispatching runner returned: the attempt stays queued, with where it runs.

    Emits ``<kind>_dispatched``. The run id may be unknown yet (GitHub's dispatch answers 204
    without one); :func:`advance` fills it in when a webhook or ``tfpilot runs sync`` learns it.
    """
    kernel = platform.kernel

    def mutate(current: Request) -> Request:
        existing = find_attempt(current, attempt.id)
        details = {**existing.details, "dispatched_at": kernel.now().isoformat()}
        _replace(
            current,
            existing.advanced(
                external_id=result.external_id or existing.external_id,
                url=result.url or existing.url,
                details=details,
            ),
        )
        return current

    request = update_request(kernel.store, request_id, mutate)
    kernel.emit(
        request,
        f"{attempt.kind.value}_dispatched",
        actor,
        {"run": attempt.id, "external_id": result.external_id, "url": result.url},
        correlation_id=_correlation(attempt),
    )
    return request


def advance(
    platform: SupportsKernel, request_id: str, attempt_id: str, update: RunUpdate
) -> tuple[Request, str | None]:
    """Apply an outside status update to an attempt, monotonically.

    Returns the request and ``None`` when something changed, else the reason it was ignored
    (an older status than the one stored, an attempt already concluded, a run id that belongs to
    another attempt). A ``completed`` update never concludes an attempt as a success: a job that
    succeeded records its own result (with the plan digest or the state) before it ends, so a run
    that completed without one failed, whatever GitHub says about the job.
    """
    kernel = platform.kernel
    reason: list[str] = []
    changed: list[bool] = []

    def mutate(current: Request) -> Request:
        reason.clear()
        changed.clear()
        attempt = find_attempt(current, attempt_id)
        if update.external_id and attempt.external_id not in (None, update.external_id):
            reason.append(
                f"run {update.external_id} is not the run of attempt {attempt_id} "
                f"({attempt.external_id})"
            )
            return current
        if update.external_id and _linked_elsewhere(current, attempt_id, update.external_id):
            reason.append(f"run {update.external_id} is linked to another attempt")
            return current
        if attempt.status is RunStatus.COMPLETED:
            reason.append(f"attempt {attempt_id} is already {attempt.conclusion}")
            if update.external_id and attempt.external_id is None:
                _replace(current, attempt.advanced(external_id=update.external_id, url=update.url))
                changed.append(True)
            return current
        if _ORDER[update.status] < _ORDER[attempt.status]:
            reason.append(
                f"out of order: {update.status.value} after {attempt.status.value} "
                f"for attempt {attempt_id}"
            )
            return current
        fields: dict[str, Any] = {"status": update.status}
        if update.external_id:
            fields["external_id"] = update.external_id
        if update.url:
            fields["url"] = update.url
        if update.status is not RunStatus.QUEUED and attempt.started_at is None:
            fields["started_at"] = kernel.now()
        if update.status is RunStatus.COMPLETED:
            conclusion = update.conclusion or Conclusion.FAILURE
            if conclusion is Conclusion.SUCCESS:
                conclusion = Conclusion.FAILURE
                fields["error"] = (
                    f"the {update.source} run finished without recording a result "
                    "(see the run's log)"
                )
            else:
                fields["error"] = update.error or f"the {update.source} run ended: {conclusion}"
            fields["conclusion"] = conclusion
            fields["completed_at"] = kernel.now()
        new = attempt.advanced(**fields)
        if new == attempt:
            reason.append("nothing new")
            return current
        _replace(current, new)
        current.updated_at = kernel.now()
        changed.append(True)
        return current

    try:
        request = update_request(kernel.store, request_id, mutate)
    except ValueError as exc:  # RunAttempt.advanced refused a backwards move
        raise ConflictError(str(exc)) from None
    if changed and not reason:
        attempt = find_attempt(request, attempt_id)
        data: dict[str, Any] = {
            "run": attempt_id,
            "status": attempt.status.value,
            "source": update.source,
        }
        if attempt.conclusion is not None:
            data["conclusion"] = attempt.conclusion.value
            data["error"] = attempt.error
            kernel.emit(request, f"{attempt.kind.value}_failed", "system", data)
        else:
            kernel.emit(request, "run_updated", "system", data)
    if reason:
        log.info("run_update_ignored", request_id=request_id, run=attempt_id, reason=reason[0])
    return request, (reason[0] if reason else None)


def _linked_elsewhere(request: Request, attempt_id: str, external_id: str) -> bool:
    return any(
        a.external_id == external_id and a.id != attempt_id
        for attempts in request.runs.values()
        for a in attempts
    )


def active_attempts(request: Request) -> list[RunAttempt]:
    """The attempts of ``request`` that have not completed."""
    return [
        a for kind in RunKind for a in request.attempts(kind) if a.status is not RunStatus.COMPLETED
    ]


def without_attempt(request: Request, attempt_id: str) -> Request:
    """``request`` as it was before ``attempt_id`` was started (a copy).

    A job executing a dispatched attempt checks the same rules as a local run, which are
    written for the moment before the attempt exists: seen with its own queued attempt, the
    request would look busy.
    """
    copy = request.model_copy(deep=True)
    for kind, attempts in copy.runs.items():
        copy.runs[kind] = [a for a in attempts if a.id != attempt_id]
    return copy


def cancel(kernel: Kernel, actor: str, request_id: str, attempt_id: str | None = None) -> Request:
    """Cancel a queued run (dispatched, not yet claimed by its job) of ``request_id``.

    ``attempt_id`` defaults to the request's queued attempt. Who may: whoever started the run, or
    an admin (:meth:`~tfpilot_core.access.Access.check_cancel`). The attempt is completed as
    ``cancelled`` without a start time, so it does not count for the status (the request is as
    it was before the run was queued; :func:`tfpilot_core.lifecycle.withdrawn`), under the
    request's lock so that a job claiming it at the same moment either wins (the run is then
    running and cannot be cancelled) or finds it completed and refuses to run it. Then the
    runner is asked to cancel the run where it executes, if it can (an optional
    ``cancel_run(request, attempt) -> str`` of the runner; a failure there is recorded, not
    raised: the job refuses the cancelled attempt anyway). Emits ``run_cancelled``.

    :raises ConflictError: no queued run (a running one cannot be cancelled: it names it).
    :raises ForbiddenError: the actor may not cancel it.
    """
    request = kernel.get(request_id)
    attempt = _queued(request, attempt_id)
    kernel.access.check_cancel(actor, request, attempt.actor)
    closed: list[RunAttempt] = []
    with kernel.locked(request_id, actor, f"cancel {attempt.id}"):

        def mutate(current: Request) -> Request:
            closed.clear()
            found = _queued(current, attempt.id)
            new = found.advanced(
                status=RunStatus.COMPLETED,
                conclusion=Conclusion.CANCELLED,
                completed_at=kernel.now(),
                error=f"cancelled by {actor} before it started",
            )
            _replace(current, new)
            current.updated_at = kernel.now()
            closed.append(new)
            return current

        request = update_request(kernel.store, request_id, mutate)
    runner_said = _cancel_at_runner(kernel, request, closed[0])
    kernel.emit(
        request,
        "run_cancelled",
        actor,
        {
            "run": attempt.id,
            "kind": attempt.kind.value,
            "external_id": closed[0].external_id,
            "runner": runner_said,
        },
        correlation_id=_correlation(attempt),
    )
    return request


def _queued(request: Request, attempt_id: str | None) -> RunAttempt:
    """The queued attempt to cancel, or a :class:`ConflictError` saying why there is none."""
    if attempt_id is not None:
        attempt = find_attempt(request, attempt_id)
        candidates = [attempt]
    else:
        candidates = active_attempts(request)
    for attempt in candidates:
        if attempt.status is RunStatus.QUEUED:
            return attempt
    running = [a for a in candidates if a.status is RunStatus.IN_PROGRESS]
    if running:
        run = running[0]
        raise ConflictError(
            f"the {run.kind.value} run {run.id} of {request.id} is already running and cannot "
            "be cancelled; only a queued run can (wait for it to finish)"
        )
    if attempt_id is not None:
        raise ConflictError(f"run {attempt_id} of {request.id} is already completed")
    raise ConflictError(f"request {request.id} has no queued run to cancel")


def _cancel_at_runner(kernel: Kernel, request: Request, attempt: RunAttempt) -> str:
    """Ask the runner that runs ``attempt`` to cancel it there; what it said, as text."""
    try:
        runner: Any = kernel.runner(attempt.runner)
        cancel_run = getattr(runner, "cancel_run", None)
        if not callable(cancel_run):
            return "not supported by the runner (its job refuses the cancelled run)"
        return str(cancel_run(request, attempt))
    except Exception as exc:  # the cancel stands: the job refuses a completed attempt anyway
        log.warning("runner_cancel_failed", request_id=request.id, run=attempt.id, error=str(exc))
        return f"failed: {type(exc).__name__}: {str(exc)[:300]}"
