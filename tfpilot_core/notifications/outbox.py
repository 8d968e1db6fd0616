"""The outbox's due index: a deliverer reads the deliveries due now, not the whole outbox.

A delivery record is due at one time: ``next_at`` while ``pending``, ``lease_until`` while
``sending`` (a lease that runs out makes it due again: its sender died). On a store with the
due-time index (:class:`~tfpilot_core.stores.due.DueIndexStore`), every write that makes a
delivery due at a time first adds the entry ``(time, id)``, and the entry of the previous due
time is removed once the write is done (:func:`moved`). :func:`due_records` lists the entries
due now and reads only their records; an entry that no longer matches its record is removed
when it is older than :data:`STALE_GRACE` (a younger one may belong to a write in flight).
A store without the index is read whole, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tfpilot_core.stores.due import DueIndexStore

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Record

__all__ = ["STALE_GRACE", "due_at", "due_records", "moved", "will_be_due"]

#: An index entry this much older than now that does not match its record is removed.
STALE_GRACE = timedelta(minutes=10)


def due_at(value: Mapping[str, Any] | None) -> datetime | None:
    """When a delivery record is due (``None``: never, e.g. delivered, dead or held)."""
    if value is None:
        return None
    field = {"pending": "next_at", "sending": "lease_until"}.get(str(value.get("state")))
    at = value.get(field) if field else None
    return datetime.fromisoformat(at) if isinstance(at, str) else None


def _target(store: Any) -> Any:
    # The platform hands out a traced proxy: the capability is the wrapped store's.
    return getattr(store, "wrapped", store)


def will_be_due(store: Store, namespace: str, key: str, value: Mapping[str, Any]) -> None:
    """Before writing ``value``: add its due entry (if it will be due and the store indexes)."""
    target = _target(store)
    at = due_at(value)
    if at is not None and isinstance(target, DueIndexStore):
        target.mark_due(namespace, key, at)


def moved(
    store: Store, namespace: str, key: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    """After ``old`` was replaced by ``new``: remove the entry ``new`` no longer needs."""
    target = _target(store)
    before, after = due_at(old), due_at(new)
    if before is not None and before != after and isinstance(target, DueIndexStore):
        try:
            target.clear_due(namespace, key, before)
        except Exception:  # best effort: a stale entry only costs a read, and is removed later
            return


def due_records(store: Store, namespace: str, now: datetime, *, limit: int = 1000) -> list[Record]:
    """The records of ``namespace`` that are due at ``now`` (every one, on a store without the
    index, for the caller to filter as before)."""
    target = _target(store)
    if not isinstance(target, DueIndexStore):
        return store.list_records(namespace)
    found: list[Record] = []
    seen: set[str] = set()
    for at, key in target.due_keys(namespace, now, limit=limit):
        if key in seen:
            continue
        record = store.get_record(namespace, key)
        current = due_at(record.value) if record is not None else None
        if record is not None and current is not None and current <= now:
            seen.add(key)
            found.append(record)
        if current != at and at < now - STALE_GRACE:
            target.clear_due(namespace, key, at)
    return found
