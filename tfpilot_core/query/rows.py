"""Queries answered from a store's index rows (:mod:`tfpilot_core.stores.rows`).

When every filter of a query is a field the index holds (status, environment, project, module,
author, creation time) and the answer is a count, a cost sum or a listing newest or oldest
first, the store is asked for its index rows and documents are read only for:

* rows the index cannot vouch for (``exact`` false): they are checked like any candidate;
* the rows a listing returns (``limit`` of them);
* the matched rows of a cost sum when the store's index holds no costs (the S3 store).

The filters are applied to the rows here, then the reader's read grants per project and
environment, exactly as :func:`tfpilot_core.query.engine.run_query` applies them to documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Protocol

from tfpilot_core.errors import NotFoundError
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Request
from tfpilot_core.query.model import Aggregate, Group, GroupBy, Query, QueryResult, SortKey
from tfpilot_core.query.results import row_of
from tfpilot_core.rbac import Action
from tfpilot_core.stores.rows import IndexFilter, IndexRow, RowIndexedStore


class CompiledQuery(Protocol):
    """What this module reads of the engine's compiled plan (``engine.QueryPlan``), named here
    so that the two modules do not import each other."""

    query: Query
    index_statuses: list[str]
    checks: list[tuple[str, Callable[[Request, RequestStatus | None], bool]]]


__all__ = [
    "aggregate_rows",
    "answer_from_rows",
    "answerable",
    "applied_count",
    "applied_shard",
    "readable_placement",
    "readable_rows",
    "resolve_rows",
    "row_of_request",
]


def readable_placement(platform: Any, actor: str) -> Callable[[str, str], bool]:
    """Whether ``actor`` may read requests of ``(project, environment)``, asked of the platform's
    access decisions once per pair: reading depends on nothing else of a request (no four eyes,
    no author rule), so the answer for one request of a placement is the answer for all."""

    access = _kernel(platform).access
    decided: dict[tuple[str, str], bool] = {}

    def may(project: str, environment: str) -> bool:
        key = (project, environment)
        found = decided.get(key)
        if found is None:
            found = decided[key] = access.may(
                actor, Action.READ, project=project, environment=environment
            )
        return found

    return may


def _kernel(platform: Any) -> Any:
    # The platform's shared core (its store, access and status), whether the caller hands the
    # platform or its kernel.
    return getattr(platform, "kernel", platform)


def answerable(query: Query) -> bool:
    """Whether the index rows hold everything ``query`` filters, groups or sorts on."""
    if (
        query.drift is not None
        or query.applied_since is not None
        or query.applied_before is not None
        or query.drifted_since is not None
        or query.drifted_before is not None
        or query.approvers
        or query.appliers
        or query.planners
        or query.actors
        or query.acted_since is not None
        or query.acted_before is not None
        or query.ids
        or query.who is not None
        or query.cost
        or query.events
    ):
        return False
    return query.aggregate is not Aggregate.LIST or query.sort in (SortKey.NEWEST, SortKey.OLDEST)


def _load(store: Any, ids: Sequence[str]) -> dict[str, Request]:
    if not ids:
        return {}
    many = getattr(store, "get_requests", None)
    if many is not None:
        return dict(many(ids))

    found: dict[str, Request] = {}
    for rid in ids:
        try:
            found[rid] = store.get_request(rid)
        except NotFoundError:
            continue
    return found


def row_of_request(request: Request, status: RequestStatus | None) -> IndexRow:
    """The index row of a parsed document (its status as given: derived by the caller)."""
    cost = request.cost
    return IndexRow(
        id=request.id,
        environment=request.placement.environment,
        module=request.placement.module,
        project=request.placement.project,
        author=request.created_by,
        created_at=request.created_at,
        status=None if status is None else status.value,
        monthly_cost=cost.monthly if cost else None,
        cost_indexed=True,
    )


def answer_from_rows(
    platform: Any, actor: str, plan: CompiledQuery, store: Any, describe: list[str]
) -> QueryResult | None:
    """The answer to ``plan`` from ``store``'s index rows, or ``None`` when it cannot give one."""
    query = plan.query
    if not isinstance(store, RowIndexedStore) or not answerable(query):
        return None
    need_status = bool(query.statuses) or query.group_by is GroupBy.STATUS
    with_cost = query.aggregate is Aggregate.SUM_COST
    where = IndexFilter(
        statuses=plan.index_statuses,
        environments=query.environments,
        modules=query.modules,
        projects=query.projects,
        authors=query.authors,
        created_after=query.created_since,
        created_before=query.created_before,
    )
    rows = store.index_rows(where, with_status=need_status, with_cost=with_cost)
    checked = resolve_rows(platform, store, rows, need_status=need_status, checks=plan.checks)
    may = readable_placement(platform, actor)
    # Resolved rows are exact: the statuses asked for (without the stale-able ones the index
    # read added for ``failed``) are checked as strictly as every other field.
    exact = replace(where, statuses=[s.value for s in query.statuses])
    matched = [r for r in checked if exact.admits(r) and may(r.project, r.environment)]
    result = QueryResult(
        query=query,
        aggregate=query.aggregate,
        count=len(matched),
        plan=[
            "store index rows ("
            + ("status markers" if need_status else "one entry per request")
            + "); documents read only for rows the index cannot vouch for",
            *describe[1:],
        ],
    )
    if query.aggregate is Aggregate.LIST:
        newest = query.sort is SortKey.NEWEST
        matched.sort(key=lambda r: (r.created_at, r.id), reverse=newest)
        shown = matched[: query.limit]
        documents = _load(store, [r.id for r in shown])
        result.rows = [
            row_of(documents[r.id], _kernel(platform).status(documents[r.id]))
            for r in shown
            if r.id in documents
        ]
        return result
    if with_cost:
        matched = _with_costs(store, matched)
    aggregate_rows(result, query, matched)
    return result


