"""The ``github`` runner: Terraform runs dispatched to GitHub Actions in the infra repository.

It never runs Terraform itself (``dispatches = True``): each call writes the request's file on a
branch with a PR, dispatches the workflow with one JSON ``request`` input, and returns
``RunResult(dispatched=True)`` at once. The platform leaves the attempt queued; the job runs
``tfpilot run ... --attempt ID`` and records the result in the shared store.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.errors import ConfigError
from tfpilot_core.lifecycle import current_plan
from tfpilot_core.models import Conclusion, RunKind, RunStatus
from tfpilot_core.runs import RunUpdate, dispatch_payload

if TYPE_CHECKING:
    from tfpilot_core.interfaces import RunResult, RunSpec
    from tfpilot_core.models import Request, RunAttempt
    from tfpilot_runner_github.infra import InfraRepo, RunInfo

log = structlog.get_logger("tfpilot.github")

_STATUS = {
    "queued": RunStatus.QUEUED,
    "requested": RunStatus.QUEUED,
    "waiting": RunStatus.QUEUED,
    "pending": RunStatus.QUEUED,
    "in_progress": RunStatus.IN_PROGRESS,
    "completed": RunStatus.COMPLETED,
}
_CONCLUSION = {
    "success": Conclusion.SUCCESS,
    "cancelled": Conclusion.CANCELLED,
    "timed_out": Conclusion.TIMED_OUT,
}


def run_update(status: str, conclusion: str | None, *, run_id: str, url: str | None) -> RunUpdate:
    """A GitHub run's status/conclusion as a tfpilot :class:`RunUpdate`."""
    mapped = _STATUS.get(status, RunStatus.IN_PROGRESS)
    concluded = None
    if mapped is RunStatus.COMPLETED:
        concluded = _CONCLUSION.get(conclusion or "", Conclusion.FAILURE)
    return RunUpdate(
        status=mapped,
        conclusion=concluded,
        external_id=run_id,
        url=url,
        source="github",
        error=f"the GitHub Actions run ended: {conclusion}" if concluded else None,
    )


