"""Which runbook to follow for each kind of failure, wherever a failure is shown.

``[notifications.runbooks]`` (a failure kind -> URL template) wins; otherwise each kind points at
the runbook shipped with tfpilot: ``docs/runbooks/`` of the repository, packaged in the wheel as
``tfpilot_core/runbooks/`` (an absolute path, so it can be opened wherever tfpilot is
installed). The CLI error output, ``tfpilot timeline`` and ``tfpilot requests show`` use
:func:`runbook_for`; notifications use the same setting.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import quote

from tfpilot_core.errors import ExternalToolError, LockedError, PolicyBlockedError
from tfpilot_core.models import Conclusion, DriftResult, PolicyLevel

if TYPE_CHECKING:
    from tfpilot_core.config import Config
    from tfpilot_core.models import Request

#: The placeholders a runbook or link template may hold.
PLACEHOLDERS = ("request", "module", "environment", "project", "event", "user")


def fill(template: str, request: Request | None, **extra: str) -> str:
    """``template`` with {request}, {module}, {environment}, {project} (URL-quoted) filled in."""
    values = dict(extra)
    if request is not None:
        values.update(
            request=request.id,
            module=request.placement.module,
            environment=request.placement.environment,
            project=request.placement.project,
        )
    out = template
    for name, value in values.items():
        # Quoted: a module name such as "aws/s3-bucket" must not turn into a path of its own.
        out = out.replace("{" + name + "}", quote(str(value), safe=""))
    # What is not known here (no request at hand) is left empty: a raw "{module}" is never shown.
    for name in PLACEHOLDERS:
        out = out.replace("{" + name + "}", "")
    return out


def runbook_url(config: Config, kind: str, request: Request | None) -> str | None:
    """The runbook for failure ``kind`` (``plan_failed``, ``apply_failed``, ...), or ``None``."""
    template = config.notifications.runbooks.get(kind)
    if template is None:
        return None
    return fill(template, request, event=kind)


#: Failure kind -> the runbook shipped with tfpilot.
DEFAULT_RUNBOOKS: dict[str, str] = {
    "plan_failed": "docs/runbooks/plan-failed.md",
    "apply_failed": "docs/runbooks/apply-failed.md",
    "destroy_failed": "docs/runbooks/apply-failed.md",
    "state_locked": "docs/runbooks/state-lock.md",
    "drift_detected": "docs/runbooks/drift.md",
    "drift_check_failed": "docs/runbooks/drift.md",
    "policy_blocked": "docs/runbooks/policy-blocked.md",
    "notification_dead_lettered": "docs/runbooks/notification-dead-letter.md",
}


def shipped(relative: str) -> str:
    """Where a runbook of ``DEFAULT_RUNBOOKS`` is on this machine (absolute path).

    In a wheel, ``tfpilot_core/runbooks/``; in a checkout (an editable install), the repository's
    ``docs/runbooks/``; if neither holds it, the path relative to a checkout, as documented.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    name = os.path.basename(relative)
    for candidate in (
        os.path.join(package, "runbooks", name),
        os.path.join(os.path.dirname(package), relative),
    ):
        if os.path.isfile(candidate):
            return candidate
    return relative


def runbook_for(config: Config | None, kind: str, request: Request | None = None) -> str | None:
    """The runbook for failure ``kind``: the configured one, else the shipped default."""
    if config is not None:
        configured = runbook_url(config, kind, request)
        if configured:
            return configured
    default = DEFAULT_RUNBOOKS.get(kind)
    return shipped(default) if default else None


def failure_kind(command: str | None, error: Exception) -> str | None:
    """The failure kind of ``error`` raised by CLI command ``command`` (``None``: no runbook)."""

    if isinstance(error, LockedError):
        return "state_locked"
    if isinstance(error, PolicyBlockedError):
        return "policy_blocked"
    if isinstance(error, ExternalToolError):
        return {
            "plan": "plan_failed",
            "apply": "apply_failed",
            "destroy": "destroy_failed",
            "drift": "drift_check_failed",
        }.get(command or "", "apply_failed" if "apply" in str(error) else "plan_failed")
    return None


def request_kind(request: Request, status: str) -> str | None:
    """The failure kind a request is in now (its latest failed run, drift, a block)."""

    if request.drift is not None and request.drift.result is DriftResult.DRIFTED:
        return "drift_detected"
    if any(f.level is PolicyLevel.BLOCKING for f in request.policy_findings):
        return "policy_blocked"
    if status == "failed":
        failed = [
            a
            for attempts in request.runs.values()
            for a in attempts
            if a.conclusion not in (None, Conclusion.SUCCESS)
        ]
        if failed:
            latest = max(failed, key=lambda a: a.created_at)
            return {"drift": "drift_check_failed"}.get(
                latest.kind.value, f"{latest.kind.value}_failed"
            )
    return None
