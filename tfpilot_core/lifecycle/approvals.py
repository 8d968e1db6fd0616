"""Approve: a reviewer's approval of exactly one plan, by its digest, with written overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tfpilot_core.errors import (
    ConflictError,
    FieldProblem,
    PolicyBlockedError,
    ValidationError,
)
from tfpilot_core.lifecycle import RequestStatus, current_plan
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.models import Approval, PolicyLevel, PolicyOverride, Request
from tfpilot_core.rbac import Action
from tfpilot_core.stores.cas import update_request


def approve(
    kernel: Kernel,
    actor: str,
    request_id: str,
    *,
    plan_digest: str | None = None,
    comment: str = "",
    overrides: Sequence[Mapping[str, str]] = (),
) -> Request:
    """Approve the current revision's plan (by its digest), overriding mandatory findings.

    Blocking findings cannot be overridden; every mandatory finding needs an override with a
    written reason.
    """
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.APPROVE, request)
    status = kernel.status(request)
    plan = current_plan(request)
    if status is not RequestStatus.PLAN_READY or plan is None or plan.plan_digest is None:
        # A state, not a permission: exit 8.
        raise ConflictError(
            f"request {request_id} has no successful plan of revision {request.revision} to "
            f"approve (status {status.value})"
        )
    # The digest people review is shown shortened: 12 or more leading hex digits identify it.
    if plan_digest is not None and len(plan_digest) < 12:
        raise ValidationError(
            [FieldProblem("plan_digest", "length", "give at least 12 characters of the digest")]
        )
    if plan_digest is not None and not (
        len(plan_digest) >= 12 and plan.plan_digest.startswith(plan_digest.lower())
    ):
        raise ConflictError(
            f"plan {plan_digest[:12]} is not the current plan of {request_id} "
            f"(current: {plan.plan_digest[:12]}); review the new plan"
        )
    findings = request.policy_findings
    blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
    if blocking:
        raise PolicyBlockedError(
            "cannot approve: blocking policy findings cannot be overridden: "
            + "; ".join(f"{f.rule_id} ({f.address or 'request'})" for f in blocking)
        )
    given = [PolicyOverride(actor=actor, at=kernel.now(), **o) for o in overrides]
    missing = [
        f
        for f in findings
        if f.level is PolicyLevel.MANDATORY
        and not any(o.rule_id == f.rule_id and o.address in (None, f.address) for o in given)
    ]
    if missing:
        raise PolicyBlockedError(
            "cannot approve: mandatory findings need an override with a reason: "
            + "; ".join(f"{f.rule_id} ({f.address or 'request'}): {f.message}" for f in missing)
        )
    digest = plan.plan_digest

    def mutate(current: Request) -> Request:
        latest = current_plan(current)
        if latest is None or latest.plan_digest != digest or current.revision != request.revision:
            raise ConflictError(f"request {request_id} changed while approving; review it again")
        current.approvals.append(
            Approval(
                actor=actor,
                revision=current.revision,
                plan_digest=digest,
                at=kernel.now(),
                comment=comment,
                overrides=given,
            )
        )
        return current

    stored = update_request(kernel.store, request_id, mutate)
    for override in given:
        kernel.emit(stored, "policy_overridden", actor, override.model_dump(mode="json"))
    kernel.emit(stored, "approved", actor, {"plan_digest": digest, "comment": comment})
    return stored
