"""Compile a :class:`~tfpilot_core.query.model.Query` to a plan and run it on a store.

The plan has two parts:

* **candidates**: the requests that may match, fetched from the store. On any store this pages
  through ``Store.list_requests`` with the filters the protocol knows (one status, environment,
  module, project or author, and the creation time); a store with the query helpers of the
  embedded store (``query_index``, ``documents``, ``event_times``) is asked instead for the ids
  on its indexes (any number of values per filter, and the reader's scope), and only documents
  not already parsed at the same version are loaded and parsed.
* **checks**: every filter of the query, applied in Python to every candidate, including the
  ones the store already applied (re-checking is cheap, and a status cached at write time may
  have gone stale), then the reader's scope (:meth:`Access.readable`), then the aggregation,
  sort and limit.

The reader's read grants are applied here, in the layer: no caller can get rows it may not read.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tfpilot_core.lifecycle import STALEABLE, RequestStatus
from tfpilot_core.models import DriftResult, Request, RequestQuery
from tfpilot_core.query.model import (
    Aggregate,
    CostFilter,
    DriftFilter,
    GroupBy,
    Query,
    QueryResult,
    SortKey,
)
from tfpilot_core.query.people import people_checks
from tfpilot_core.query.results import applied_at, row_of
from tfpilot_core.query.rows import (
    aggregate_rows,
    answer_from_rows,
    readable_placement,
    row_of_request,
)
from tfpilot_core.stores.rows import IndexFilter

if TYPE_CHECKING:
    from tfpilot_core.access import Scope
    from tfpilot_core.interfaces import Store
    from tfpilot_core.lifecycle.kernel import SupportsKernel

__all__ = ["IndexedStore", "QueryPlan", "compile_query", "run_query"]


@runtime_checkable
class IndexedStore(Protocol):
    """The optional read helpers a store offers for a faster plan (the embedded store has them)."""

    def query_index(self, where: IndexFilter | None = None) -> list[tuple[str, int]]:
        """``(id, version)`` of requests matching the indexed columns, newest first."""
        ...

    def documents(self, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``id -> (version, document)``."""
        ...

    def event_times(self, kind: str) -> list[tuple[str, str]]:
        """``(request_id, at)`` of every event of type ``kind``."""
        ...


#: A filter on a request and its derived status (``None`` when the query needs no status).
Check = Callable[[Request, RequestStatus | None], bool]


@dataclass
class QueryPlan:
    """A compiled query: what is asked of the store, and what is checked after."""

    query: Query
    #: What ``Store.list_requests`` can filter on (the generic path).
    pushdown: RequestQuery
    #: Stored statuses to ask an indexed store for (stale-able ones added for ``failed``).
    index_statuses: list[str]
    checks: list[tuple[str, Check]] = field(default_factory=list)

    def describe(self, indexed: bool) -> list[str]:
        """The steps, in words (shown with every answer)."""
        q = self.query
        if indexed:
            used = [
                name
                for name, values in (
                    ("status", self.index_statuses),
                    ("environment", q.environments),
                    ("module", q.modules),
                    ("project", q.projects),
                    ("author", q.authors),
                )
                if values
            ]
            if q.created_since or q.created_before:
                used.append("created time")
            source = "store indexes on " + (", ".join(used) if used else "creation time (all)")
            steps = [source, "read scope on the index rows", "parse documents not cached"]
        else:
            pushed = [
                k
                for k, v in self.pushdown.model_dump(exclude={"limit", "cursor"}).items()
                if v is not None
            ]
            steps = [
                "Store.list_requests" + (f" filtered by {', '.join(pushed)}" if pushed else "")
            ]
        if q.events:
            steps.append(
                "events of kind "
                + ", ".join(e.kind for e in q.events)
                + (" (event scan)" if indexed else " (list_events per candidate)")
            )
        steps += [f"check {name}" for name, _ in self.checks]
        steps.append("read grants (access.may per project and environment)")
        steps.append(_result_step(q))
        return steps


def _result_step(q: Query) -> str:
    if q.aggregate is Aggregate.LIST:
        return f"sort {q.sort.value}, limit {q.limit}"
    by = f" by {q.group_by.value}" if q.group_by else ""
    return f"{q.aggregate.value}{by}"


def _drift_state(request: Request) -> DriftFilter:
    if request.drift is None:
        return DriftFilter.UNCHECKED
    return DriftFilter(request.drift.result.value)