def resolve_rows(
    platform: Any,
    store: Any,
    rows: Sequence[IndexRow],
    *,
    need_status: bool,
    checks: Sequence[tuple[str, Callable[[Request, RequestStatus | None], bool]]] = (),
) -> list[IndexRow]:
    """``rows`` with each one the index cannot vouch for replaced by its document's row (read
    in one batch; ghosts and documents failing ``checks`` dropped)."""
    loaded = _load(store, [r.id for r in rows if not r.exact])
    resolved: list[IndexRow] = []
    for row in rows:
        if row.exact:
            resolved.append(row)
            continue
        request = loaded.get(row.id)
        if request is None:
            continue  # a ghost entry (a create that never finished)
        status = _kernel(platform).status(request) if need_status else None
        if all(check(request, status) for _, check in checks):
            resolved.append(row_of_request(request, status))
    return resolved


def readable_rows(
    platform: Any, actor: str, *, modules: Sequence[str] = (), with_status: bool = False
) -> list[IndexRow] | None:
    """The index rows of the requests of ``modules`` that ``actor`` may read, statuses derived
    now (``None`` when the store has no index rows: the caller reads the documents)."""
    kernel = _kernel(platform)
    store = getattr(kernel.store, "wrapped", kernel.store)
    if not isinstance(store, RowIndexedStore):
        return None
    where = IndexFilter(modules=modules)
    rows = resolve_rows(
        platform, store, store.index_rows(where, with_status=with_status), need_status=with_status
    )
    may = readable_placement(platform, actor)
    return [r for r in rows if where.admits(r) and may(r.project, r.environment)]


def _with_costs(store: Any, rows: list[IndexRow]) -> list[IndexRow]:
    """``rows`` with their costs, read from the documents where the index holds none."""
    documents = _load(store, [r.id for r in rows if not r.cost_indexed])
    out = []
    for row in rows:
        if row.cost_indexed:
            out.append(row)
            continue
        request = documents.get(row.id)
        cost = request.cost if request is not None else None
        out.append(
            IndexRow(
                **{
                    **row.__dict__,
                    "monthly_cost": cost.monthly if cost else None,
                    "cost_indexed": True,
                }
            )
        )
    return out


def _group_key(group_by: GroupBy, row: IndexRow) -> str:
    return {
        GroupBy.MODULE: row.module,
        GroupBy.ENVIRONMENT: row.environment,
        GroupBy.PROJECT: row.project,
        GroupBy.AUTHOR: row.author,
        GroupBy.STATUS: row.status or "",
    }[group_by]


def aggregate_rows(result: QueryResult, query: Query, rows: Iterable[IndexRow]) -> None:
    """Fill ``result``'s count groups, cost total and unknown costs from ``rows``.

    Plain lists while counting (setting attributes of a pydantic model costs more than the rest
    of the loop); the :class:`Group` models are built once at the end.
    """

    groups: dict[str, list[Any]] = {}
    total = Decimal(0)
    unknown = 0
    for row in rows:
        key = _group_key(query.group_by, row) if query.group_by else "all"
        group = groups.setdefault(key, [0, Decimal(0), 0])
        group[0] += 1
        if row.monthly_cost is None:
            group[2] += 1
            unknown += 1
        else:
            group[1] += row.monthly_cost
            total += row.monthly_cost
    if query.aggregate is Aggregate.SUM_COST:
        result.total_cost = total
        result.unknown_cost = unknown
    if query.group_by is not None:
        built = [
            Group(key=k, count=c, monthly_cost=m, unknown_cost=u) for k, (c, m, u) in groups.items()
        ]
        if query.aggregate is Aggregate.SUM_COST:
            built.sort(key=lambda g: (-g.monthly_cost, g.key))
        else:
            built.sort(key=lambda g: (-g.count, g.key))
        result.groups = built[: query.limit]


def applied_count(platform: Any) -> int | None:
    """How many requests are applied now, from the index rows (``None``: the store has none)."""
    kernel = _kernel(platform)
    store = getattr(kernel.store, "wrapped", kernel.store)
    if not isinstance(store, RowIndexedStore):
        return None
    applied = RequestStatus.APPLIED.value
    rows = store.index_rows(IndexFilter(statuses=[applied]), with_status=True)
    return sum(r.status == applied for r in resolve_rows(platform, store, rows, need_status=True))


def applied_shard(platform: Any, index: int, count: int) -> list[Request] | None:
    """The applied requests of drift shard ``index`` of ``count``, newest first, reading the
    documents of the shard's members only (``None``: the store has no index rows).

    Membership is :func:`tfpilot_core.stores.rows.shard_of` of the id, a range of a hash the
    stores index with the status, so a shard of 50 among 10,000 applied requests reads its 50
    index rows and 50 documents (on S3: one LIST and 50 GETs; on SQLite: one slice of the
    ``(status, shard)`` index), whatever the store holds.
    """

    kernel = _kernel(platform)
    store = getattr(kernel.store, "wrapped", kernel.store)
    if not isinstance(store, RowIndexedStore):
        return None
    where = IndexFilter(statuses=[RequestStatus.APPLIED.value], shard=(index, count))
    members = [r.id for r in store.index_rows(where, with_status=True) if where.in_shard(r.id)]
    found = [
        request
        for request in _load(store, members).values()
        if kernel.status(request) is RequestStatus.APPLIED
    ]
    return sorted(found, key=lambda r: (r.created_at, r.id), reverse=True)
