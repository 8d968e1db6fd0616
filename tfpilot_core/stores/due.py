"""A due-time index of keyed records: what a deliverer reads instead of the whole namespace.

The notification outbox keeps one record per delivery, forever (until it expires). A deliverer
wants only the ones due now: pending ones whose ``next_at`` has passed and claimed ones whose
lease ran out. A store with this optional capability keeps, per namespace, a sorted set of
``(due time, key)`` entries (SQLite: a table with an index on the time; S3: one empty object per
entry under ``index/due/``, whose key sorts by time, so the due ones are one LIST by prefix).

The record is the truth; the index may hold more than the truth, never less: an entry is
written *before* the record write that makes the record due at that time, and removed only after
a write that no longer needs it. A reader checks every entry against its record, and removes
entries it finds stale (:func:`tfpilot_core.notifications.outbox.due_records`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["DueIndexStore"]


@runtime_checkable
class DueIndexStore(Protocol):
    """A store with a due-time index of records (optional; see the module documentation)."""

    def mark_due(self, namespace: str, key: str, at: datetime) -> None:
        """Add the entry ``(at, key)`` of ``namespace`` (idempotent)."""
        ...

    def clear_due(self, namespace: str, key: str, at: datetime) -> None:
        """Remove the entry ``(at, key)`` if present (idempotent)."""
        ...

    def due_keys(
        self, namespace: str, until: datetime, *, limit: int = 1000
    ) -> list[tuple[datetime, str]]:
        """Entries due at or before ``until``, earliest first, at most ``limit``."""
        ...