class GitHubRunner:
    """Dispatches runs to GitHub Actions; implements the :class:`~tfpilot_core.interfaces.Runner`
    protocol (plus ``run_status`` for ``tfpilot runs sync``)."""

    #: The platform leaves attempts queued: the job concludes them.
    dispatches = True

    def __init__(self, infra: InfraRepo) -> None:
        self.infra = infra
        self.settings = infra.settings

    # -- the Runner protocol ------------------------------------------------------------------

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        """Write the request file and PR (a cleanup PR for a destroy plan), dispatch the plan."""
        if refresh_only:
            raise ConfigError(
                "the github runner checks drift in the nightly tfpilot-drift workflow "
                "(`tfpilot run drift --shard I/N` in Actions), not from here",
                key="core.runner",
            )
        request = spec.request
        attempt = _latest(request, RunKind.PLAN)
        if destroy:
            pr = self.infra.open_cleanup_pr(request)
            ref = pr.get("cleanup_branch") or self.settings.base_branch
        else:
            pr = self.infra.ensure_pr(request, list(spec.sensitive_inputs))
            ref = pr["branch"]
        return self._dispatch(self.settings.workflows.plan, ref, request, attempt)

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        """Dispatch the apply (or, for an approved destroy plan, the destroy) workflow.

        The job applies the plan artifact of the plan run only if its digest is the approved
        one; ``plan_file`` is not sent anywhere (it stays in the store and the plan run).
        """
        request = spec.request
        # The plan being applied: a re-plan cancelled while queued does not count.
        plan = current_plan(request) or _latest(request, RunKind.PLAN)
        if plan.details.get("destroy"):
            attempt = _latest(request, RunKind.DESTROY)
            workflow = self.settings.workflows.destroy
        else:
            attempt = _latest(request, RunKind.APPLY)
            workflow = self.settings.workflows.apply
        record = self.infra.record(request.id)
        ref = self.settings.base_branch
        if record is not None and not plan.details.get("destroy"):
            ref = str(record.value.get("branch") or ref)
        return self._dispatch(
            workflow,
            ref,
            request,
            attempt,
            plan_digest=plan.plan_digest,
            extra={"plan_attempt_id": plan.id, "plan_run_id": plan.external_id},
        )

    def destroy(self, spec: RunSpec) -> RunResult:
        """A one-step destroy (runners without destroy plans): dispatch the destroy workflow."""
        request = spec.request
        self.infra.open_cleanup_pr(request)
        attempt = _latest(request, RunKind.DESTROY)
        return self._dispatch(
            self.settings.workflows.destroy, self.settings.base_branch, request, attempt
        )

    # -- polling ------------------------------------------------------------------------------

    def run_status(self, request: Request, attempt: RunAttempt) -> RunUpdate | None:
        """Where the attempt's run is (``tfpilot runs sync``): by its id, else by its name."""
        if attempt.external_id:
            info = self.infra.run(attempt.external_id)
        else:
            workflow = self._workflow_of(request, attempt)
            since = _parse(attempt.details.get("dispatched_at")) or attempt.created_at
            exclude = {
                a.external_id
                for attempts in request.runs.values()
                for a in attempts
                if a.external_id and a.id != attempt.id
            }
            found = self.infra.find_run(workflow, attempt.id, since=since, exclude=exclude)
            if found is None:
                return None
            info = found
        return run_update(info.status, info.conclusion, run_id=info.id, url=info.url)

    def cancel_run(self, request: Request, attempt: RunAttempt) -> str:
        """Cancel a queued attempt's workflow run (``tfpilot runs cancel``), as far as known.

        GitHub's dispatch answers without a run id, so a run not yet found by id or by name is
        left alone: its job refuses the cancelled attempt when it starts.
        """
        run_id = attempt.external_id
        if run_id is None:
            found = self.run_status(request, attempt)
            run_id = found.external_id if found is not None else None
        if run_id is None:
            return "GitHub run not found yet; its job refuses the cancelled attempt"
        self.infra.cancel_run(run_id)
        return f"cancelled GitHub Actions run {run_id}"

    # -- internals ----------------------------------------------------------------------------

    def _workflow_of(self, request: Request, attempt: RunAttempt) -> str:
        workflows = self.settings.workflows
        return {
            RunKind.PLAN: workflows.plan,
            RunKind.APPLY: workflows.apply,
            RunKind.DESTROY: workflows.destroy,
        }.get(attempt.kind, workflows.plan)

    def _dispatch(
        self,
        workflow: str,
        ref: str,
        request: Request,
        attempt: RunAttempt,
        *,
        plan_digest: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> RunResult:
        from tfpilot_core.interfaces import RunResult

        payload = {**dispatch_payload(request, attempt, plan_digest=plan_digest), **(extra or {})}
        started = self.infra.dispatch(workflow, ref, payload)
        log.info(
            "github_dispatched",
            request_id=request.id,
            run=attempt.id,
            workflow=workflow,
            external_id=started.id if started else None,
        )
        exclude = {
            a.external_id
            for attempts in request.runs.values()
            for a in attempts
            if a.external_id and a.id != attempt.id
        }
        if started is not None and started.id in exclude:
            started = None  # never link a run that belongs to another attempt
        return RunResult(
            success=True,
            dispatched=True,
            external_id=started.id if started else None,
            url=started.url if started else None,
        )


def _latest(request: Request, kind: RunKind) -> RunAttempt:
    attempt = request.latest(kind)
    if attempt is None:
        raise ConfigError(f"request {request.id} has no {kind.value} attempt to dispatch")
    return attempt


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def info_update(info: RunInfo) -> RunUpdate:
    """A :class:`RunInfo` as a :class:`RunUpdate`."""
    return run_update(info.status, info.conclusion, run_id=info.id, url=info.url)
