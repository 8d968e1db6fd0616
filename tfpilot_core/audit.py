"""The audit export: a change decision record derived only from what is stored.

Deterministic: the same stored request and events always give the same record (keys sorted, no
clock reads), so two exports can be compared byte for byte. Each apply is bound to the plan it
applied (digest), that plan's policy findings and cost, and the approvals of that digest.
"""

from __future__ import annotations

from typing import Any

from tfpilot_core.event_chain import verify
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Event, Request, RunAttempt, RunKind

AUDIT_FORMAT = "tfpilot.audit/1"


def audit_record(
    request: Request,
    events: list[Event],
    status: RequestStatus,
    *,
    chain: list[dict[str, Any]] | None = None,
    chain_key: bytes | None = None,
) -> dict[str, Any]:
    """The change decision record of ``request``.

    ``chain`` is its promotion chain (:meth:`tfpilot_core.promotion.Promotions.chain`): every
    step from the first environment on, with each step's plan digest and approvers.
    ``chain_key`` (the configured chain key, if any) checks the chain anchor's signature.
    """
    plans = {p.plan_digest: p for p in request.attempts(RunKind.PLAN) if p.plan_digest}
    changes = []
    for apply in request.attempts(RunKind.APPLY):
        changes.append(
            {
                "apply_run": apply.id,
                "applied_by": apply.actor,
                "conclusion": apply.conclusion.value if apply.conclusion else None,
                "started_at": _iso(apply.started_at),
                "completed_at": _iso(apply.completed_at),
                "revision": apply.revision,
                **_decision(request, apply, plans),
            }
        )

    hash_chain = verify(events, request.chain_anchor, key=chain_key)
    anchor = request.chain_anchor
    return {
        "format": AUDIT_FORMAT,
        # The head of the event hash chain and its anchor on the request (count, head digest,
        # signature): compare them with `tfpilot audit verify` and with the store later.
        "event_chain": {
            "head": hash_chain.head,
            "ok": hash_chain.ok,
            "broken_at": hash_chain.broken_at,
            "reason": hash_chain.reason,
            "anchored": hash_chain.anchored,
            "anchor": anchor.model_dump(mode="json") if anchor is not None else None,
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
        # A destroy is a decision like a change: the plan it carried out, who approved it,
        # with which overrides, and that plan's findings and cost.
        "destroys": [
            {
                "run": d.id,
                "actor": d.actor,
                "conclusion": d.conclusion.value if d.conclusion else None,
                "archived_state": d.details.get("archived_state"),
                "started_at": _iso(d.started_at),
                "completed_at": _iso(d.completed_at),
                "revision": d.revision,
                **_decision(request, d, plans),
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


def _decision(request: Request, run: RunAttempt, plans: dict[str, RunAttempt]) -> dict[str, Any]:
    """What an apply or destroy ``run`` carried out and on whose word: its plan (digest, who
    planned it, its policy findings and cost) and the approvals of that digest, overrides and
    all. One shape for changes and destroys."""
    plan = plans.get(run.plan_digest or "")
    approvals = [
        a for a in request.approvals if run.plan_digest and a.plan_digest == run.plan_digest
    ]
    return {
        "plan_digest": run.plan_digest,
        "plan_run": plan.id if plan else None,
        "planned_by": plan.actor if plan else None,
        "module_version": run.module_version,
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


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
