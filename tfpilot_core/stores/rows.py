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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

__all__ = ["IndexRow", "RowIndexedStore"]


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


@runtime_checkable
class RowIndexedStore(Protocol):
    """A store that answers :meth:`index_rows` from its index."""

    def index_rows(
        self,
        *,
        statuses: Sequence[str] = (),
        environments: Sequence[str] = (),
        modules: Sequence[str] = (),
        projects: Sequence[str] = (),
        authors: Sequence[str] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        with_status: bool = False,
        with_cost: bool = False,
    ) -> list[IndexRow]:
        """The rows of every request the filters may match, from the index alone.

        Each non-empty sequence keeps rows whose field is one of its values; ``statuses``
        compares with the stored status, so a caller wanting ``failed`` passes the statuses time
        can turn into it too, and re-checks rows that are not ``exact``. May return rows that do
        not match (stale index entries, marked not exact); never leaves out one that does.
        ``created_after`` is inclusive, ``created_before`` exclusive.
        """
        ...
