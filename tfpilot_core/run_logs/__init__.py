"""Captured Terraform output: one masked, size-capped artifact per run attempt, and its search.

:func:`capture` is called by the platform after every runner call (plan, apply, destroy, drift),
also when the run failed. The text is scrubbed of the request's sensitive values first, then cut
to :data:`LOG_CAP` bytes (the head and the tail are kept, and the cut is marked in place), then
stored as the artifact ``<attempt id>.log`` of the request. On the embedded store it is also
indexed for full-text search (SQLite FTS5, see :mod:`tfpilot_core.run_logs.search`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tfpilot_core.masking import scrub_text
from tfpilot_core.run_logs.artifacts import artifact_name, read
from tfpilot_core.run_logs.search import index_log

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Request, RunAttempt

__all__ = ["CUT_MARKER", "LOG_CAP", "artifact_name", "cap", "capture", "read"]

#: The most bytes of log text stored per attempt (the runner already keeps at most 200 kB).
LOG_CAP = 256_000
#: Put where text was cut out; ``{cut}`` is the number of bytes removed.
CUT_MARKER = "\n[... tfpilot cut {cut} bytes here: the log exceeded {cap} bytes ...]\n"


def cap(text: str, limit: int = LOG_CAP) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, keeping its start (init) and its end
    (where errors are), with :data:`CUT_MARKER` where the middle was removed."""
    data = text.encode()
    if len(data) <= limit:
        return text
    head = limit // 4
    tail = limit - head - 120  # room for the marker
    cut = len(data) - head - tail
    marker = CUT_MARKER.format(cut=cut, cap=limit)
    return (
        data[:head].decode(errors="ignore")
        + marker
        + data[len(data) - tail :].decode(errors="ignore")
    )


def capture(
    store: Store,
    request: Request,
    attempt: RunAttempt,
    text: str,
    secrets: Iterable[str] = (),
) -> str:
    """Store ``text`` (Terraform's output of ``attempt``) masked and capped; returns its sha256.

    ``secrets`` are the request's sensitive values (every occurrence is replaced by the mask).
    Indexing for search is best effort: a search index that cannot be written never fails a run.
    """
    masked = cap(scrub_text(text, secrets))
    header = (
        f"# tfpilot log: request={request.id} revision={attempt.revision} attempt={attempt.id} "
        f"kind={attempt.kind.value} trace_id={attempt.details.get('trace_id', '-')}\n"
    )
    body = header + masked
    digest = store.put_artifact(request.id, artifact_name(attempt.id), body.encode())
    index_log(store, request, attempt, body)
    return digest