def compile_query(query: Query) -> QueryPlan:
    """The plan for ``query`` (pure: no store is touched)."""
    single = {
        "status": query.statuses[0].value if len(query.statuses) == 1 else None,
        "environment": query.environments[0] if len(query.environments) == 1 else None,
        "module": query.modules[0] if len(query.modules) == 1 else None,
        "project": query.projects[0] if len(query.projects) == 1 else None,
        "author": query.authors[0] if len(query.authors) == 1 else None,
    }
    pushdown = RequestQuery(
        **single,
        created_after=query.created_since,
        created_before=query.created_before,
        limit=1000,
    )
    index_statuses: set[str] = {s.value for s in query.statuses}
    if RequestStatus.FAILED in query.statuses:
        index_statuses |= {s.value for s in STALEABLE}
    checks: list[tuple[str, Check]] = []
    if query.statuses:
        wanted = set(query.statuses)
        checks.append(("status (derived now)", lambda r, s: s is not None and s in wanted))
    for name, values, get in (
        ("environment", query.environments, lambda r: r.placement.environment),
        ("project", query.projects, lambda r: r.placement.project),
        ("module", query.modules, lambda r: r.placement.module),
        ("author", query.authors, lambda r: r.created_by),
    ):
        if values:
            allowed = frozenset(values)
            checks.append((name, _member(get, allowed)))
    if query.created_since is not None:
        since = query.created_since
        checks.append(("created since", lambda r, s: r.created_at >= since))
    if query.created_before is not None:
        before = query.created_before
        checks.append(("created before", lambda r, s: r.created_at < before))
    if query.applied_since is not None:
        applied = query.applied_since

        def _applied(r: Request, s: RequestStatus | None) -> bool:
            at = applied_at(r)
            return at is not None and at >= applied

        checks.append(("applied since", _applied))
    if query.drift is not None:
        state = query.drift
        checks.append((f"drift {state.value}", lambda r, s: _drift_state(r) is state))
    if query.drifted_since is not None:
        drifted = query.drifted_since
        checks.append(
            (
                "drifted since",
                lambda r, s: (
                    r.drift is not None
                    and r.drift.result is DriftResult.DRIFTED
                    and r.drift.checked_at >= drifted
                ),
            )
        )
    for bound in query.cost:
        label = "monthly cost" if bound.measure == "total" else "cost delta"
        checks.append((f"{label} {bound.op} {bound.amount}", _cost_check(bound)))
    checks += people_checks(query, applied_at)
    return QueryPlan(
        query=query, pushdown=pushdown, index_statuses=sorted(index_statuses), checks=checks
    )


def _cost_check(bound: CostFilter) -> Check:
    def check(request: Request, status: RequestStatus | None) -> bool:
        cost = request.cost
        if cost is None:
            return False
        return bound.matches(cost.monthly if bound.measure == "total" else cost.delta)

    return check


def _member(get: Callable[[Request], str], allowed: frozenset[str]) -> Check:
    return lambda r, s: get(r) in allowed


# -- candidates ------------------------------------------------------------------------------

#: Parsed documents per store object, by id: ``(version, request)``. The version is the store's
#: compare-and-swap token and changes with every write, so a cached parse is never stale.
_PARSED: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, Request]]] = (
    weakref.WeakKeyDictionary()
)
_PARSED_LOCK = threading.Lock()
#: The store's change token (``change_token``) when every cached parse was last checked.
_TOKENS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
#: Bound on cached parses per store (beyond it the cache starts over).
_CACHE_LIMIT = 50_000


def _target(store: Store) -> Any:
    # The platform hands out a traced proxy; the cache is keyed on the store object itself.
    return getattr(store, "wrapped", store)


def _indexed_candidates(store: Any, plan: QueryPlan, scope: Scope | None) -> list[Request]:
    q = plan.query
    projects = list(q.projects)
    # A reader limited to some projects (every grant names its projects): ask the index for
    # those only. The grants are still checked on every request afterwards.
    if (
        not projects
        and scope is not None
        and not scope.everywhere
        and scope.grants
        and all(ps for ps, _ in scope.grants)
    ):
        projects = sorted({p for ps, _ in scope.grants for p in ps})
    where = IndexFilter(
        statuses=plan.index_statuses,
        environments=q.environments,
        modules=q.modules,
        projects=projects,
        authors=q.authors,
        created_after=q.created_since,
        created_before=q.created_before,
    )
    target = _target(store)
    with _PARSED_LOCK:
        cache = _PARSED.setdefault(target, {})
    token = store.change_token() if hasattr(target, "change_token") else None
    if token is not None and _TOKENS.get(target) == token:
        # Nothing was written since every cached parse was last checked: the ids are enough
        # (read from the indexes alone), and only requests never parsed are loaded.
        ids = store.query_ids(where)
        missing = [rid for rid in ids if rid not in cache]
        _load(store, cache, missing, ids)
        return [cache[rid][1] for rid in ids if rid in cache]
    rows = store.query_index(where)
    missing = [rid for rid, version in rows if cache.get(rid, (0, None))[0] != version]
    _load(store, cache, missing, [rid for rid, _ in rows])
    if token is not None:
        _TOKENS[target] = token
    found: list[Request] = []
    for rid, version in rows:
        entry = cache.get(rid)
        # A request rewritten between the two reads: take the newer parse (it still gets checked).
        if entry is not None and entry[0] >= version:
            found.append(entry[1])
    return found


