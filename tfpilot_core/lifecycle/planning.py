"""Plan (and destroy plan): its checks, and its steps, wherever Terraform runs.

:func:`plan` is the local path: check, lock, check again, start an attempt and run
:func:`run_plan` with the configured runner. A job executing a dispatched plan attempt
(:mod:`tfpilot_core.runs.executor`) calls :func:`plan_checks` and :func:`run_plan` too, so both
paths check and record a plan the same way.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from opentelemetry import trace

import tfpilot_core.plan_diff as plan_diff
import tfpilot_core.plan_export as plan_export
from tfpilot_core.errors import ConflictError
from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.lifecycle import RequestStatus, latest_counting
from tfpilot_core.lifecycle.approvals import required_overrides
from tfpilot_core.lifecycle.attempts import record_dispatch
from tfpilot_core.lifecycle.kernel import (
    Kernel,
    changed_meanwhile,
    dispatching,
    findings_data,
    not_busy,
    run_failed,
)
from tfpilot_core.models import (
    Conclusion,
    CostEstimate,
    PlanSummary,
    PolicyFinding,
    PolicyLevel,
    Request,
    RunAttempt,
    RunKind,
)
from tfpilot_core.plan import Plan
from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.interfaces import Runner, RunResult

tracer = trace.get_tracer("tfpilot")

#: From which statuses a plan may start.
PLAN_FROM = frozenset(
    {
        RequestStatus.REQUEST_CREATED,
        RequestStatus.PLAN_READY,
        RequestStatus.APPROVED,
        RequestStatus.REJECTED,
        RequestStatus.CHANGES_REQUESTED,
        RequestStatus.FAILED,
        RequestStatus.APPLIED,
    }
)
#: From which statuses a destroy plan may start (and only after a successful apply).
DESTROY_FROM = frozenset(
    {
        RequestStatus.APPLIED,
        RequestStatus.PLAN_READY,
        RequestStatus.APPROVED,
        RequestStatus.REJECTED,
        RequestStatus.CHANGES_REQUESTED,
        RequestStatus.FAILED,
    }
)


def plan_checks(kernel: Kernel, actor: str, request: Request, *, destroy: bool) -> None:
    """What must hold to start a plan (before the lock, and again under it).

    :raises ForbiddenError: the actor may not, or the request is in no state to be planned.
    :raises ConflictError: a run is in progress.
    """
    kernel.access.check(actor, Action.DESTROY if destroy else Action.PLAN, request)
    status = kernel.status(request)
    not_busy(request, status)
    if destroy:
        applied = latest_counting(request, RunKind.APPLY)
        if (
            status not in DESTROY_FROM
            or applied is None
            or applied.conclusion is not Conclusion.SUCCESS
        ):
            raise ConflictError(
                f"only applied requests can be destroyed; {request.id} is {status.value}"
            )
    elif status not in PLAN_FROM:
        raise ConflictError(f"request {request.id} cannot be planned while {status.value}")


def plan(kernel: Kernel, actor: str, request_id: str, *, destroy: bool = False) -> Request:
    """Render and plan the request, then policy, cost and summary on the plan.

    A dispatching runner leaves the attempt queued for its job (:mod:`tfpilot_core.runs`).

    :raises ExternalToolError: Terraform failed (recorded as a failed attempt first).
    """
    plan_checks(kernel, actor, kernel.get(request_id), destroy=destroy)
    runner = kernel.runner()
    with kernel.locked(request_id, actor, "destroy plan" if destroy else "plan"):
        # Re-read and re-check under the lock: another process may have acted meanwhile.
        request = kernel.get(request_id)
        with changed_meanwhile(request_id):
            plan_checks(kernel, actor, request, destroy=destroy)
        spec = kernel.catalog.get(request.placement.module)
        with tracer.start_as_current_span(
            "tfpilot.plan", attributes={"tfpilot.request_id": request_id}
        ):
            request, attempt = kernel.start_attempt(
                request_id,
                RunKind.PLAN,
                actor,
                kernel.config.core.runner,
                queued=dispatching(runner),
                module_version=spec.version,
                details={"destroy": True} if destroy else {},
            )
            kernel.emit(
                request,
                "plan_started",
                actor,
                {"run": attempt.id, "revision": request.revision, "destroy": destroy},
            )
            return run_plan(kernel, request, attempt, spec, runner)


def run_plan(
    kernel: Kernel,
    request: Request,
    attempt: RunAttempt,
    spec: ModuleSpec,
    runner: Runner,
    *,
    keep: list[bytes] | None = None,
) -> Request:
    """The steps of a started plan attempt: Terraform, then policy, cost and summary, recorded.

    The caller holds the request's lock. A destroy plan is one whose attempt says so. A runner
    that dispatches the run leaves the attempt queued. ``keep`` receives the saved plan file
    (the job hands it to the apply job as an artifact).
    """
    actor = attempt.actor
    with kernel.recording_failure(request, attempt, actor, "plan_failed"):
        if attempt.details.get("destroy"):
            result = runner.plan(kernel.run_spec(request, spec), destroy=True)
        else:
            result = runner.plan(kernel.run_spec(request, spec))
        if result.dispatched:
            return record_dispatch(kernel, request.id, attempt, actor, result)
        if not result.success or result.plan_file is None or not result.plan_json:
            raise run_failed("plan", request, result)
        parsed, digest, findings, cost, summary = judge_plan(
            kernel, request, attempt.id, spec, result
        )
        if keep is not None:
            keep.append(result.plan_file)
    return conclude_plan(
        kernel, request.id, attempt, actor, result, parsed, digest, findings, cost, summary
    )


def judge_plan(
    kernel: Kernel, request: Request, attempt_id: str, spec: ModuleSpec, result: RunResult
) -> tuple[Plan, str, list[PolicyFinding], CostEstimate | None, PlanSummary | None]:
    """Store the saved plan, then cost, policy and summary on the masked plan."""
    assert result.plan_json is not None and result.plan_file is not None
    # One pass: each change is masked as it is read, so no unmasked copy of the plan is kept
    # (what masking must note for later, such as which sensitive attributes change, it notes).
    masked = Plan.parse(result.plan_json, masked=True, sensitive_inputs=spec.sensitive_inputs)
    digest = kernel.store.put_artifact(request.id, f"{attempt_id}.tfplan", result.plan_file)
    # The structured diff (plan review page, PR comment, API), rendered once from the masked
    # plan, wherever the plan ran.
    plan_diff.record(kernel.store, request.id, digest, masked)
    # The masked show -json document, for other scanners (`tfpilot plan export`).
    plan_export.record(
        kernel.store,
        request.id,
        digest,
        masked,
        {"revision": request.revision, "attempt_id": attempt_id},
    )
    # Cost before policy, so that budget rules judge this plan's estimate. A promoted request
    # whose plan creates what its source's apply did may reuse its estimate (promotion's rule).
    reused = kernel.cost_reuse(request, masked) if kernel.cost_reuse is not None else None
    cost = reused or kernel.host.estimate_cost(request, masked)
    if cost is not None:
        cost = cost.model_copy(update={"plan_digest": digest})
    findings = [
        *(f for f in request.policy_findings if f.stage == "request"),
        *kernel.policy(request, "plan", masked, cost),
    ]
    summary = kernel.host.summarize(request, masked, SummaryContext(findings=findings, cost=cost))
    if summary is not None:
        summary = summary.model_copy(update={"plan_digest": digest})
    return masked, digest, findings, cost, summary


def conclude_plan(
    kernel: Kernel,
    request_id: str,
    attempt: RunAttempt,
    actor: str,
    result: RunResult,
    parsed: Plan,
    digest: str,
    findings: list[PolicyFinding],
    cost: CostEstimate | None,
    summary: PlanSummary | None,
) -> Request:
    """Record a successful plan and its events, wherever it ran (here, or in a job)."""

    def record(current: Request) -> None:
        current.policy_findings = findings
        current.cost = cost
        current.summary = summary

    counts = {a.value: n for a, n in parsed.counts().items()}
    # Imports, moves, forgets and deferred changes: invisible in the counts, yet state changes.
    operations = parsed.operations()
    request = kernel.finish_attempt(
        request_id,
        attempt,
        Conclusion.SUCCESS,
        extra=record,
        plan_digest=digest,
        rendered_digest=result.rendered_digest,
        details={
            **attempt.details,
            "counts": counts,
            "operations": operations,
            "findings": findings_data(findings),
            "cost": cost.model_dump(mode="json") if cost else None,
        },
    )
    kernel.emit(
        request,
        "plan_succeeded",
        actor,
        {"run": attempt.id, "plan_digest": digest, "counts": counts, "operations": operations},
    )
    kernel.emit_policy(request, actor, "plan", findings)
    blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
    if blocking:
        kernel.emit(request, "policy_blocked", actor, {"findings": findings_data(blocking)})
    if cost is not None:
        kernel.emit(
            request, "cost_estimated", actor, cost.model_dump(mode="json", exclude={"lines"})
        )
    if not blocking:
        kernel.emit(
            request,
            "approval_required",
            actor,
            {
                "plan_digest": digest,
                "environment": request.placement.environment,
                # What an approval must override with a reason (Slack's reason inputs).
                "overrides_needed": [
                    asdict(r)
                    for r in required_overrides(
                        request,
                        protected=kernel.environment(request.placement.environment).protected,
                    )
                ],
            },
        )
    return request
