"""tfpilot's one PR comment per request, and the check run of a plan.

The comment shows the status, the plan summary, policy findings, the cost change, approvals, the
next step and, after a failure, the runbook link. It carries the plan digest it shows, which is
what an approving review binds to. Everything in it is already masked: the summary prints no
attribute values and findings/cost come from the masked plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tfpilot_core.failures import explanation_of, render_failure
from tfpilot_core.lifecycle import current_plan
from tfpilot_core.models import PolicyLevel, RunKind
from tfpilot_runner_github.infra import COMMENT_LIMIT, MARKER

if TYPE_CHECKING:
    from tfpilot_core.models import Request
    from tfpilot_runner_github.settings import GitHubSettings

#: The digest line: ``Plan digest: `<64 hex>` `` (reviews bind to it).
DIGEST_PREFIX = "Plan digest: `"
_LEVEL = {PolicyLevel.BLOCKING: "failure", PolicyLevel.MANDATORY: "warning"}


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def next_step(request: Request, status: str) -> str:
    """What happens next, in the PR's terms."""
    plan = current_plan(request)
    short = (plan.plan_digest or "")[:12] if plan else ""
    return {
        "request_created": "comment `tfpilot plan` to plan this request",
        "planning": "the plan is running in GitHub Actions",
        "plan_ready": f"approve with a review (binds to plan `{short}`), then comment "
        "`tfpilot apply`",
        "approved": "comment `tfpilot apply` to apply the approved plan",
        "rejected": "the plan was rejected (the reason is in the request's timeline): change the "
        "request, or comment `tfpilot plan` to plan again",
        "changes_requested": "a reviewer asked for changes (the reason is in the request's "
        "timeline): change the request, then comment `tfpilot plan`",
        "applying": "the apply is running in GitHub Actions",
        "applied": "merge this PR; drift is checked nightly",
        "destroying": "the destroy is running in GitHub Actions",
        "destroyed": "merge the cleanup PR",
        "failed": "read the run's log and the runbook, then comment `tfpilot plan`",
    }.get(status, "")


def render(
    request: Request,
    status: str,
    settings: GitHubSettings,
    diff: Mapping[str, Any] | None = None,
) -> str:
    """The comment body (without trimming).

    :param diff: the plan's structured diff (:func:`tfpilot_core.plan_diff.build`), shown as
        collapsible sections per resource, the same diff as the web page and the API.
    """
    plan = current_plan(request)
    lines = [
        MARKER.format(request_id=request.id),
        f"### tfpilot: `{request.id}` is **{status}**",
        "",
        f"Revision {request.revision} · module `{request.placement.module}` · environment "
        f"`{request.placement.environment}`",
    ]
    if plan is not None and plan.plan_digest:
        lines += ["", f"{DIGEST_PREFIX}{plan.plan_digest}`"]
    if plan is not None and plan.url:
        lines += [f"Run: {plan.url}"]
    if request.summary is not None:
        lines += ["", "#### Plan", "", request.summary.markdown]
    elif plan is not None and plan.details.get("counts"):
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(plan.details["counts"].items()))
        lines += ["", "#### Plan", "", counts]
    if diff is not None and diff.get("resources"):
        from tfpilot_core.plan_diff import markdown

        lines += ["", "<details><summary>Changes by resource</summary>", "", markdown(diff)]
        lines += ["", "</details>"]
    findings = request.policy_findings
    lines += ["", "#### Policy", ""]
    if findings:
        lines += ["| level | rule | where | message |", "|---|---|---|---|"]
        lines += [
            f"| {f.level.value} | `{f.rule_id}` | {_escape(f.address or 'request')} | "
            f"{_escape(f.message)} |"
            for f in findings
        ]
    else:
        lines += ["No findings."]
    if request.cost is not None:
        cost = request.cost
        monthly = "unknown" if cost.monthly is None else f"{cost.monthly:.2f} {cost.currency}"
        delta = cost.delta
        change = "" if delta is None else f" ({'+' if delta >= 0 else ''}{delta:.2f})"
        lines += ["", "#### Cost", "", f"Monthly: {monthly}{change}"]
    approvals = [a for a in request.approvals if a.revision == request.revision]
    lines += ["", "#### Approvals", ""]
    lines += [
        f"- `{a.actor}` approved plan `{a.plan_digest[:12]}` at {a.at:%Y-%m-%d %H:%M} UTC"
        for a in approvals
    ] or ["None yet."]
    step = next_step(request, status)
    if step:
        lines += ["", f"**Next:** {step}"]
    if status == "failed":
        failed = _failed_attempt(request)
        explained = explanation_of(failed) if failed is not None else None
        if explained is not None:
            # Why it failed and what to do (issue 28; already masked); the runbook is the PR's,
            # below, not a path on the machine that ran Terraform.
            explained = replace(explained, runbook=None)
            lines += ["", "#### Why it failed", "", render_failure(explained, markdown=True)]
        if failed is not None and failed.error:
            lines += ["", "```", failed.error[-3000:], "```"]
        lines += ["", f"Runbook: {settings.runbook_url}"]
    return "\n".join(lines) + "\n"


def _failed_attempt(request: Request) -> Any:
    latest = [a for kind in RunKind for a in request.attempts(kind) if a.completed_at is not None]
    latest.sort(key=lambda a: a.completed_at or a.created_at)
    return latest[-1] if latest else None


def trimmed(
    body: str, request_id: str, settings: GitHubSettings, *, limit: int = COMMENT_LIMIT
) -> str:
    """``body`` cut below GitHub's limit, ending with a link to the full text."""
    if len(body) < limit:
        return body
    url = (
        settings.full_text_url.format(request_id=request_id)
        if settings.full_text_url
        else f"`tfpilot requests show {request_id}`"
    )
    tail = f"\n\n… trimmed to fit GitHub's comment limit. Full text: {url}\n"
    return body[: limit - len(tail) - 1] + tail


def check_annotations(request: Request, path: str) -> list[dict[str, Any]]:
    """Policy findings as check run annotations on the request's file."""
    return [
        {
            "path": path,
            "start_line": 1,
            "end_line": 1,
            "annotation_level": _LEVEL.get(f.level, "notice"),
            "title": f.rule_id,
            "message": f"{f.address or 'request'}: {f.message}"[:64_000],
        }
        for f in request.policy_findings
    ]


def check_conclusion(request: Request) -> str:
    """The plan's check run conclusion: blocking findings fail it, mandatory ones need action."""
    levels = {f.level for f in request.policy_findings}
    if PolicyLevel.BLOCKING in levels:
        return "failure"
    if PolicyLevel.MANDATORY in levels:
        return "neutral"  # an approver must override it with a reason
    return "success"
