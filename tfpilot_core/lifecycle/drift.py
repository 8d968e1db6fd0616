"""Drift checks of applied requests, and reconciling runs whose process died."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import ConflictError
from tfpilot_core.failures import DETAILS_KEY
from tfpilot_core.lifecycle import RequestStatus, is_stale
from tfpilot_core.lifecycle.kernel import Kernel, changed_meanwhile
from tfpilot_core.models import (
    Conclusion,
    DriftResult,
    DriftState,
    Request,
    RunKind,
    RunStatus,
)
from tfpilot_core.rbac import Action
from tfpilot_core.stores.cas import update_request

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner


def check_drift(
    kernel: Kernel, actor: str, request_id: str, *, runner: Runner | None = None
) -> Request:
    """Check an applied request for drift and record the result (events on transitions).

    ``runner`` is where Terraform runs: the configured runner unless given (a drift job names
    the executing runner, not the dispatcher).
    """
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.DRIFT_CHECK, request)
    status = kernel.status(request)
    if status is not RequestStatus.APPLIED:
        raise ConflictError(
            f"only applied requests are checked for drift; {request_id} is {status.value}"
        )
    runner = runner or kernel.runner()
    with kernel.locked(request_id, actor, "drift"):
        with changed_meanwhile(request_id):
            if kernel.status(kernel.get(request_id)) is not RequestStatus.APPLIED:
                raise ConflictError(f"{request_id} is no longer applied")
        request, attempt = kernel.start_attempt(
            request_id, RunKind.DRIFT, actor, kernel.config.core.runner
        )
        with kernel.recording_failure(request, attempt, actor, "drift_check_failed"):
            report = kernel.host.check_drift(kernel.run_spec(request), runner)
        previous = request.drift.result if request.drift else DriftResult.NONE
        conclusion = (
            Conclusion.FAILURE if report.result is DriftResult.ERROR else Conclusion.SUCCESS
        )
        # A drift check that could not run is explained like a failed plan (issue 28).
        explained = (
            kernel.explain_failure(request, attempt, "drift_check_failed", report.error or "")
            if report.result is DriftResult.ERROR
            else None
        )

        def record(current: Request) -> None:
            current.drift = DriftState(
                checked_at=kernel.now(),
                result=report.result,
                addresses=report.addresses,
                run_id=attempt.id,
            )

        request = kernel.finish_attempt(
            request_id,
            attempt,
            conclusion,
            extra=record,
            error=report.error,
            details={
                "result": report.result.value,
                "addresses": report.addresses,
                "paths": report.paths,
                **({DETAILS_KEY: explained.to_dict()} if explained else {}),
            },
        )
        checked: dict[str, Any] = {"result": report.result.value, "addresses": report.addresses}
        if explained is not None:
            checked[DETAILS_KEY] = explained.brief()
        kernel.emit(request, "drift_checked", actor, checked)
        if report.result is DriftResult.DRIFTED and previous is not DriftResult.DRIFTED:
            kernel.emit(
                request,
                "drift_detected",
                actor,
                {"addresses": report.addresses, "paths": report.paths},
            )
        if report.result is DriftResult.NONE and previous is DriftResult.DRIFTED:
            kernel.emit(request, "drift_cleared", actor, {})
        return request


def reconcile(kernel: Kernel, actor: str, request_id: str) -> Request:
    """Close runs that went stale (a process died mid-run) so the request can be retried.

    A stale attempt (no result long after it started, see ``[core] stale_after_seconds``) is
    completed with conclusion ``timed_out``; its lock has expired by then, so a new run may
    start. Attempts that are still fresh are left alone.
    """
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.PLAN, request)
    stale_after = timedelta(seconds=kernel.config.core.stale_after_seconds)
    closed: list[str] = []

    def mutate(current: Request) -> Request:
        closed.clear()
        for attempts in current.runs.values():
            for i, attempt in enumerate(attempts):
                if is_stale(attempt, now=kernel.now(), stale_after=stale_after):
                    attempts[i] = attempt.advanced(
                        status=RunStatus.COMPLETED,
                        conclusion=Conclusion.TIMED_OUT,
                        completed_at=kernel.now(),
                        error=f"reconciled by {actor}: no result after {stale_after}",
                    )
                    closed.append(attempt.id)
        return current

    request = update_request(kernel.store, request_id, mutate)
    if closed:
        kernel.emit(request, "runs_reconciled", actor, {"runs": list(closed)})
    return request
