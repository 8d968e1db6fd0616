"""What the request page shows a reviewer beyond the request itself: the structured plan diff
(from :mod:`tfpilot_core.plan_diff`, the one renderer), who must act next (from the core's
access decisions), which approvals a newer plan superseded, and who asked for a destroy.

Nothing here decides: every "may" is :meth:`tfpilot_core.access.Access.may`/``check`` (through
:func:`tfpilot_web.core.may`), and the reasons shown are the core's own refusal messages.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import ForbiddenError
from tfpilot_core.lifecycle import current_rejection
from tfpilot_core.lifecycle.approvals import required_overrides
from tfpilot_core.lifecycle.attempts import active_attempts
from tfpilot_core.models import PolicyLevel, RunKind, RunStatus
from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.models import Request, RunAttempt
    from tfpilot_core.platform import Platform

#: Resources per page of the diff; a plan with more is paged (the page stays small).
PAGE = 50
#: Up to this many resources, each resource's attributes are shown open.
OPEN_UP_TO = 10


def diff_document(
    platform: Platform, request: Request, digest: str | None, *, offset: int = 0, limit: int = PAGE
) -> dict[str, Any] | None:
    """The structured diff of the plan ``digest`` of ``request``, paged, or ``None`` when the
    plan's diff was not recorded (a plan made before diffs were stored)."""
    from tfpilot_core import plan_diff

    if digest is None:
        return None
    resources = plan_diff.load(platform.store, request.id, digest)
    if resources is None:
        return None
    offset = max(0, min(offset, max(0, len(resources) - 1)))
    return plan_diff.build(
        resources,
        findings=request.policy_findings,
        cost=request.cost,
        offset=offset,
        limit=limit,
    )


def _who(platform: Platform, action: Action, request: Request) -> list[str]:
    access = platform.access
    return sorted(u for u in platform.config.users if access.may(u, action, request))


def _names(users: list[str]) -> str:
    if not users:
        return "nobody configured"
    if len(users) == 1:
        return users[0]
    return ", ".join(users[:-1]) + " or " + users[-1]


def _refusal(platform: Platform, actor: str, action: Action, request: Request) -> str | None:
    try:
        platform.access.check(actor, action, request)
    except ForbiddenError as exc:
        return exc.message
    return None


def destroy_requester(request: Request) -> str | None:
    """Who asked for the destroy the current plan carries, if it is a destroy plan."""
    plan = request.latest(RunKind.PLAN)
    if plan is not None and plan.details.get("destroy") and plan.revision == request.revision:
        return plan.actor
    return None


def next_step(platform: Platform, actor: str, request: Request, status: str) -> dict[str, Any]:
    """What the request needs next, who may do it, and why ``actor`` may not (if so).

    ``{"text": ..., "who": [...], "action": "approve" | ..., "refused": reason | None}``.
    """
    env = request.placement.environment
    scope = f"{request.placement.project}/{env}"
    blocking = [f for f in request.policy_findings if f.level is PolicyLevel.BLOCKING]

    def needs(action: Action, what: str, role_words: str) -> dict[str, Any]:
        who = _who(platform, action, request)
        authors = sorted(request.change_authors())
        text = f"needs {what} by {role_words} in {scope}"
        if action is Action.APPROVE and platform.environment(env).protected:
            text += f" other than {_names(authors).replace(' or ', ' and ')}"
        text += f": {_names(who)}"
        return {
            "text": text,
            "who": who,
            "action": action.value,
            "refused": _refusal(platform, actor, action, request),
        }

    if status in ("planning", "applying", "destroying", "drift_checking"):
        return {"text": f"Terraform is running ({status}); wait for it", "who": [], "action": None}
    rejection = current_rejection(request)
    if status in ("rejected", "changes_requested") and rejection is not None:
        verb = "asked for changes" if rejection.request_changes else "rejected the plan"
        step = needs(Action.UPDATE, "a change of inputs (or a new plan)", "a developer")
        step["text"] = (
            f"is {status.replace('_', ' ')}: {rejection.actor} {verb} "
            f"({rejection.reason}); it " + step["text"]
        )
        return step
    if status == "plan_ready" and blocking:
        rules = ", ".join(sorted({f.rule_id for f in blocking}))
        step = needs(Action.UPDATE, "a change of inputs and a new plan", "a developer")
        step["text"] = f"blocked by policy ({rules}): " + step["text"]
        return step
    if status == "plan_ready":
        return needs(Action.APPROVE, "approval", "an approver")
    if status == "approved" and destroy_requester(request) is not None:
        # Applying a destroy plan is a destroy: it needs the destroy right.
        return needs(Action.DESTROY, "the apply of the destroy", "someone allowed to destroy")
    if status == "approved":
        return needs(Action.APPLY, "the apply", "someone allowed to apply")
    if status in ("request_created", "failed"):
        return needs(Action.PLAN, "a plan", "a developer")
    if status == "applied":
        return needs(Action.DRIFT_CHECK, "nothing now; drift checks", "anyone allowed to check")
    return {"text": "nothing: this request is finished", "who": [], "action": None}


