"""Apply and destroy: the one apply gate, and the steps that apply exactly the approved plan.

:func:`apply_gate` is the rule that guards every environment, production included: who may
apply, that the plan was approved (or may apply itself under ``auto_apply``, inside policy), that
the module did not change, and that the saved plan file is the approved digest. The local path
(:func:`apply`, :func:`destroy`) and a job executing a dispatched attempt
(:mod:`tfpilot_core.runs.executor`) both pass through it and then through :func:`run_apply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from tfpilot_core.errors import (
    ConfigError,
    ConflictError,
    FieldProblem,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from tfpilot_core.lifecycle import RequestStatus, current_approval, current_plan
from tfpilot_core.lifecycle.approvals import approve
from tfpilot_core.lifecycle.attempts import record_dispatch
from tfpilot_core.lifecycle.changes import refuse_blocking
from tfpilot_core.lifecycle.kernel import (
    Kernel,
    changed_meanwhile,
    dispatching,
    masked_outputs,
    not_busy,
    plans_destroys,
    run_failed,
    sha256,
)
from tfpilot_core.lifecycle.planning import plan, plan_checks
from tfpilot_core.models import (
    Approval,
    Conclusion,
    PolicyLevel,
    Request,
    RunAttempt,
    RunKind,
)
from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.interfaces import Runner

tracer = trace.get_tracer("tfpilot")


def apply_gate(
    kernel: Kernel, actor: str, request: Request
) -> tuple[RunAttempt, Approval | None, ModuleSpec, bytes]:
    """Everything that must hold to apply ``request``'s current plan now.

    Returns the plan attempt, its approval (``None`` under ``auto_apply``), the module and the
    saved plan file. Called before the request lock is taken (to fail fast) and again right
    after, on a fresh read, so that a second process that waited for the lock never acts on what
    it saw before (no check-then-act race). A job checks the request as it was before its own
    attempt was queued (:func:`tfpilot_core.lifecycle.attempts.without_attempt`).

    :raises ForbiddenError: the actor may not, or nothing approved is there to apply.
    :raises ConflictError: a run is in progress, the module changed, or the plan file is not the
        approved digest.
    """
    env = kernel.environment(request.placement.environment)
    status = kernel.status(request)
    not_busy(request, status)
    current = current_plan(request)
    # auto_apply lets a plan with nothing to override be applied without an approval; a plan
    # with blocking or mandatory findings still goes through approve (which refuses blocking
    # ones and records an approver's overrides of mandatory ones).
    needs_approval = any(
        f.level in (PolicyLevel.BLOCKING, PolicyLevel.MANDATORY) for f in request.policy_findings
    )
    destroying = current is not None and bool(current.details.get("destroy"))
    automatic = (
        env.auto_apply
        and not env.protected
        and not destroying
        and status is RequestStatus.PLAN_READY
        and not needs_approval
    )
    action = Action.DESTROY if destroying else Action.APPLY
    why = ""
    if env.auto_apply and status is RequestStatus.PLAN_READY and needs_approval:
        why = "; its policy findings need an approver (auto_apply stays inside policy)"
    try:
        kernel.access.check(actor, action, request, automatic=automatic)
    except ForbiddenError as exc:
        raise ForbiddenError(exc.message + why) from None
    if (
        current is None
        or current.plan_digest is None
        or (status is not RequestStatus.APPROVED and not automatic)
    ):
        # A state, not a permission: exit 8 (a conflict with what is stored), not 6.
        raise ConflictError(
            f"request {request.id} has no approved plan to apply (status {status.value}){why}"
        )
    approval = current_approval(request)
    if approval is None and not automatic:
        raise ConflictError(f"request {request.id}: the plan was not approved")
    spec = kernel.catalog.get(request.placement.module)
    if current.module_version and spec.version != current.module_version:
        raise ConflictError(
            f"module {spec.name} changed since the plan was made (version "
            f"{current.module_version[:12]} -> {spec.version[:12]}); plan again"
        )
    plan_file = kernel.store.get_artifact(request.id, f"{current.id}.tfplan")
    if sha256(plan_file) != current.plan_digest:
        raise ConflictError(
            f"the saved plan of {request.id} does not match its approved digest "
            f"({current.plan_digest[:12]}): refusing to apply a tampered plan"
        )
    return current, approval, spec, plan_file


def apply(kernel: Kernel, actor: str, request_id: str) -> Request:
    """Apply exactly the approved plan, refusing if anything changed since the approval.

    The current plan may be a destroy plan (:func:`destroy`): applying it destroys what the
    request created and is recorded as a destroy run.
    """
    apply_gate(kernel, actor, kernel.get(request_id))
    runner = kernel.runner()
    with kernel.locked(request_id, actor, "apply"):
        # Re-read and re-check under the lock: whatever we saw before may have changed.
        request = kernel.get(request_id)
        with changed_meanwhile(request_id):
            current, approval, spec, plan_file = apply_gate(kernel, actor, request)
        kind = RunKind.DESTROY if current.details.get("destroy") else RunKind.APPLY
        with tracer.start_as_current_span(
            f"tfpilot.{kind.value}", attributes={"tfpilot.request_id": request_id}
        ):
            request, attempt = kernel.start_attempt(
                request_id,
                kind,
                actor,
                kernel.config.core.runner,
                queued=dispatching(runner),
                plan_digest=current.plan_digest,
                module_version=spec.version,
            )
            approvers = [approval.actor] if approval else []
            kernel.emit(
                request,
                f"{kind.value}_started",
                actor,
                {"run": attempt.id, "plan_digest": current.plan_digest, "approvers": approvers},
            )
            return run_apply(kernel, request, attempt, current, spec, plan_file, runner)


def run_apply(
    kernel: Kernel,
    request: Request,
    attempt: RunAttempt,
    current: RunAttempt,
    spec: ModuleSpec,
    plan_file: bytes,
    runner: Runner,
) -> Request:
    """The steps of a started apply (or destroy) attempt of the approved plan ``current``.

    The caller holds the lock and has passed :func:`apply_gate`. An apply stores the new state
    and the masked outputs; a destroy archives the state as it was before. A runner that
    dispatches the run leaves the attempt queued.
    """
    kind = attempt.kind
    actor = attempt.actor
    before: bytes | None = None
    if kind is RunKind.DESTROY:
        # The state as it was before the destroy is the archive (what the request had created).
        try:
            before = kernel.store.get_artifact(request.id, "state.tfstate")
        except NotFoundError:
            before = None
    details: dict[str, Any] = {}
    with kernel.recording_failure(request, attempt, actor, f"{kind.value}_failed"):
        result = runner.apply(
            kernel.run_spec(request, spec), plan_file, rendered_digest=current.rendered_digest
        )
        if result.dispatched:
            return record_dispatch(kernel, request.id, attempt, actor, result)
        if not result.success:
            raise run_failed(kind.value, request, result)
        if kind is RunKind.DESTROY:
            details["archived_state"] = (
                kernel.store.put_artifact(request.id, "final-state.tfstate", before)
                if before is not None
                else None
            )
        else:
            if result.state is not None:
                kernel.store.put_artifact(request.id, "state.tfstate", result.state)
            details["outputs"] = masked_outputs(result)
    request = kernel.finish_attempt(request.id, attempt, Conclusion.SUCCESS, details=details)
    data: dict[str, Any] = {"run": attempt.id, "plan_digest": current.plan_digest}
    if kind is RunKind.DESTROY:
        data["archived_state"] = details["archived_state"]
    kernel.emit(request, f"{kind.value}_succeeded", actor, data)
    return request


def destroy(kernel: Kernel, actor: str, request_id: str, *, yes: bool = False) -> Request:
    """Destroy as a reviewed change: make a destroy plan, and apply it once it may be.

    The destroy plan gets a summary, policy and a cost delta like any plan. In a protected
    environment it needs an approval by someone other than whoever asked for the destroy (four
    eyes), then :func:`apply` applies exactly that plan. In an unprotected environment
    ``yes=True`` does both steps at once; in a protected one it is refused before anything is
    planned (a ``--yes`` that quietly only planned read as done).

    :raises ValidationError: ``yes=True`` in a protected environment (exit 3).
    """
    request = kernel.get(request_id)
    env = kernel.environment(request.placement.environment)
    # Who may destroy is decided before anything about how (a viewer gets 403, not 500).
    kernel.access.check(actor, Action.DESTROY, request)
    if yes and env.protected:
        raise ValidationError(
            [
                FieldProblem(
                    "yes",
                    "protected",
                    f"--yes cannot destroy in protected environment {env.key}: a destroy there "
                    "is a reviewed change; run without --yes to make a destroy plan, which "
                    "someone else approves, then apply it",
                )
            ],
            subject="destroy",
        )
    runner = kernel.runner()
    if not plans_destroys(runner):
        # A runner written before destroy plans existed: only the old one-step destroy, and
        # only where no approval is needed (deprecated; see docs/runner.md).
        if env.protected or not yes:
            raise ConfigError(
                f"runner {kernel.config.core.runner!r} cannot make destroy plans (its plan() "
                "takes no destroy=...), so destroys cannot be reviewed; in an unprotected "
                "environment pass yes=True (--yes) for a one-step destroy",
                key="core.runner",
            )
        return legacy_destroy(kernel, actor, request_id)
    planned = plan(kernel, actor, request_id, destroy=True)
    if yes and not env.protected:
        current = current_plan(planned)
        if current is not None and current.conclusion is Conclusion.SUCCESS:
            refuse_blocking(planned.policy_findings, action="destroy")
            approve(kernel, actor, request_id, plan_digest=current.plan_digest, comment="--yes")
            return apply(kernel, actor, request_id)
    return planned


def legacy_destroy(kernel: Kernel, actor: str, request_id: str) -> Request:
    """One-step ``destroy`` through a runner that cannot plan destroys (deprecated)."""
    plan_checks(kernel, actor, kernel.get(request_id), destroy=True)
    runner = kernel.runner()
    with kernel.locked(request_id, actor, "destroy"):
        plan_checks(kernel, actor, kernel.get(request_id), destroy=True)
        request, attempt = kernel.start_attempt(
            request_id,
            RunKind.DESTROY,
            actor,
            kernel.config.core.runner,
            queued=dispatching(runner),
        )
        kernel.emit(request, "destroy_started", actor, {"run": attempt.id})
        return run_legacy_destroy(kernel, request, attempt, runner)


def run_legacy_destroy(
    kernel: Kernel, request: Request, attempt: RunAttempt, runner: Runner
) -> Request:
    """The steps of a one-step destroy attempt (``terraform destroy``, then archive the state)."""
    actor = attempt.actor
    with kernel.recording_failure(request, attempt, actor, "destroy_failed"):
        result = runner.destroy(kernel.run_spec(request))
        if result.dispatched:
            return record_dispatch(kernel, request.id, attempt, actor, result)
        if not result.success:
            raise run_failed("destroy", request, result)
        archived = None
        if result.state is not None:
            archived = kernel.store.put_artifact(request.id, "final-state.tfstate", result.state)
    request = kernel.finish_attempt(
        request.id, attempt, Conclusion.SUCCESS, details={"archived_state": archived}
    )
    kernel.emit(
        request, "destroy_succeeded", actor, {"run": attempt.id, "archived_state": archived}
    )
    return request
