"""The asynchronous run model: runs dispatched elsewhere, executed and concluded there.

A dispatching runner (``dispatching = True``, e.g. GitHub Actions) starts a run and returns at
once with ``RunResult(dispatched=True)``. The lifecycle then leaves the attempt ``queued``
(:func:`record_dispatch`). The job that runs it calls :mod:`tfpilot_core.runs.executor`
(``tfpilot run plan REQ --attempt ID``): it takes the request's lock, marks the attempt
``in_progress``, and runs the same checks and steps as a local run
(:mod:`tfpilot_core.lifecycle.planning`, :mod:`tfpilot_core.lifecycle.applying`) against the
shared store. Status updates that arrive from outside (webhooks, polling) go through
:func:`advance`, which never moves an attempt backwards and never concludes one as a success:
only the job that holds the plan or the state can do that.

The attempt records themselves live in :mod:`tfpilot_core.lifecycle.attempts`; this package
re-exports them under their documented names. See docs/runner.md, "The run model".
"""

from __future__ import annotations

from tfpilot_core.lifecycle.attempts import (
    RunUpdate,
    active_attempts,
    advance,
    dispatch_payload,
    find_attempt,
    record_dispatch,
)

__all__ = [
    "RunUpdate",
    "active_attempts",
    "advance",
    "dispatch_payload",
    "find_attempt",
    "record_dispatch",
]
