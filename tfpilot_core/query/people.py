"""Who did what to a request, and the query checks on people and closed time windows.

Read from the request document alone (approvals and run attempts), so these checks cost no
event reads: the approvers of a request are the actors of its approvals, its appliers the
actors of its successful apply attempts, its planners the actors of its plan attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Conclusion, DriftResult, Request, RunKind
from tfpilot_core.query.model import Query

__all__ = ["actions", "appliers", "approvers", "people_checks", "planners"]

Check = Callable[[Request, RequestStatus | None], bool]


def approvers(request: Request) -> list[str]:
    """Who approved ``request`` (any revision), in the order they did."""
    return list(dict.fromkeys(a.actor for a in request.approvals))


def appliers(request: Request) -> list[str]:
    """Who ran a successful apply of ``request``, in the order they did."""
    return list(
        dict.fromkeys(
            a.actor for a in request.attempts(RunKind.APPLY) if a.conclusion is Conclusion.SUCCESS
        )
    )


def planners(request: Request) -> list[str]:
    """Who started a plan of ``request``, in the order they did."""
    return list(dict.fromkeys(a.actor for a in request.attempts(RunKind.PLAN)))


def actions(request: Request) -> list[tuple[str, datetime]]:
    """Who acted on ``request`` and when: its creation, each revision, each approval and each
    run attempt started (plan, apply, destroy, drift check)."""
    done = [(request.created_by, request.created_at)]
    done += [(r.actor, r.at) for r in request.revision_authors]
    done += [(a.actor, a.at) for a in request.approvals]
    done += [(a.actor, a.created_at) for runs in request.runs.values() for a in runs]
    return done


def _acted(query: Query) -> Check:
    wanted = frozenset(query.actors)
    since, before = query.acted_since, query.acted_before
    return lambda r, s: any(
        (not wanted or who in wanted)
        and (since is None or at >= since)
        and (before is None or at < before)
        for who, at in actions(r)
    )


def _anyone(get: Callable[[Request], list[str]], wanted: frozenset[str]) -> Check:
    return lambda r, s: any(who in wanted for who in get(r))


def people_checks(
    query: Query, applied_at: Callable[[Request], datetime | None]
) -> list[tuple[str, Check]]:
    """The checks of ``query``'s ids, people filters and upper time bounds (named for the plan).

    ``applied_at`` is the query engine's "when was it applied" (one rule, passed in).
    """
    checks: list[tuple[str, Check]] = []
    if query.ids:
        ids = frozenset(query.ids)
        checks.append(("id", lambda r, s: r.id in ids))
    for name, values, get in (
        ("approver", query.approvers, approvers),
        ("applier", query.appliers, appliers),
        ("planner", query.planners, planners),
    ):
        if values:
            checks.append((name, _anyone(get, frozenset(values))))
    if query.actors or query.acted_since is not None or query.acted_before is not None:
        checks.append(("actor", _acted(query)))
    if query.applied_before is not None:
        applied_limit = query.applied_before

        def _applied_before(r: Request, s: RequestStatus | None) -> bool:
            at = applied_at(r)
            return at is not None and at < applied_limit

        checks.append(("applied before", _applied_before))
    if query.drifted_before is not None:
        drift_limit = query.drifted_before
        checks.append(
            (
                "drifted before",
                lambda r, s: (
                    r.drift is not None
                    and r.drift.result is DriftResult.DRIFTED
                    and r.drift.checked_at < drift_limit
                ),
            )
        )
    return checks
