"""Terraform's output of the runs in progress in this process, line by line, for live views.

The stored log of an attempt (:func:`tfpilot_core.run_logs.capture`) exists only once the run is
over. While Terraform runs, the executor logs each output line (``terraform_output``), already
scrubbed of the request's secrets, with the attempt's log fields (``attempt_id``) bound by the
lifecycle. :func:`follow` installs one listener (:func:`tfpilot_core.log.listening`) that keeps
the last :data:`MAX_LINES` lines of each of the last :data:`MAX_ATTEMPTS` attempts in memory;
:func:`text` reads them.

Runs that execute elsewhere (a GitHub Actions job) have no lines in the server's process: the job
wraps its run in :func:`shipping`, which copies the lines seen so far to the shared store every
:data:`SHIP_EVERY` seconds (only when there are new ones) as the artifact
``<attempt id>.live.log``; :func:`current` reads this process's lines, else the shipped ones.
Readers must check access to the request first: this module knows attempts, not who may read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import tfpilot_core.log as log
from tfpilot_core.errors import NotFoundError

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store

#: Lines kept per attempt (the stored log keeps everything once the run is over).
MAX_LINES = 2000
#: Attempts kept (oldest dropped first).
MAX_ATTEMPTS = 64
#: Seconds between copies of a job's lines to the store (one write per period, only if changed).
SHIP_EVERY = 3.0

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


def shipped_name(attempt_id: str) -> str:
    """The artifact a job's lines in progress are copied to (see :func:`shipping`)."""
    return f"{attempt_id}.live.log"


def _ship(store: Store, request_id: str, attempt_id: str, last: int) -> int:
    """Copy ``attempt_id``'s lines to the store if more were seen than ``last``; the count now."""
    with _lock:
        found = _lines.get(attempt_id)
        lines = list(found) if found else []
        seen = len(lines)
    if seen == last or not lines:
        return last
    try:
        store.put_artifact(request_id, shipped_name(attempt_id), "\n".join(lines).encode())
    except Exception as exc:  # live output is a view: a failed copy never fails the run
        log.get_logger("tfpilot.logs").warning(
            "live_log_ship_failed", attempt=attempt_id, error=type(exc).__name__
        )
        return last
    return seen


@contextmanager
def shipping(
    store: Store, request_id: str, attempt_id: str, *, every: float = SHIP_EVERY
) -> Iterator[None]:
    """While the block runs, copy the attempt's output lines to ``store`` every ``every`` s.

    For runs whose viewers are in another process (a job in GitHub Actions, read by the web UI
    of a server). The lines are those :func:`follow` keeps: already scrubbed by the executor.
    The full log is stored when the run ends (:func:`tfpilot_core.run_logs.capture`).
    """
    follow()
    stop = threading.Event()
    shipped = [0]

    def loop() -> None:
        while not stop.wait(every):
            shipped[0] = _ship(store, request_id, attempt_id, shipped[0])

    thread = threading.Thread(target=loop, name=f"tfpilot-live-{attempt_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        _ship(store, request_id, attempt_id, shipped[0])


def current(store: Store, request_id: str, attempt_id: str) -> str | None:
    """The output so far of a run in progress: this process's lines, else a job's shipped ones."""
    here = text(attempt_id)
    if here is not None:
        return here
    try:
        return store.get_artifact(request_id, shipped_name(attempt_id)).decode(errors="replace")
    except NotFoundError:
        return None