def approvals(request: Request, digest: str | None) -> list[dict[str, Any]]:
    """Each approval, marked superseded when it binds to an earlier plan or revision."""
    return [
        {
            "actor": a.actor,
            "plan_digest": a.plan_digest,
            "revision": a.revision,
            "at": a.at,
            "comment": a.comment,
            "overrides": a.overrides,
            "superseded": a.revision != request.revision or a.plan_digest != digest,
        }
        for a in request.approvals
    ]


def rejections(request: Request) -> list[dict[str, Any]]:
    """Each rejection or request for changes, marked superseded when a newer plan or revision
    came since (only the current plan's one stops it)."""
    current = current_rejection(request)
    return [
        {
            "actor": r.actor,
            "plan_digest": r.plan_digest,
            "revision": r.revision,
            "at": r.at,
            "reason": r.reason,
            "request_changes": r.request_changes,
            "superseded": r != current,
        }
        for r in request.rejections
    ]


def queued_run(request: Request) -> RunAttempt | None:
    """The request's run that waits for its runner (dispatched, not started), if any."""
    return next((a for a in active_attempts(request) if a.status is RunStatus.QUEUED), None)


def may_cancel(platform: Platform, actor: str, request: Request, attempt: RunAttempt) -> bool:
    """Whether the core would let ``actor`` cancel ``attempt`` (its starter, or an admin)."""
    try:
        platform.access.check_cancel(actor, request, attempt.actor)
    except ForbiddenError:
        return False
    return True


def needs_confirmation(platform: Platform, request: Request) -> bool:
    """Apply and destroy in a protected environment ask to type the request's id first."""
    return platform.environment(request.placement.environment).protected


def overrides_to_give(platform: Platform, request: Request) -> list[dict[str, Any]]:
    """What approving the current plan must override with a reason: the core's list
    (:func:`tfpilot_core.lifecycle.approvals.required_overrides`), each a dict with ``kind``
    (``finding`` or ``opt_out``), ``rule_id``, ``message``, ``address``, ``actor``, ``index``."""
    protected = platform.environment(request.placement.environment).protected
    return [asdict(r) for r in required_overrides(request, protected=protected)]


def overrides_from_form(needed: list[dict[str, Any]], form: dict[str, str]) -> list[dict[str, str]]:
    """``[{"rule_id", "reason"}]`` from the approve form, as ``tfpilot approve --override
    RULE=REASON`` records them: one reason per mandatory finding (``override.<index>``) or one
    for all of them (``override_all``), and one per opt-out to accept (``accept.<index>``: an
    opt-out is accepted deliberately, never by the shared reason)."""
    shared = form.get("override_all", "").strip()
    given: dict[str, str] = {}
    for r in needed:
        if r["kind"] == "opt_out":
            reason = form.get(f"accept.{r['index']}", "").strip()
        else:
            reason = form.get(f"override.{r['index']}", "").strip() or shared
        if reason and r["rule_id"] not in given:
            given[r["rule_id"]] = reason
    return [{"rule_id": rule, "reason": reason} for rule, reason in given.items()]


#: Event types in words (the timeline); ``{...}`` names a key of the event's data.
EVENT_WORDS = {
    "request_created": "created the request",
    "request_updated": "changed the inputs (new revision)",
    "plan_started": "started a plan",
    "plan_succeeded": "planned",
    "plan_failed": "plan failed",
    "policy_evaluated": "policy checked",
    "policy_blocked": "policy blocked the plan",
    "policy_overridden": "overrode a mandatory finding",
    "cost_estimated": "estimated the cost",
    "approval_required": "asked for approval",
    "approved": "approved",
    "rejected": "rejected",
    "changes_requested": "asked for changes",
    "run_cancelled": "cancelled a queued run",
    "apply_started": "started the apply",
    "applied": "applied",
    "apply_failed": "apply failed",
    "destroy_started": "started the destroy",
    "destroyed": "destroyed",
    "destroy_failed": "destroy failed",
    "drift_checked": "checked drift",
    "drift_detected": "found drift",
    "promoted": "promoted",
}