def _load(
    store: Any, cache: dict[str, tuple[int, Request]], ids: list[str], every: list[str]
) -> None:
    """Parse ``ids`` into the cache; when it would grow past its bound, start over with all of
    this query's ids (``every``), so that the query still finds each of them cached."""
    if not ids:
        return
    if len(cache) + len(ids) > _CACHE_LIMIT:
        cache.clear()
        ids = every
    for rid, (version, document) in store.documents(ids).items():
        cache[rid] = (version, Request.load(document))


def _generic_candidates(store: Store, plan: QueryPlan) -> Iterator[Request]:
    cursor: str | None = None
    while True:
        page = store.list_requests(plan.pushdown.model_copy(update={"cursor": cursor}))
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _with_events(
    store: Store, plan: QueryPlan, candidates: Iterable[Request], indexed: bool
) -> Iterator[Request]:
    events = plan.query.events
    if not events:
        yield from candidates
        return
    if indexed:
        sets: list[set[str]] = []
        for wanted in events:
            ids: set[str] = set()
            for request_id, at in store.event_times(wanted.kind):  # type: ignore[attr-defined]
                if wanted.since is None or datetime.fromisoformat(at) >= wanted.since:
                    ids.add(request_id)
            sets.append(ids)
        yield from (r for r in candidates if all(r.id in ids for ids in sets))
        return
    for request in candidates:
        stream = store.list_events(request.id)
        if all(
            any(e.type == w.kind and (w.since is None or e.at >= w.since) for e in stream)
            for w in events
        ):
            yield request


# -- running ---------------------------------------------------------------------------------


def _readable(platform: SupportsKernel, actor: str) -> Callable[[Request], bool]:
    """Whether ``actor`` may read a request (decided once per project and environment)."""

    may = readable_placement(platform, actor)
    return lambda request: may(request.placement.project, request.placement.environment)


def _sorted(matched: list[Request], key: SortKey) -> list[Request]:
    def when(value: datetime | None) -> float:
        return value.timestamp() if value is not None else float("-inf")

    # Ties (and unknown values) keep newest first, then id: sorts are stable.
    matched.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    if key is SortKey.OLDEST:
        matched.sort(key=lambda r: (r.created_at, r.id))
    elif key in (SortKey.COST_DESC, SortKey.COST_ASC):
        sign = -1 if key is SortKey.COST_DESC else 1

        def cost(r: Request) -> tuple[bool, Decimal]:
            monthly = r.cost.monthly if r.cost else None
            return (monthly is None, sign * (monthly or Decimal(0)))

        matched.sort(key=cost)
    elif key is SortKey.APPLIED_DESC:
        matched.sort(key=lambda r: when(applied_at(r)), reverse=True)
    elif key is SortKey.DRIFTED_DESC:
        matched.sort(key=lambda r: when(r.drift.checked_at if r.drift else None), reverse=True)
    return matched


def run_query(platform: SupportsKernel, actor: str, query: Query) -> QueryResult:
    """Run ``query`` for ``actor`` on the platform's store: only requests ``actor`` may read."""
    plan = compile_query(query)
    store = platform.kernel.store
    # Counts, sums and newest/oldest listings on indexed fields: from the store's index rows,
    # documents read only for the rows returned (tfpilot_core.query.rows).

    answered = answer_from_rows(platform, actor, plan, _target(store), plan.describe(False))
    if answered is not None:
        return answered
    scope = platform.kernel.access.read_scope(actor)
    indexed = isinstance(_target(store), IndexedStore)
    candidates: Iterable[Request]
    if indexed:
        candidates = _indexed_candidates(store, plan, scope)
    else:
        candidates = _generic_candidates(store, plan)
    may_read = _readable(platform, actor)
    # Statuses are derived only where they are asked for, shown or grouped by.
    need_status = bool(query.statuses) or query.group_by is GroupBy.STATUS
    matched: list[Request] = []
    statuses: dict[str, RequestStatus] = {}
    if plan.query.events:
        candidates = list(_with_events(store, plan, candidates, indexed))
    for request in candidates:
        status = platform.kernel.status(request) if need_status else None
        if all(check(request, status) for _, check in plan.checks) and may_read(request):
            matched.append(request)
            if status is not None:
                statuses[request.id] = status

    def status_of(request: Request) -> RequestStatus:
        found = statuses.get(request.id)
        return found if found is not None else platform.kernel.status(request)

    result = QueryResult(
        query=query, aggregate=query.aggregate, count=len(matched), plan=plan.describe(indexed)
    )
    if query.aggregate is Aggregate.LIST:
        shown = _sorted(matched, query.sort)[: query.limit]
        result.rows = [row_of(r, status_of(r)) for r in shown]
        return result

    group_status = query.group_by is GroupBy.STATUS
    aggregate_rows(
        result,
        query,
        (row_of_request(r, status_of(r) if group_status else None) for r in matched),
    )
    return result
