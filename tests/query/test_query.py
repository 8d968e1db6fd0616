"""The query layer: scoping by read grants, the generic plan equals the indexed one, the cache
of parsed documents never serves a stale version, and malformed queries are refused."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError
from query_world import IDS, NOW, WORLD, make_platform, seed

from tfpilot_core.ask import ask
from tfpilot_core.interfaces import Store
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.platform import Platform
from tfpilot_core.query import IndexedStore, Query

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ask"))
from test_questions import TABLE, check_answer


class ProtocolOnly:
    """The store seen through the Store protocol alone (no query helpers): the generic plan."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in (
            "query_index",
            "query_ids",
            "change_token",
            "documents",
            "event_times",
            "wrapped",
        ):
            raise AttributeError(name)
        return getattr(self._store, name)


class GenericKernel(Kernel):
    """A kernel whose store is seen through the Store protocol alone (the query layer reads
    the kernel's store)."""

    @property
    def store(self) -> Store:
        return ProtocolOnly(super().store)  # type: ignore[return-value]


class GenericPlatform(Platform):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kernel.__class__ = GenericKernel

    @property
    def store(self) -> Store:
        return ProtocolOnly(super().store)  # type: ignore[return-value]


@pytest.fixture
def generic(tmp_path: Path) -> Platform:
    (tmp_path / "generic").mkdir()
    base = make_platform(tmp_path / "generic")
    seed(base)
    return GenericPlatform(base.host)


def project_of(request_id: str) -> str:
    n = next(k for k, v in IDS.items() if v == request_id)
    return WORLD[n][1]


def test_the_generic_store_is_not_indexed(generic: Platform, platform: Platform) -> None:
    assert not isinstance(generic.store, IndexedStore)
    assert isinstance(platform.store, IndexedStore)


@pytest.mark.parametrize(
    ("question", "expected_query", "expected"), TABLE, ids=[t[0] for t in TABLE]
)
def test_every_table_query_gives_the_same_answer_through_the_store_protocol(
    generic: Platform, question: str, expected_query: dict[str, Any], expected: Any
) -> None:
    check_answer(generic, "admin", Query.model_validate(expected_query), expected)


def test_plans_say_how_they_run(platform: Platform, generic: Platform) -> None:
    q = Query(environments=["prod"], events=[{"kind": "drift_detected"}])
    fast = platform.query("admin", q).plan
    slow = generic.query("admin", q).plan
    assert fast[0] == "store indexes on environment"
    assert "events of kind drift_detected (event scan)" in fast
    assert slow[0] == "Store.list_requests filtered by environment"
    assert "events of kind drift_detected (list_events per candidate)" in slow
    assert fast[-2] == slow[-2] == "read grants (access.may per project and environment)"


@pytest.mark.parametrize("fixture", ["platform", "generic"])
@pytest.mark.parametrize(
    ("actor", "projects", "count"),
    [("vera", {"shop"}, 5), ("pat", {"billing"}, 2), ("nobody", set(), 0), ("admin", None, 12)],
)
def test_results_are_scoped_by_read_grants(
    request: pytest.FixtureRequest, fixture: str, actor: str, projects: set[str] | None, count: int
) -> None:
    p: Platform = request.getfixturevalue(fixture)
    rows = p.query(actor, Query(limit=100)).rows
    assert len(rows) == count
    if projects is not None:
        assert {r.project for r in rows} <= projects
    # Aggregations too: a count or a sum never includes what the actor may not read.
    assert p.query(actor, Query(aggregate="count")).count == count
    groups = p.query(actor, Query(aggregate="sum_cost", group_by="project")).groups
    if projects is not None:
        assert {g.key for g in groups} <= projects
    # And a filter naming another project finds nothing rather than leaking it.
    if actor == "vera":
        assert p.query(actor, Query(projects=["billing"])).count == 0
        assert p.query(actor, Query(projects=["billing"], aggregate="sum_cost")).total_cost == 0


def test_ask_is_scoped_too(platform: Platform) -> None:
    answer = ask(platform, "vera", "list all requests in project billing", now=NOW)
    assert answer.answered and answer.result is not None
    assert answer.result.count == 0
    answer = ask(platform, "vera", "how many requests are there?", now=NOW)
    assert answer.result is not None and answer.result.count == 5
    answer = ask(platform, "pat", "which requests have drift?", now=NOW)
    assert answer.result is not None
    assert [r.id for r in answer.result.rows] == [IDS[5]]


def test_a_rewritten_request_is_never_served_from_the_parse_cache(platform: Platform) -> None:
    assert platform.query("admin", Query(projects=["ads"])).count == 0
    store = platform.store
    current = store.get_request(IDS[2])
    assert platform.query("admin", Query(statuses=["request_created"])).count == 2
    changed = current.model_copy(deep=True)
    changed.created_by = "zoe"
    store.put_request(changed, expected_version=current.version)
    rows = platform.query("admin", Query(authors=["zoe"])).rows
    assert [r.id for r in rows] == [IDS[2]]
    assert platform.query("admin", Query(authors=["bob"])).count == 2


def test_results_never_carry_inputs(platform: Platform) -> None:
    data = platform.query("admin", Query(limit=100)).model_dump(mode="json")
    assert all("inputs" not in row for row in data["rows"])


@pytest.mark.parametrize(
    "bad",
    [
        {"statuses": ["exploded"]},
        {"limit": 0},
        {"limit": 10_001},
        {"cost": [{"op": "eq", "amount": 1}]},
        {"events": [{"kind": "'; DROP TABLE events; --"}]},
        {"aggregate": "avg"},
        {"group_by": "inputs"},
        {"sql": "select 1"},
        {"environments": [""]},
    ],
)
def test_malformed_queries_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(PydanticValidationError):
        Query.model_validate(bad)


_values = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=8)))


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "statuses",
                "environments",
                "projects",
                "aggregate",
                "group_by",
                "sort",
                "limit",
                "drift",
                "created_since",
                "cost",
                "events",
                "other",
            ]
        ),
        _values,
        max_size=4,
    )
)
def test_any_document_is_a_query_or_refused(raw: dict[str, Any]) -> None:
    # Only pydantic's own refusal may come out: no TypeError, no KeyError, no crash.
    with contextlib.suppress(PydanticValidationError):
        Query.model_validate(raw)


def test_a_write_by_another_connection_is_seen_at_once(platform: Platform) -> None:
    from tfpilot_core.stores.sqlite import SQLiteStore

    assert platform.query("admin", Query(authors=["zoe"])).count == 0
    assert platform.query("admin", Query(authors=["zoe"])).count == 0  # now from the cache
    path = platform.store.wrapped.path  # type: ignore[attr-defined]
    other = SQLiteStore(path)  # another connection, as another process would have
    current = other.get_request(IDS[7])
    changed = current.model_copy(deep=True)
    changed.created_by = "zoe"
    other.put_request(changed, expected_version=current.version)
    other.close()
    assert [r.id for r in platform.query("admin", Query(authors=["zoe"])).rows] == [IDS[7]]
