"""The ``github`` event observer: keeps the PR comment and the plan's check run current.

It runs in whichever process emits the event (the CLI that dispatched, the Actions job that
concluded the run, the webhook receiver), so the comment follows the request wherever it moves.
Observer errors are isolated by the core: a GitHub outage never fails a run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from tfpilot_core.lifecycle import current_plan, derive_status
from tfpilot_core.models import Event

if TYPE_CHECKING:
    from tfpilot_core.models import Request
    from tfpilot_runner_github.infra import InfraRepo

log = structlog.get_logger("tfpilot.github")

#: Events after which the comment is rewritten (the status changed, or what it shows did).
COMMENT_EVENTS = frozenset(
    {
        "plan_dispatched",
        "plan_succeeded",
        "plan_failed",
        "approved",
        "apply_dispatched",
        "apply_succeeded",
        "apply_failed",
        "destroy_dispatched",
        "destroy_succeeded",
        "destroy_failed",
        "runs_reconciled",
    }
)


class GitHubObserver:
    """Updates tfpilot's PR comment and creates a check run for each successful plan."""

    def __init__(self, infra: InfraRepo, *, stale_after_seconds: int = 7200) -> None:
        self.infra = infra
        self.stale_after = timedelta(seconds=stale_after_seconds)

    def on_event(self, event: Event, request: Request) -> None:
        """React to ``event`` (see :data:`COMMENT_EVENTS`)."""
        if event.type not in COMMENT_EVENTS:
            return
        record = self.infra.record(request.id)
        if record is None:
            return  # not a request tfpilot opened a PR for
        plan = current_plan(request)
        destroying = plan is not None and bool(plan.details.get("destroy"))
        # A destroy is reviewed on the cleanup PR (the request's PR when its file never merged).
        pr = (record.value.get("cleanup_pr") if destroying else None) or record.value.get("pr")
        if not pr:
            return
        self.update_comment(request, int(pr))
        if event.type == "plan_succeeded" and plan is not None:
            self.check_run(request, record.value, destroying=destroying)

    def update_comment(self, request: Request, pr: int) -> None:
        """Rewrite the one comment of ``request`` on ``pr``; remember the digest it shows."""
        from tfpilot_core.models import utcnow
        from tfpilot_runner_github.comment import render, trimmed

        status = derive_status(request, stale_after=self.stale_after).value
        settings = self.infra.settings
        body = trimmed(render(request, status, settings, self._diff(request)), request.id, settings)
        self.infra.upsert_comment(request.id, pr, body)
        plan = current_plan(request)
        self.infra.update_record(
            request.id,
            shown_digest=plan.plan_digest if plan else None,
            shown_revision=request.revision,
            shown_at=utcnow().isoformat(),
        )

    def _diff(self, request: Request) -> dict[str, object] | None:
        """The current plan's structured diff, if it was recorded (the web page shows the same)."""
        from tfpilot_core import plan_diff

        plan = current_plan(request)
        if plan is None or not plan.plan_digest:
            return None
        resources = plan_diff.load(self.infra.store, request.id, plan.plan_digest)
        if resources is None:
            return None
        return plan_diff.build(resources, findings=request.policy_findings, cost=request.cost)

    def check_run(self, request: Request, record: dict[str, object], *, destroying: bool) -> None:
        """The check run of the current plan, findings as annotations."""
        from tfpilot_runner_github.comment import check_annotations, check_conclusion

        plan = current_plan(request)
        head = record.get("cleanup_sha") if destroying else record.get("head_sha")
        if plan is None or not head:
            return
        path = str(record.get("path") or self.infra.file_path(request))
        found = check_annotations(request, path)
        summary = request.summary.markdown if request.summary else "Plan made."
        check_id = self.infra.check_run(
            head_sha=str(head),
            name=f"tfpilot plan ({request.placement.environment})",
            external_id=f"{request.id}:{plan.id}",
            title=f"{len(found)} policy finding(s); plan {(plan.plan_digest or '')[:12]}",
            summary=summary,
            conclusion=check_conclusion(request),
            annotations=found,
            details_url=plan.url,
        )
        self.infra.update_record(request.id, check_run=check_id)
        if self.infra.settings.sarif and found:
            from tfpilot_runner_github.infra import sarif_document

            branch = record.get("cleanup_branch") if destroying else record.get("branch")
            self.infra.upload_sarif(
                commit_sha=str(head), ref=f"refs/heads/{branch}", sarif=sarif_document(found)
            )