def _figure(event_type: str, data: dict[str, Any]) -> str:
    """The key figure of an event, in a few words."""
    if event_type == "plan_succeeded" and isinstance(data.get("counts"), dict):
        counts = data["counts"]
        return ", ".join(f"{n} to {k}" for k, n in sorted(counts.items())) or "no changes"
    if event_type in ("approved", "approval_required") and data.get("plan_digest"):
        comment = f": “{data['comment']}”" if data.get("comment") else ""
        return f"plan {str(data['plan_digest'])[:12]}{comment}"
    if event_type in ("rejected", "changes_requested") and data.get("plan_digest"):
        return f"plan {str(data['plan_digest'])[:12]}: “{data.get('reason', '')}”"
    if event_type == "run_cancelled":
        return f"{data.get('kind', '')} run {data.get('run', '')}"
    if event_type == "policy_overridden":
        return f"{data.get('rule_id', '')}: “{data.get('reason', '')}”"
    if event_type == "cost_estimated" and "monthly" in data:
        monthly = data.get("monthly")
        return f"{monthly} {data.get('currency', '')}/month" if monthly is not None else "unknown"
    if event_type == "policy_evaluated" and isinstance(data.get("findings"), list):
        return f"{len(data['findings'])} finding(s)"
    if data.get("error"):
        return str(data["error"])[:200]
    return ""


def timeline_groups(events: list[Any]) -> list[dict[str, Any]]:
    """Events as lines (who, what, key figure), grouped by revision, newest revision first."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        groups.setdefault(e.revision, []).append(
            {
                "at": e.at,
                "actor": e.actor,
                "type": e.type,
                "text": EVENT_WORDS.get(e.type, e.type.replace("_", " ")),
                "figure": _figure(e.type, e.data),
                "data": e.data,
            }
        )
    return [{"revision": rev, "events": groups[rev]} for rev in sorted(groups, reverse=True)]


_LEVEL_ORDER = {"blocking": 3, "mandatory": 2, "advisory": 1}
_RISK_ORDER = {"high": 3, "medium": 2, "low": 1}


def inbox_row(
    platform: Platform, request: Request, view: dict[str, Any], digest: str | None
) -> dict[str, Any]:
    """One approvals inbox row: kind of change, counts, cost delta, highest finding, risk, age."""
    from tfpilot_core.errors import NotFoundError

    plan = request.latest(RunKind.PLAN)
    counts = dict(plan.details.get("counts", {})) if plan is not None else {}
    kind = (
        "destroy"
        if destroy_requester(request)
        else ("update" if request.revision > 1 or request.attempts(RunKind.APPLY) else "create")
    )
    levels = [f.level.value for f in request.policy_findings]
    highest = max(levels, key=lambda v: _LEVEL_ORDER.get(v, 0)) if levels else None
    cost = request.cost
    delta = None
    if cost is not None and cost.monthly is not None:
        delta = cost.monthly - (cost.previous or 0)
    try:
        risk = str(platform.catalog.get(request.placement.module).risk)
    except NotFoundError:
        risk = "unknown"
    since = plan.completed_at or plan.created_at if plan is not None else request.created_at
    return {
        **view,
        "digest": digest,
        "kind": kind,
        "counts": counts,
        "change_total": sum(counts.values()),
        "delta": delta,
        "currency": cost.currency if cost is not None else "",
        "highest": highest,
        "risk": risk,
        "since": since,
    }


#: Sort keys of the approvals inbox (``?sort=key`` or ``?sort=-key`` for descending).
INBOX_SORTS: dict[str, Any] = {
    "age": lambda row: row["since"],
    "request": lambda row: row["id"],
    "environment": lambda row: row["placement"]["environment"],
    "changes": lambda row: row["change_total"],
    "cost": lambda row: row["delta"] if row["delta"] is not None else 0,
    "finding": lambda row: _LEVEL_ORDER.get(row["highest"] or "", 0),
    "risk": lambda row: _RISK_ORDER.get(row["risk"], 0),
    "kind": lambda row: row["kind"],
}


def drift_state(view: dict[str, Any]) -> str:
    """``drifted``, ``none``, ``error`` or ``unchecked`` for a request's public view."""
    drift = view.get("drift")
    if not drift:
        return "unchecked"
    return str(drift.get("result") or "unchecked")


def drift_paths(request: Request) -> dict[str, list[str]]:
    """The attribute paths of the last drift check, by address (from its run's details)."""
    drift = request.drift
    if drift is None or drift.run_id is None:
        return {}
    for attempt in request.attempts(RunKind.DRIFT):
        if attempt.id == drift.run_id:
            paths = attempt.details.get("paths")
            return dict(paths) if isinstance(paths, dict) else {}
    return {}
