"""Runbook links of notifications: :func:`runbook_url` and :func:`fill` (one implementation, in
:mod:`tfpilot_core.run_logs.runbooks`, shared with the CLI's error output and the timeline)."""

from __future__ import annotations

from tfpilot_core.run_logs.runbooks import PLACEHOLDERS, fill, runbook_url

__all__ = ["PLACEHOLDERS", "fill", "runbook_url"]
