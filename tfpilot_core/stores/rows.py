"""Index rows: what a store's index says about a request, without reading its document.

Aggregate questions ("how many requests are in dev?", "cost by project") need a handful of
fields per request, not the documents. A store with an index (the embedded SQLite store's
columns, the S3 store's index keys) offers :meth:`RowIndexedStore.index_rows`, and the query layer
counts and groups those rows, reading a document only for a row the index cannot vouch for
(``exact`` false: a status that time may have changed, two status markers, a field too long
for the index) and for the rows a listing returns. The cost of an aggregate is then one index
read (SQLite: one statement; S3: one LIST per 1,000 index keys), not one document per request.

This is an optional store capability (``isinstance(store, RowIndexedStore)``): a store without
it is answered through ``Store.list_requests`` as before.

What a caller asks for is an :class:`IndexFilter`; its :meth:`IndexFilter.admits` is the one
predicate over index rows (the S3 store filters its LIST results with it, the query layer its
resolved rows; SQLite turns the same filter into a ``WHERE`` clause).

Drift shards are ranges of a stable 64-bit hash of the id (:func:`shard_hash`): shard ``i`` of
``n`` holds the ids whose hash lies in :func:`shard_range` ``(i, n)``. A range, not a modulo, so
that a store can keep its applied requests ordered by the hash and read one shard's members as
one contiguous slice (SQLite: an index on ``(status, shard)``; S3: a listing under
``index/shard/applied/`` from the shard's first hash), whatever the number of shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

__all__ = [
    "IndexFilter",
    "IndexRow",
    "RowIndexedStore",
    "shard_hash",
    "shard_key",
    "shard_of",
    "shard_range",
]

#: Shard hashes are 64-bit: ``2**64`` is one past the largest.
_HASH_SPACE = 2**64


def shard_hash(request_id: str) -> int:
    """The stable 64-bit hash of ``request_id`` that places it in a drift shard."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")


def shard_key(request_id: str) -> str:
    """:func:`shard_hash` as 16 lowercase hex digits: sorts as the hash does (stores index it)."""
    return f"{shard_hash(request_id):016x}"


def shard_of(request_id: str, shards: int) -> int:
    """The drift shard (``0 <= i < shards``) of ``request_id``: the range its hash falls in."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return shard_hash(request_id) * shards // _HASH_SPACE


def shard_range(index: int, shards: int) -> tuple[str, str | None]:
    """The :func:`shard_key` bounds of shard ``index`` of ``shards``: from the first (inclusive)
    to the second (exclusive; ``None`` for the last shard, which runs to the end)."""
    if not 0 <= index < shards:
        raise ValueError(f"shard {index} of {shards}: use 0 <= index < shards")
    low = -(-index * _HASH_SPACE // shards)  # the first hash h with h * shards // 2**64 == index
    high = -(-(index + 1) * _HASH_SPACE // shards)
    return f"{low:016x}", (None if high >= _HASH_SPACE else f"{high:016x}")


@dataclass(frozen=True)
class IndexRow:
    """One request as a store's index knows it."""

    id: str
    environment: str
    module: str
    project: str
    author: str
    created_at: datetime
    #: The status derived at write time; ``None`` when the caller did not ask for statuses.
    status: str | None
    #: Whether every field above is certain. A row that is not exact must be checked against its
    #: document (a status that time can turn into ``failed``, a request with two status markers
    #: after a crashed write, a field too long for an S3 key).
    exact: bool = True
    #: The monthly cost, when the store was asked for costs and holds them (``None``: unknown).
    monthly_cost: Decimal | None = None
    #: Whether ``monthly_cost`` comes from the index (``False``: read the document for it).
    cost_indexed: bool = False


@dataclass(frozen=True)
class IndexFilter:
    """What an index read keeps: each non-empty sequence keeps rows whose field is one of its
    values; ``created_after`` is inclusive, ``created_before`` exclusive; ``shard`` is a drift
    shard ``(index, count)`` (:func:`shard_of`)."""

    statuses: Sequence[str] = ()
    environments: Sequence[str] = ()
    modules: Sequence[str] = ()
    projects: Sequence[str] = ()
    authors: Sequence[str] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    shard: tuple[int, int] | None = None

    def columns(self) -> list[tuple[str, Sequence[str]]]:
        """``(index column, wanted values)`` of the field filters that are set."""
        pairs = (
            ("status", self.statuses),
            ("environment", self.environments),
            ("module", self.modules),
            ("project", self.projects),
            ("author", self.authors),
        )
        return [(column, values) for column, values in pairs if values]

    def admits(self, row: IndexRow) -> bool:
        """Whether ``row`` may match: ``False`` only when the index says for sure it does not.

        An empty field is unknown (a row that is not exact: too long for the index, or two
        entries that disagree) and a stored status that is not exact may have changed, so
        neither excludes a row; the caller reads the documents of rows that are not exact.
        """
        for column, values in self.columns():
            value = row.status if column == "status" else getattr(row, column)
            if column == "status" and (not row.exact or value is None):
                continue
            if value and value not in values:
                return False
        if self.created_after is not None and row.created_at < self.created_after:
            return False
        if self.created_before is not None and row.created_at >= self.created_before:
            return False
        return self.in_shard(row.id)

    def in_shard(self, request_id: str) -> bool:
        """Whether ``request_id`` is in the filter's drift shard (any id: no shard asked)."""
        return self.shard is None or shard_of(request_id, self.shard[1]) == self.shard[0]


@runtime_checkable
class RowIndexedStore(Protocol):
    """A store that answers :meth:`index_rows` from its index."""

    def index_rows(
        self,
        where: IndexFilter | None = None,
        *,
        with_status: bool = False,
        with_cost: bool = False,
    ) -> list[IndexRow]:
        """The rows of every request ``where`` may match (every row: ``None``), from the index
        alone.

        ``where.statuses`` compares with the stored status, so a caller wanting ``failed``
        passes the statuses time can turn into it too, and re-checks rows that are not
        ``exact``. May return rows that do not match (stale index entries, marked not exact);
        never leaves out one that does. With ``where.shard`` the read costs what the shard
        holds, not what the store holds (see the module documentation).
        """
        ...
