"""Terraform's output of the runs in progress in this process, line by line, for live views.

The stored log of an attempt (:func:`tfpilot_core.run_logs.capture`) exists only once the run is
over. While Terraform runs, the executor logs each output line (``terraform_output``), already
scrubbed of the request's secrets, with the attempt's log fields (``attempt_id``) bound by the
lifecycle. :func:`follow` installs one listener (:func:`tfpilot_core.log.listening`) that keeps
the last :data:`MAX_LINES` lines of each of the last :data:`MAX_ATTEMPTS` attempts in memory;
:func:`text` reads them. Runs that execute elsewhere (GitHub Actions) have no lines here.
Readers must check access to the request first: this module knows attempts, not who may read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from contextlib import ExitStack
from typing import Any

import tfpilot_core.log as log

#: Lines kept per attempt (the stored log keeps everything once the run is over).
MAX_LINES = 2000
#: Attempts kept (oldest dropped first).
MAX_ATTEMPTS = 64

_lock = threading.Lock()
_lines: OrderedDict[str, deque[str]] = OrderedDict()
_installed: ExitStack | None = None


def _listener(event: str, fields: dict[str, Any]) -> None:
    if event != "terraform_output":
        return
    attempt = fields.get("attempt_id") or log.fields().get("attempt_id")
    line = fields.get("line")
    if not attempt or not isinstance(line, str):
        return
    with _lock:
        found = _lines.get(attempt)
        if found is None:
            found = _lines[attempt] = deque(maxlen=MAX_LINES)
            while len(_lines) > MAX_ATTEMPTS:
                _lines.popitem(last=False)
        found.append(line)


def follow() -> None:
    """Start keeping the output lines of runs in this process (idempotent)."""
    global _installed
    with _lock:
        if _installed is not None:
            return
        stack = ExitStack()
        stack.enter_context(log.listening(_listener))
        _installed = stack


def text(attempt_id: str) -> str | None:
    """The lines seen so far of ``attempt_id``'s run, or ``None`` when none were seen here."""
    with _lock:
        found = _lines.get(attempt_id)
        return "\n".join(found) if found else None
