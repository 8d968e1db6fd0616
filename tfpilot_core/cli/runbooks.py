"""The runbook of a failure, for the running CLI command (its configuration, if it has one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tfpilot_core.cli.app import App
from tfpilot_core.run_logs.runbooks import runbook_for

if TYPE_CHECKING:
    from tfpilot_core.models import Request

__all__ = ["cli_runbook"]


def cli_runbook(kind: str | None, request: Request | None = None) -> str | None:
    """:func:`runbook_for` with the configuration of the running CLI command, if any."""
    if kind is None:
        return None
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(App) if ctx is not None else None
    config = None
    if state is not None:
        try:
            config = state.config
        except Exception:  # a broken configuration already has its own error; use defaults
            config = None
    return runbook_for(config, kind, request)
