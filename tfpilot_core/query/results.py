"""Result rows of the query layer: one listing row per request (used by every query path)."""

from __future__ import annotations

from datetime import datetime

from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Conclusion, Request, RunKind
from tfpilot_core.query.model import ResultRow
from tfpilot_core.query.people import appliers, approvers, planners

__all__ = ["applied_at", "row_of"]


def applied_at(request: Request) -> datetime | None:
    """When the latest successful apply completed (``None`` if never applied)."""
    for attempt in reversed(request.attempts(RunKind.APPLY)):
        if attempt.conclusion is Conclusion.SUCCESS:
            return attempt.completed_at or attempt.created_at
    return None


def row_of(request: Request, status: RequestStatus) -> ResultRow:
    """A listing row for ``request`` (placement, status, cost, drift; never inputs)."""
    cost = request.cost
    return ResultRow(
        id=request.id,
        status=status.value,
        project=request.placement.project,
        environment=request.placement.environment,
        module=request.placement.module,
        author=request.created_by,
        created_at=request.created_at,
        applied_at=applied_at(request),
        monthly_cost=cost.monthly if cost else None,
        cost_delta=cost.delta if cost else None,
        drift=request.drift.result.value if request.drift else None,
        drift_checked_at=request.drift.checked_at if request.drift else None,
        approvers=approvers(request),
        appliers=appliers(request),
        planners=planners(request),
    )
