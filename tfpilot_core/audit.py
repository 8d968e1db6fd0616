"""The audit export: a change decision record derived only from what is stored.

Deterministic: the same stored request and events always give the same record (keys sorted, no
clock reads), so two exports can be compared byte for byte. Each apply is bound to the plan it
applied (digest), that plan's policy findings and cost, and the approvals of that digest.
"""

from __future__ import annotations

from typing import Any

from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Event, Request, RunKind

AUDIT_FORMAT = "tfpilot.audit/1"


def audit_record(
    request: Request,
    events: list[Event],
    status: RequestStatus,
    *,
    chain: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The change decision record of ``request``.

    ``chain`` is its promotion chain (:meth:`tfpilot_core.promotion.Promotions.chain`): every
    step from the first environment on, with each step's plan digest and approvers.
    """
    plans = {p.plan_digest: p for p in request.attempts(RunKind.PLAN) if p.plan_digest}
    changes = []
    for apply in request.attempts(RunKind.APPLY):
        plan = plans.get(apply.plan_digest or "")
        approvals = [a for a in request.approvals if a.plan_digest == apply.plan_digest]
        changes.append(
            {
                "apply_run": apply.id,
                "applied_by": apply.actor,
                "conclusion": apply.conclusion.value if apply.conclusion else None,
                "started_at": _iso(apply.started_at),
                "completed_at": _iso(apply.completed_at),
                "revision": apply.revision,
                "plan_digest": apply.plan_digest,
                "plan_run": plan.id if plan else None,
                "planned_by": plan.actor if plan else None,
                "module_version": apply.module_version,
                "policy_findings": plan.details.get("findings", []) if plan else [],
                "cost": plan.details.get("cost") if plan else None,
                "approvals": [
                    {
                        "actor": a.actor,
                        "at": _iso(a.at),
                        "comment": a.comment,
                        "overrides": [o.model_dump(mode="json") for o in a.overrides],
                    }
                    for a in approvals
                ],
            }
        )
    from tfpilot_core.chain import verify

    hash_chain = verify(events)
    return {
        "format": AUDIT_FORMAT,
        # The head of the event hash chain: compare it with `tfpilot audit verify` later.
        "event_chain": {
            "head": hash_chain.head,
            "ok": hash_chain.ok,
            "broken_at": hash_chain.broken_at,
        },
        "request": {
            "id": request.id,
            "placement": request.placement.model_dump(mode="json"),
            "created_by": request.created_by,
            "created_at": _iso(request.created_at),
            "revision": request.revision,
            "status": status.value,
            "opt_outs": [o.model_dump(mode="json") for o in request.opt_outs],
            "promoted_from": request.promoted_from,
            "promoted_by": request.promoted_by,
            "promoted_to": list(request.promoted_to),
            "promotion": request.promotion,
        },
        "promotion_chain": chain or [],
        "changes": changes,
        "destroys": [
            {
                "run": d.id,
                "actor": d.actor,
                "conclusion": d.conclusion.value if d.conclusion else None,
                "archived_state": d.details.get("archived_state"),
                "completed_at": _iso(d.completed_at),
            }
            for d in request.attempts(RunKind.DESTROY)
        ],
        "events": [
            {
                "seq": e.seq,
                "type": e.type,
                "at": _iso(e.at),
                "actor": e.actor,
                "revision": e.revision,
                "data": e.data,
                "prev_digest": e.prev_digest,
            }
            for e in events
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
