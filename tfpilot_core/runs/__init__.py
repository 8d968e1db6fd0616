"""The asynchronous run model: runs dispatched elsewhere, executed and concluded there.

A dispatching runner (``dispatching = True``, e.g. GitHub Actions) starts a run and returns at
once with ``RunResult(dispatched=True)``. The platform then leaves the attempt ``queued``
(:func:`record_dispatch`). The job that runs it calls :func:`execute` (``tfpilot run plan REQ
--attempt ID``): it takes the request's lock, marks the attempt ``in_progress``, runs Terraform
with an executing runner (``local``) against the shared store, and concludes the attempt itself,
exactly as a synchronous run would. Status updates that arrive from outside (webhooks, polling)
go through :func:`advance`, which never moves an attempt backwards and never concludes one as a
success: only the job that holds the plan or the state can do that.

See docs/runner.md, "The run model".
"""

from __future__ import annotations

from tfpilot_core.runs.model import (
    RunUpdate,
    advance,
    dispatch_payload,
    find_attempt,
    record_dispatch,
)

__all__ = [
    "RunUpdate",
    "advance",
    "dispatch_payload",
    "find_attempt",
    "record_dispatch",
]
