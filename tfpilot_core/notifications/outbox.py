"""The outbox's indexes: a deliverer, a digest and a listing read what they need, not the outbox.

A delivery record is due at one time: ``next_at`` while ``pending``, ``lease_until`` while
``sending`` (a lease that runs out makes it due again: its sender died). On a store with the
due-time index (:class:`~tfpilot_core.stores.due.DueIndexStore`), every write that makes a
delivery due at a time first adds the entry ``(time, id)``, and the entry of the previous due
time is removed once the write is done (:func:`moved`). :func:`due_records` lists the entries
due now and reads only their records; an entry that no longer matches its record is removed
when it is older than :data:`STALE_GRACE` (a younger one may belong to a write in flight).

The same index, under other namespaces of it, keeps the deliveries waiting for a user's drift
digest (``held``, by creation time: ``<namespace>-held``) and the dead-lettered ones (``dead``,
by when they died: ``<namespace>-dead``), so that the digest pass and ``tfpilot notify list
--pending/--failed`` read those records only (:func:`records_in`).
A store without the index is read whole, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tfpilot_core.stores.due import DueIndexStore

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Record

__all__ = [
    "INDEXED_STATES",
    "STALE_GRACE",
    "due_at",
    "due_records",
    "moved",
    "records_in",
    "will_be_due",
]

#: An index entry this much older than now that does not match its record is removed.
STALE_GRACE = timedelta(minutes=10)


#: The states an index entry is kept for: state -> (index kind, the field holding its time).
#: Kind ``""`` is the due index itself (what a deliverer reads).
_ENTRIES = {
    "pending": ("", "next_at"),
    "sending": ("", "lease_until"),
    "held": ("held", "created_at"),
    "dead": ("dead", "done_at"),
}
#: The states :func:`records_in` can answer from an index.
INDEXED_STATES = frozenset(_ENTRIES)
#: Later than any entry: what "every entry" reads up to.
_END = datetime(9999, 1, 1, tzinfo=UTC)


def _entry(value: Mapping[str, Any] | None) -> tuple[str, datetime] | None:
    """The index entry a delivery record needs: ``(kind, time)``, or ``None`` (delivered,
    digested: nothing reads those by state)."""
    if value is None:
        return None
    kind, field = _ENTRIES.get(str(value.get("state")), ("", ""))
    at = value.get(field) if field else None
    return (kind, datetime.fromisoformat(at)) if isinstance(at, str) else None


def _index(namespace: str, kind: str) -> str:
    return f"{namespace}-{kind}" if kind else namespace


def due_at(value: Mapping[str, Any] | None) -> datetime | None:
    """When a delivery record is due (``None``: never, e.g. delivered, dead or held)."""
    entry = _entry(value)
    return entry[1] if entry is not None and entry[0] == "" else None


def _target(store: Any) -> Any:
    # The platform hands out a traced proxy: the capability is the wrapped store's.
    return getattr(store, "wrapped", store)


def will_be_due(store: Store, namespace: str, key: str, value: Mapping[str, Any]) -> None:
    """Before writing ``value``: add its index entry (if it needs one and the store indexes)."""
    target = _target(store)
    entry = _entry(value)
    if entry is not None and isinstance(target, DueIndexStore):
        target.mark_due(_index(namespace, entry[0]), key, entry[1])


def moved(
    store: Store, namespace: str, key: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    """After ``old`` was replaced by ``new``: remove the entry ``new`` no longer needs."""
    target = _target(store)
    before, after = _entry(old), _entry(new)
    if before is not None and before != after and isinstance(target, DueIndexStore):
        try:
            target.clear_due(_index(namespace, before[0]), key, before[1])
        except Exception:  # best effort: a stale entry only costs a read, and is removed later
            return


def due_records(store: Store, namespace: str, now: datetime, *, limit: int = 1000) -> list[Record]:
    """The records of ``namespace`` that are due at ``now`` (every one, on a store without the
    index, for the caller to filter as before)."""
    found = _indexed(store, namespace, "", until=now, now=now, limit=limit)
    return store.list_records(namespace) if found is None else found


def records_in(
    store: Store, namespace: str, states: Iterable[str], now: datetime
) -> list[Record] | None:
    """The records of ``namespace`` in ``states`` (all in :data:`INDEXED_STATES`), read from
    the indexes (``None``: the store has none, or a state is not indexed; read the outbox)."""
    wanted = set(states)
    if not wanted <= INDEXED_STATES or not isinstance(_target(store), DueIndexStore):
        return None
    found: dict[str, Record] = {}
    for kind in sorted({_ENTRIES[state][0] for state in wanted}):
        for record in _indexed(store, namespace, kind, until=_END, now=now, limit=10**9) or []:
            if record.value.get("state") in wanted:
                found[record.key] = record
    return list(found.values())


def _indexed(
    store: Store, namespace: str, kind: str, *, until: datetime, now: datetime, limit: int
) -> list[Record] | None:
    """The records whose entry of ``kind`` is at or before ``until``, each checked against its
    entry (stale entries older than :data:`STALE_GRACE` removed); ``None`` without an index."""
    target = _target(store)
    if not isinstance(target, DueIndexStore):
        return None
    index = _index(namespace, kind)
    found: list[Record] = []
    seen: set[str] = set()
    for at, key in target.due_keys(index, until, limit=limit):
        if key in seen:
            continue
        record = store.get_record(namespace, key)
        current = _entry(record.value) if record is not None else None
        ours = current is not None and current[0] == kind and current[1] <= until
        if record is not None and ours:
            seen.add(key)
            found.append(record)
        if current != (kind, at) and at < now - STALE_GRACE:
            target.clear_due(index, key, at)
    return found
