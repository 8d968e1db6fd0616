"""Runbook links: ``[notifications.runbooks]`` maps a failure kind to a URL template.

Failure notifications carry the link; the CLI's error output and the timeline use
:func:`runbook_url` too, so one setting drives every place a failure is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

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
