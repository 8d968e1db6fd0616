"""Review: a reviewer's approval of exactly one plan, by its digest, with written overrides,
or its rejection (or a request for changes) with a written reason.

Who may reject is who may approve (the same access decision, ``Action.APPROVE``: the role, the
environment's allow-list and, in protected environments, four eyes), so an author cannot reject
their own change in a protected environment any more than approve it; an author who wants a
different change updates the request instead. Both bind to the digest of the current plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tfpilot_core.errors import (
    ConflictError,
    FieldProblem,
    PolicyBlockedError,
    ValidationError,
)
from tfpilot_core.lifecycle import RequestStatus, current_plan, current_rejection
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.models import (
    Approval,
    PolicyLevel,
    PolicyOverride,
    Rejection,
    Request,
    RunAttempt,
)
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

    Blocking findings cannot be overridden; every mandatory finding, and in a protected
    environment every opt-out, needs an override with a written reason (what
    :func:`required_overrides` lists). ``plan_digest`` names the plan reviewed: the full
    digest, or 12 or more of its leading hex digits (only the current plan can match, so a
    prefix is never ambiguous).
    Leaving it out approves whatever the current plan is: deprecated (a ``DeprecationWarning``;
    the CLI, API and UI always name the plan).
    """
    if plan_digest is None:
        warnings.warn(
            "approve() without plan_digest approves whatever the current plan is: deprecated, "
            "pass the digest of the plan that was reviewed (plan_digest=...)",
            DeprecationWarning,
            stacklevel=3,
        )
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.APPROVE, request)
    plan = reviewable_plan(kernel, request, "approve", (RequestStatus.PLAN_READY,))
    check_digest(request, plan, plan_digest)
    findings = request.policy_findings
    blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
    if blocking:
        raise PolicyBlockedError(
            "cannot approve: blocking policy findings cannot be overridden: "
            + "; ".join(f"{f.rule_id} ({f.address or 'request'})" for f in blocking)
        )
    given = checked_overrides(kernel, actor, overrides)
    needed = required_overrides(
        request, protected=kernel.environment(request.placement.environment).protected
    )
    missing = [r for r in needed if not r.accepted_by(given)]
    findings_missing = [r for r in missing if r.kind == "finding"]
    if findings_missing:
        raise PolicyBlockedError(
            "cannot approve: mandatory findings need an override with a reason: "
            + "; ".join(
                f"{r.rule_id} ({r.address or 'request'}): {r.message}" for r in findings_missing
            )
        )
    opt_outs_missing = [r for r in missing if r.kind == "opt_out"]
    if opt_outs_missing:
        raise PolicyBlockedError(
            "cannot approve: in a protected environment each opt-out needs the approver's "
            "override with a reason: "
            + "; ".join(
                f"{r.rule_id} (opted out by {r.actor}: {r.message}; accept with "
                f"--override {r.rule_id}=REASON)"
                for r in opt_outs_missing
            )
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


def checked_overrides(
    kernel: Kernel, actor: str, overrides: Sequence[Mapping[str, str]]
) -> list[PolicyOverride]:
    """The approver's overrides, each a ``rule_id``, a non-empty ``reason`` and optionally an
    ``address``; anything else is invalid input naming ``overrides[i]`` (exit 3), never an
    internal error.
    """
    problems: list[FieldProblem] = []
    for i, given in enumerate(overrides):
        where = f"overrides[{i}]"
        if not isinstance(given, Mapping):
            problems.append(FieldProblem(where, "type", "give a rule_id and a reason"))
            continue
        extra = sorted(str(k) for k in set(given) - {"rule_id", "reason", "address"})
        if extra:
            problems.append(FieldProblem(where, "keys", f"unknown keys {', '.join(extra)}"))
        for key in ("rule_id", "reason"):
            value = given.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(FieldProblem(f"{where}.{key}", "required", f"give a {key}"))
        address = given.get("address")
        if address is not None and not isinstance(address, str):
            problems.append(FieldProblem(f"{where}.address", "type", "must be text"))
    if problems:
        raise ValidationError(problems, subject="overrides")
    now = kernel.now()
    return [
        PolicyOverride(
            rule_id=o["rule_id"], reason=o["reason"], address=o.get("address"), actor=actor, at=now
        )
        for o in overrides
    ]


@dataclass(frozen=True)
class RequiredOverride:
    """One thing an approval of the current plan must override with a written reason.

    ``kind`` is ``finding`` (a mandatory policy finding: ``address`` is where, ``message`` the
    finding's words) or ``opt_out`` (an opt-out from a security default in a protected
    environment: ``actor`` opted out, ``message`` is their justification). An override names
    the ``rule_id``; for a finding it may also name the ``address``.
    """

    kind: Literal["finding", "opt_out"]
    rule_id: str
    message: str
    address: str | None = None
    actor: str | None = None
    #: The finding's position in ``Request.policy_findings`` (or the opt-out's in
    #: ``Request.opt_outs``): a stable key for a form field.
    index: int = 0

    def accepted_by(self, given: Sequence[PolicyOverride]) -> bool:
        """Whether one of the approver's overrides covers this."""
        if self.kind == "opt_out":
            return any(g.rule_id == self.rule_id for g in given)
        return any(g.rule_id == self.rule_id and g.address in (None, self.address) for g in given)


def required_overrides(request: Request, *, protected: bool) -> list[RequiredOverride]:
    """What an approval of ``request``'s current plan must override, each with a reason.

    Every mandatory finding; and, in a protected environment (``protected``: the request's
    environment's setting), every opt-out on the request, which is the approver's to accept
    (four eyes: someone other than the author who opted out). :func:`approve` refuses what is
    not covered; the web page, Slack's message and the PR comment list the same.
    """
    needed = [
        RequiredOverride("finding", f.rule_id, f.message, address=f.address, index=i)
        for i, f in enumerate(request.policy_findings)
        if f.level is PolicyLevel.MANDATORY
    ]
    if protected:
        needed += [
            RequiredOverride("opt_out", o.rule_id, o.justification, actor=o.actor, index=i)
            for i, o in enumerate(request.opt_outs)
        ]
    return needed


#: The longest reason a rejection may carry (a review comment, not a document).
REASON_MAX = 4000


def reviewable_plan(
    kernel: Kernel, request: Request, verb: str, statuses: tuple[RequestStatus, ...]
) -> RunAttempt:
    """The current plan, if the request's status lets it be reviewed (``verb``) now.

    :raises ConflictError: no successful plan of the current revision, or a status (rejected,
        approved, busy) that does not allow ``verb`` (a state, not a permission: exit 8).
    """
    status = kernel.status(request)
    plan = current_plan(request)
    if status in statuses and plan is not None and plan.plan_digest is not None:
        return plan
    rejection = current_rejection(request)
    if rejection is not None:
        refused = "asked for changes to" if rejection.request_changes else "rejected"
        raise ConflictError(
            f"cannot {verb}: {rejection.actor} {refused} plan {rejection.plan_digest[:12]} of "
            f"{request.id} ({rejection.reason}); update the request or plan again"
        )
    raise ConflictError(
        f"request {request.id} has no successful plan of revision {request.revision} to "
        f"{verb} (status {status.value})"
    )


def check_digest(request: Request, plan: RunAttempt, plan_digest: str | None) -> None:
    """The digest a reviewer names must be the current plan's (12 or more leading hex digits).

    :raises ValidationError: fewer than 12 characters (field ``plan_digest``).
    :raises ConflictError: another plan's digest, naming the current one.
    """
    if plan_digest is None:
        return
    assert plan.plan_digest is not None
    # The digest people review is shown shortened: 12 or more leading hex digits identify it.
    if len(plan_digest) < 12:
        raise ValidationError(
            [FieldProblem("plan_digest", "length", "give at least 12 characters of the digest")]
        )
    if not plan.plan_digest.startswith(plan_digest.lower()):
        raise ConflictError(
            f"plan {plan_digest[:12]} is not the current plan of {request.id} "
            f"(current: {plan.plan_digest[:12]}); review the new plan"
        )


def reject(
    kernel: Kernel,
    actor: str,
    request_id: str,
    *,
    plan_digest: str,
    reason: str,
    request_changes: bool = False,
) -> Request:
    """Reject the current plan (by its digest) with a written reason, or ask for changes.

    Who may: whoever may approve (:data:`Action.APPROVE`, four eyes included). A plan that is
    ready or already approved may be refused (one reviewer's refusal stops a plan another
    approved); the request is then ``rejected`` (or ``changes_requested``) until an update or a
    new plan. Records a :class:`~tfpilot_core.models.Rejection` and emits ``rejected`` (or
    ``changes_requested``) with the digest and the reason, which notifies the authors.

    :raises ValidationError: no reason, a reason over :data:`REASON_MAX` characters, or a
        digest shorter than 12 characters.
    :raises ConflictError: the digest is not the current plan's, or nothing is there to reject.
    """
    text = (reason or "").strip()
    if not text:
        raise ValidationError(
            [FieldProblem("reason", "required", "say why the plan is rejected (a written reason)")]
        )
    if len(text) > REASON_MAX:
        raise ValidationError(
            [FieldProblem("reason", "max_length", f"at most {REASON_MAX} characters")]
        )
    if not plan_digest:
        raise ValidationError(
            [FieldProblem("plan_digest", "required", "name the plan you reviewed by its digest")]
        )
    verb = "request changes to" if request_changes else "reject"
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.APPROVE, request)
    statuses = (RequestStatus.PLAN_READY, RequestStatus.APPROVED)
    plan = reviewable_plan(kernel, request, verb, statuses)
    check_digest(request, plan, plan_digest)
    digest, run = plan.plan_digest, plan.id
    assert digest is not None

    def mutate(current: Request) -> Request:
        latest = current_plan(current)
        if latest is None or latest.id != run or current.revision != request.revision:
            raise ConflictError(f"request {request_id} changed while rejecting; review it again")
        current.rejections.append(
            Rejection(
                actor=actor,
                revision=current.revision,
                plan_digest=digest,
                run=run,
                at=kernel.now(),
                reason=text,
                request_changes=request_changes,
            )
        )
        current.updated_at = kernel.now()
        return current

    stored = update_request(kernel.store, request_id, mutate)
    kind = "changes_requested" if request_changes else "rejected"
    kernel.emit(stored, kind, actor, {"plan_digest": digest, "run": run, "reason": text})
    return stored
