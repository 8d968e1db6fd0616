"""The store conformance suite: the contract of :class:`~tfpilot_core.interfaces.Store` as tests.

Every store plugin runs this suite against itself. Subclass :class:`StoreConformance` in a test
module (its name must start with ``Test`` for pytest to collect it) and provide a ``store``
fixture that returns a fresh, empty store::

    import functools
    import pytest
    from tfpilot_core.testing.store_conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path / "data")

        # Optional: the cross-process tests. A picklable zero-argument callable that builds a
        # store on the same data when called in a child process (spawned, not forked).
        @pytest.fixture
        def store_factory(self, tmp_path):
            return functools.partial(MyStore, tmp_path / "data")

Without a ``store_factory`` fixture the cross-process tests are skipped (with a reason).

What is checked: create/get/not found; a duplicate create is refused; compare-and-swap writes
succeed on the right version and are refused (:class:`ConflictError`) on a stale one; versions
increase by one per write; every list filter alone and combined, status included; keyset
pagination without duplicates or misses, also while requests are being created; events are
append-only with gapless increasing ``seq`` in append order; artifacts round-trip with their
sha256; records create/CAS/conflict/delete/expiry/prefix listing; the optional capabilities
when a store has them (``index_rows``, the due index, ``backend_calls``); ids with ``/``, ``..`` or
spaces are refused with :class:`ValidationError`; and across processes: no lost update under
contention, exactly one winner of a create race for a request and for a record.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tfpilot_core.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from tfpilot_core.interfaces import Store
from tfpilot_core.lifecycle import derive_status
from tfpilot_core.models import (
    REQUEST_SCHEMA_VERSION,
    Conclusion,
    Event,
    Placement,
    Request,
    RequestQuery,
    RunAttempt,
    RunKind,
    RunStatus,
    utcnow,
)
from tfpilot_core.stores.cas import update_request
from tfpilot_core.stores.due import DueIndexStore
from tfpilot_core.stores.rows import IndexFilter, RowIndexedStore, shard_of

__all__ = ["BAD_IDS", "StoreConformance", "make_applied_request", "make_request"]

#: Identifiers every store must refuse (path traversal, separators, spaces, empty, too long).
BAD_IDS: tuple[str, ...] = (
    "a/b",
    "../etc",
    "..",
    "a..b",
    "a b",
    "",
    " a",
    "/abs",
    "-lead",
    ".hidden",
    "a\\b",
    "a\nb",
    "x" * 129,
)

#: A fixed base time: list tests must not depend on the clock (except for staleness).
_BASE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# The cross-process tests: kept small so that the suite stays quick on a 2-core machine.
_PROCESSES = 4
_UPDATES = 25
_CHILD_TIMEOUT = 120.0


def make_request(
    request_id: str,
    *,
    environment: str = "dev",
    module: str = "bucket",
    project: str = "shop",
    author: str = "alice",
    created_at: datetime | None = None,
    inputs: dict[str, Any] | None = None,
    runs: dict[RunKind, list[RunAttempt]] | None = None,
) -> Request:
    """A minimal valid request (version 0, as a caller builds it before ``create_request``)."""
    when = created_at or _BASE
    return Request(
        schema_version=REQUEST_SCHEMA_VERSION,
        id=request_id,
        placement=Placement(
            project=project, environment=environment, module=module, module_version="v1"
        ),
        inputs=dict(inputs or {"name": request_id}),
        created_by=author,
        created_at=when,
        updated_at=when,
        runs=dict(runs or {}),
    )


def _plan(
    *,
    status: RunStatus,
    conclusion: Conclusion | None = None,
    started: datetime | None = None,
) -> dict[RunKind, list[RunAttempt]]:
    started = started or utcnow()
    attempt = RunAttempt(
        id="run1",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor="alice",
        status=status,
        conclusion=conclusion,
        created_at=started,
        started_at=started,
        completed_at=started if status is RunStatus.COMPLETED else None,
        plan_digest="d" * 64 if conclusion is Conclusion.SUCCESS else None,
    )
    return {RunKind.PLAN: [attempt]}


def make_applied_request(request_id: str, **fields: Any) -> Request:
    """:func:`make_request` with a successful plan and apply: an applied request."""
    at = fields.get("created_at") or _BASE
    runs = {kind: _done(kind, at=at) for kind in (RunKind.PLAN, RunKind.APPLY)}
    return make_request(request_id, runs=runs, **fields)


def _done(
    kind: RunKind, *, status: RunStatus = RunStatus.COMPLETED, at: datetime | None = None
) -> list[RunAttempt]:
    """One attempt of ``kind`` (a successful one unless ``status`` says it still runs)."""
    at = at or utcnow()
    finished = status is RunStatus.COMPLETED
    return [
        RunAttempt(
            id=f"{kind.value}1",
            kind=kind,
            number=1,
            runner="local",
            revision=1,
            actor="alice",
            status=status,
            conclusion=Conclusion.SUCCESS if finished else None,
            created_at=at,
            started_at=at,
            completed_at=at if finished else None,
            plan_digest="d" * 64,
        )
    ]


def _ids(requests: Sequence[Request]) -> list[str]:
    return [r.id for r in requests]


def _newest_first(requests: Sequence[Request]) -> list[str]:
    return _ids(sorted(requests, key=lambda r: (r.created_at, r.id), reverse=True))


def _list_all(store: Store, query: RequestQuery) -> list[Request]:
    """Every page of a listing, following cursors (with a guard against endless cursors)."""
    found: list[Request] = []
    page = store.list_requests(query)
    found.extend(page.items)
    for _ in range(10_000):
        if page.next_cursor is None:
            return found
        page = store.list_requests(query.model_copy(update={"cursor": page.next_cursor}))
        found.extend(page.items)
    raise AssertionError("pagination did not end")


# -- child processes (module level: the "spawn" context pickles targets by reference) ---------


def _increment(request: Request) -> Request:
    request.inputs["counter"] = int(request.inputs.get("counter", 0)) + 1
    return request


def _cas_worker(
    factory: Callable[[], Store],
    request_id: str,
    updates: int,
    barrier: Any,
    results: Any,
) -> None:
    try:
        store = factory()
        barrier.wait()
        for _ in range(updates):
            # Generous attempts: under 4-way contention on a slow CI machine, 10 may run out;
            # what is tested is that no *successful* update is lost.
            update_request(store, request_id, _increment, attempts=1000)
        results.put(("ok", ""))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _create_worker(
    factory: Callable[[], Store], request_id: str, barrier: Any, results: Any
) -> None:
    try:
        store = factory()
        barrier.wait()
        store.create_request(make_request(request_id))
        results.put(("won", ""))
    except AlreadyExistsError:
        results.put(("lost", ""))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _record_worker(
    factory: Callable[[], Store], namespace: str, key: str, barrier: Any, results: Any
) -> None:
    try:
        store = factory()
        barrier.wait()
        store.put_record(namespace, key, {"owner": "x"}, expected_version=None)
        results.put(("won", ""))
    except ConflictError:
        results.put(("lost", ""))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _run_children(target: Callable[..., None], args: Sequence[Any], count: int) -> list[str]:
    """Run ``count`` spawned children of ``target`` that start together; their outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count, timeout=_CHILD_TIMEOUT)
    results = ctx.Queue()
    children = [
        ctx.Process(target=target, args=(*args, barrier, results), daemon=True)
        for _ in range(count)
    ]
    for child in children:
        child.start()
    outcomes: list[str] = []
    try:
        for _ in children:
            kind, detail = results.get(timeout=_CHILD_TIMEOUT)
            if kind == "error":
                raise AssertionError(f"a child process failed: {detail}")
            outcomes.append(kind)
    except queue.Empty:
        raise AssertionError("a child process reported nothing in time") from None
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    return outcomes


class StoreConformance:
    """The store contract as tests; subclass it and provide a ``store`` fixture.

    See the module documentation for the fixtures and what is covered.
    """

    @pytest.fixture
    def store(self) -> Store:
        """A fresh, empty store: every subclass provides this fixture."""
        raise NotImplementedError("a StoreConformance subclass must provide a `store` fixture")

    @pytest.fixture
    def store_factory(self) -> Callable[[], Store]:
        """A picklable zero-argument callable building a store on shared data (optional)."""
        pytest.skip("no store_factory fixture: cross-process conformance tests not run")

    # -- requests: create, get, compare-and-swap -------------------------------------------

    def test_create_and_get(self, store: Store) -> None:
        created = store.create_request(make_request("req_dev_bkt_abc123"))
        assert created.version == 1
        got = store.get_request("req_dev_bkt_abc123")
        assert got == created
        assert got.inputs == {"name": "req_dev_bkt_abc123"}

    def test_get_missing_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.get_request("req_missing")

    def test_create_ignores_caller_version(self, store: Store) -> None:
        request = make_request("req_v").model_copy(update={"version": 7})
        assert store.create_request(request).version == 1
        assert store.get_request("req_v").version == 1

    def test_duplicate_create_refused(self, store: Store) -> None:
        store.create_request(make_request("req_dup", inputs={"first": True}))
        with pytest.raises(AlreadyExistsError):
            store.create_request(make_request("req_dup", inputs={"second": True}))
        assert store.get_request("req_dup").inputs == {"first": True}

    def test_cas_write_and_version_increments(self, store: Store) -> None:
        current = store.create_request(make_request("req_cas"))
        before = utcnow()
        for expected in range(1, 5):
            current.inputs["step"] = expected
            written = store.put_request(current, expected_version=expected)
            assert written.version == expected + 1
            assert written.updated_at >= before
            current = store.get_request("req_cas")
            assert current.version == expected + 1
            assert current.inputs["step"] == expected

    def test_stale_write_refused(self, store: Store) -> None:
        first = store.create_request(make_request("req_stale"))
        winner = first.model_copy(deep=True)
        winner.inputs["who"] = "winner"
        store.put_request(winner, expected_version=1)
        loser = first.model_copy(deep=True)
        loser.inputs["who"] = "loser"
        with pytest.raises(ConflictError) as caught:
            store.put_request(loser, expected_version=1)
        message = str(caught.value)
        assert "req_stale" in message and "1" in message and "2" in message
        stored = store.get_request("req_stale")
        assert stored.inputs["who"] == "winner" and stored.version == 2

    def test_put_missing_request(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.put_request(make_request("req_nobody"), expected_version=1)
        with pytest.raises(NotFoundError):
            store.get_request("req_nobody")

    def test_update_request_helper(self, store: Store) -> None:
        store.create_request(make_request("req_upd", inputs={"counter": 0}))
        for _ in range(3):
            result = update_request(store, "req_upd", _increment)
        assert result.version == 4 and result.inputs["counter"] == 3
        assert store.get_request("req_upd") == result

    def test_concurrent_threads_lose_no_update(self, store: Store) -> None:
        store.create_request(make_request("req_threads", inputs={"counter": 0}))
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(10):
                    update_request(store, "req_threads", _increment, attempts=1000)
            except BaseException as exc:  # collected and re-raised by the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        final = store.get_request("req_threads")
        assert final.inputs["counter"] == 40 and final.version == 41

    # -- requests: listing -----------------------------------------------------------------

    def _populate(self, store: Store) -> list[Request]:
        now = utcnow()
        made: list[Request] = []
        environments = ("dev", "stage", "prod")
        modules = ("bucket", "queue")
        projects = ("shop", "search")
        authors = ("alice", "bob", "carol", "dave")
        runs: list[dict[RunKind, list[RunAttempt]] | None] = [
            None,
            _plan(status=RunStatus.IN_PROGRESS, started=now),
            _plan(status=RunStatus.COMPLETED, conclusion=Conclusion.SUCCESS, started=now),
            _plan(status=RunStatus.COMPLETED, conclusion=Conclusion.FAILURE, started=now),
            # Long unfinished: stale, so derived (and listed) as failed.
            _plan(status=RunStatus.IN_PROGRESS, started=now - timedelta(days=30)),
        ]
        for i in range(24):
            made.append(
                store.create_request(
                    make_request(
                        f"req_{i:02d}",
                        environment=environments[i % 3],
                        module=modules[i % 2],
                        project=projects[(i // 2) % 2],
                        author=authors[i % 4],
                        # Several requests share a creation time: ties are ordered by id.
                        created_at=_BASE + timedelta(minutes=i // 3),
                        runs=runs[i % 5],
                    )
                )
            )
        return made

    def test_list_all_newest_first(self, store: Store) -> None:
        made = self._populate(store)
        page = store.list_requests(RequestQuery())
        assert _ids(page.items) == _newest_first(made)
        assert page.next_cursor is None

    def test_list_empty_store(self, store: Store) -> None:
        page = store.list_requests(RequestQuery())
        assert page.items == [] and page.next_cursor is None

    @pytest.mark.parametrize(
        "filters",
        [
            {"environment": "prod"},
            {"module": "queue"},
            {"project": "search"},
            {"author": "bob"},
            {"environment": "nowhere"},
            {"environment": "dev", "module": "bucket"},
            {"project": "shop", "author": "alice", "environment": "dev"},
        ],
        ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
    )
    def test_list_field_filters(self, store: Store, filters: dict[str, str]) -> None:
        made = self._populate(store)
        fields = {
            "environment": lambda r: r.placement.environment,
            "module": lambda r: r.placement.module,
            "project": lambda r: r.placement.project,
            "author": lambda r: r.created_by,
        }
        expected = [r for r in made if all(fields[k](r) == v for k, v in filters.items())]
        found = _list_all(store, RequestQuery(limit=5, **filters))
        assert _ids(found) == _newest_first(expected)

    def test_list_time_filters(self, store: Store) -> None:
        made = self._populate(store)
        after, before = _BASE + timedelta(minutes=2), _BASE + timedelta(minutes=5)
        # created_after is inclusive, created_before exclusive: consecutive windows never
        # overlap nor leave a gap.
        cases = [
            (RequestQuery(created_after=after), [r for r in made if r.created_at >= after]),
            (RequestQuery(created_before=before), [r for r in made if r.created_at < before]),
            (
                RequestQuery(created_after=after, created_before=before),
                [r for r in made if after <= r.created_at < before],
            ),
            (
                RequestQuery(created_after=after, created_before=before, environment="dev"),
                [
                    r
                    for r in made
                    if after <= r.created_at < before and r.placement.environment == "dev"
                ],
            ),
        ]
        for query, expected in cases:
            assert expected, "the fixture data must exercise every case"
            assert _ids(_list_all(store, query)) == _newest_first(expected)

    def test_list_status_filter(self, store: Store) -> None:
        made = self._populate(store)
        statuses = {derive_status(r) for r in made}
        assert len(statuses) >= 4, "the fixture data must exercise several statuses"
        for status in statuses:
            expected = [r for r in made if derive_status(r) == status]
            found = _list_all(store, RequestQuery(status=status.value, limit=3))
            assert _ids(found) == _newest_first(expected), status
        combined = [
            r for r in made if derive_status(r).value == "failed" and r.placement.module == "queue"
        ]
        found = _list_all(store, RequestQuery(status="failed", module="queue", limit=2))
        assert _ids(found) == _newest_first(combined)

    def test_stale_run_lists_as_failed(self, store: Store) -> None:
        stale = _plan(status=RunStatus.IN_PROGRESS, started=utcnow() - timedelta(days=3))
        store.create_request(make_request("req_stale_run", runs=stale))
        failed = store.list_requests(RequestQuery(status="failed")).items
        assert _ids(failed) == ["req_stale_run"]
        assert store.list_requests(RequestQuery(status="planning")).items == []

    @pytest.mark.parametrize("limit", [1, 4, 7, 24, 100])
    def test_pagination_no_duplicates_or_misses(self, store: Store, limit: int) -> None:
        made = self._populate(store)
        pages = 0
        page = store.list_requests(RequestQuery(limit=limit))
        seen = list(page.items)
        while page.next_cursor is not None:
            assert len(page.items) == limit
            pages += 1
            page = store.list_requests(RequestQuery(limit=limit, cursor=page.next_cursor))
            seen.extend(page.items)
        assert len(page.items) <= limit
        assert _ids(seen) == _newest_first(made)
        assert pages == (len(made) - 1) // limit

    def test_pagination_stable_under_inserts(self, store: Store) -> None:
        made = self._populate(store)
        seen: list[Request] = []
        page = store.list_requests(RequestQuery(limit=5))
        seen.extend(page.items)
        extra = 0
        while page.next_cursor is not None:
            # New requests between pages, newer and older than the cursor, with tied times.
            for when in (_BASE + timedelta(days=1), _BASE - timedelta(days=1), _BASE):
                store.create_request(make_request(f"req_new_{extra:02d}", created_at=when))
                extra += 1
            page = store.list_requests(RequestQuery(limit=5, cursor=page.next_cursor))
            seen.extend(page.items)
        ids = _ids(seen)
        assert len(ids) == len(set(ids)), "a request was listed twice"
        assert set(_ids(made)) <= set(ids), "a request that existed before paging was missed"
        originals = [i for i in ids if not i.startswith("req_new_")]
        assert originals == _newest_first(made)

    # -- events ----------------------------------------------------------------------------

    def test_events_append_in_order(self, store: Store) -> None:
        store.create_request(make_request("req_ev"))
        appended = [
            store.append_event(
                Event(request_id="req_ev", type=f"type_{i}", seq=99, data={"i": i, "n": [i]})
            )
            for i in range(12)
        ]
        assert [e.seq for e in appended] == list(range(1, 13))
        listed = store.list_events("req_ev")
        assert listed == appended
        assert [e.data["i"] for e in listed] == list(range(12))

    def test_events_per_request_streams(self, store: Store) -> None:
        for request_id in ("req_e1", "req_e2"):
            store.create_request(make_request(request_id))
        store.append_event(Event(request_id="req_e1", type="a"))
        store.append_event(Event(request_id="req_e2", type="b"))
        store.append_event(Event(request_id="req_e1", type="c"))
        assert [(e.type, e.seq) for e in store.list_events("req_e1")] == [("a", 1), ("c", 2)]
        assert [(e.type, e.seq) for e in store.list_events("req_e2")] == [("b", 1)]
        assert store.list_events("req_none") == []

    def test_events_have_no_update_or_delete(self, store: Store) -> None:
        # Events are append-only: a store may offer read-only helpers over them (an index for
        # queries), never a way to change or remove one.
        mutating = ("update", "delete", "remove", "put", "set", "edit", "replace", "purge")
        for name in dir(store):
            lowered = name.lower()
            if "event" in lowered and not name.startswith("_"):
                assert not any(word in lowered for word in mutating), f"unexpected {name}"

    def test_concurrent_threads_append_gapless(self, store: Store) -> None:
        store.create_request(make_request("req_evt"))
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(15):
                    store.append_event(Event(request_id="req_evt", type=f"t{n}", data={"i": i}))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        events = store.list_events("req_evt")
        assert [e.seq for e in events] == list(range(1, 61))
        for n in range(4):
            # Each writer's own events keep their order.
            assert [e.data["i"] for e in events if e.type == f"t{n}"] == list(range(15))

    # -- artifacts -------------------------------------------------------------------------

    @pytest.mark.parametrize("data", [b"", b"plan", bytes(range(256)) * 64, b"\x00" * 10], ids=len)
    def test_artifact_round_trip(self, store: Store, data: bytes) -> None:
        store.create_request(make_request("req_art"))
        digest = store.put_artifact("req_art", "plan.tfplan", data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert store.get_artifact("req_art", "plan.tfplan") == data

    def test_artifact_replace_and_separate(self, store: Store) -> None:
        store.create_request(make_request("req_art2"))
        store.put_artifact("req_art2", "a.bin", b"one")
        digest = store.put_artifact("req_art2", "a.bin", b"two")
        store.put_artifact("req_art2", "b.bin", b"other")
        assert digest == hashlib.sha256(b"two").hexdigest()
        assert store.get_artifact("req_art2", "a.bin") == b"two"
        assert store.get_artifact("req_art2", "b.bin") == b"other"

    def test_artifact_missing(self, store: Store) -> None:
        store.create_request(make_request("req_art3"))
        with pytest.raises(NotFoundError):
            store.get_artifact("req_art3", "nothing.bin")
        with pytest.raises(NotFoundError):
            store.get_artifact("req_none", "nothing.bin")

    # -- ids -------------------------------------------------------------------------------

    @pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
    def test_bad_request_ids_refused(self, store: Store, bad: str) -> None:
        with pytest.raises(ValidationError):
            store.create_request(make_request(bad))
        with pytest.raises(ValidationError):
            store.get_request(bad)
        with pytest.raises(ValidationError):
            store.put_request(make_request(bad), expected_version=1)
        with pytest.raises(ValidationError):
            store.append_event(Event(request_id=bad, type="x"))
        with pytest.raises(ValidationError):
            store.list_events(bad)
        with pytest.raises(ValidationError):
            store.put_artifact(bad, "plan.bin", b"x")
        with pytest.raises(ValidationError):
            store.get_artifact(bad, "plan.bin")

    @pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
    def test_bad_artifact_names_refused(self, store: Store, bad: str) -> None:
        store.create_request(make_request("req_names"))
        with pytest.raises(ValidationError):
            store.put_artifact("req_names", bad, b"x")
        with pytest.raises(ValidationError):
            store.get_artifact("req_names", bad)

    # -- records ---------------------------------------------------------------------------

    def test_record_create_get(self, store: Store) -> None:
        assert store.get_record("locks", "req_a") is None
        created = store.put_record("locks", "req_a", {"owner": "alice"}, expected_version=None)
        assert created.version == 1 and created.value == {"owner": "alice"}
        assert store.get_record("locks", "req_a") == created
        assert store.get_record("other", "req_a") is None

    def test_record_create_twice_conflicts(self, store: Store) -> None:
        store.put_record("locks", "k", {"owner": "alice"}, expected_version=None)
        with pytest.raises(ConflictError):
            store.put_record("locks", "k", {"owner": "bob"}, expected_version=None)
        record = store.get_record("locks", "k")
        assert record is not None and record.value == {"owner": "alice"}

    def test_record_cas(self, store: Store) -> None:
        store.put_record("prefs", "alice", {"n": 1}, expected_version=None)
        second = store.put_record("prefs", "alice", {"n": 2}, expected_version=1)
        assert second.version == 2
        with pytest.raises(ConflictError):
            store.put_record("prefs", "alice", {"n": 3}, expected_version=1)
        third = store.put_record("prefs", "alice", {"n": 3}, expected_version=2)
        assert third.version == 3
        record = store.get_record("prefs", "alice")
        assert record is not None and record.value == {"n": 3} and record.version == 3

    def test_record_cas_on_missing_conflicts(self, store: Store) -> None:
        with pytest.raises(ConflictError):
            store.put_record("prefs", "nobody", {"n": 1}, expected_version=1)
        assert store.get_record("prefs", "nobody") is None

    def test_record_delete(self, store: Store) -> None:
        store.put_record("locks", "d", {"owner": "alice"}, expected_version=None)
        store.put_record("locks", "d", {"owner": "alice", "renewed": True}, expected_version=1)
        with pytest.raises(ConflictError):
            store.delete_record("locks", "d", expected_version=1)
        assert store.get_record("locks", "d") is not None
        store.delete_record("locks", "d", expected_version=2)
        assert store.get_record("locks", "d") is None
        assert store.list_records("locks") == []
        with pytest.raises(ConflictError):
            store.delete_record("locks", "d", expected_version=2)
        again = store.put_record("locks", "d", {"owner": "bob"}, expected_version=None)
        assert again.value == {"owner": "bob"}

    def test_record_expiry(self, store: Store) -> None:
        now = utcnow()
        old = store.put_record(
            "locks", "e", {"owner": "alice"}, expected_version=None, expires_at=now - timedelta(1)
        )
        assert store.get_record("locks", "e") is None
        assert store.list_records("locks") == []
        # An expired record cannot be renewed by its old holder...
        with pytest.raises(ConflictError):
            store.put_record("locks", "e", {"owner": "alice"}, expected_version=old.version)
        # ...but can be replaced by a create, at a version the old holder never had.
        new = store.put_record(
            "locks", "e", {"owner": "bob"}, expected_version=None, expires_at=now + timedelta(1)
        )
        assert new.version > old.version
        assert new.expires_at is not None and abs(new.expires_at - (now + timedelta(1))) < (
            timedelta(milliseconds=1)
        )
        got = store.get_record("locks", "e")
        assert got is not None and got.value == {"owner": "bob"} and got.version == new.version
        with pytest.raises(ConflictError):
            store.delete_record("locks", "e", expected_version=old.version)

    def test_record_value_round_trip(self, store: Store) -> None:
        value = {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None, "l": [1, "a"], "d": {"k": []}}
        assert store.put_record("misc", "v", value, expected_version=None).value == value
        record = store.get_record("misc", "v")
        assert record is not None and record.value == value

    def test_record_prefix_listing(self, store: Store) -> None:
        for key in ("idem:bob:2", "idem:alice:1", "idem:alice:2", "idem:alicex", "other:1"):
            store.put_record("keys", key, {"key": key}, expected_version=None)
        store.put_record("elsewhere", "idem:alice:3", {}, expected_version=None)
        store.put_record(
            "keys", "idem:alice:0", {}, expected_version=None, expires_at=utcnow() - timedelta(1)
        )
        listed = store.list_records("keys", "idem:alice:")
        assert [r.key for r in listed] == ["idem:alice:1", "idem:alice:2"]
        assert all(r.namespace == "keys" for r in listed)
        everything = [r.key for r in store.list_records("keys")]
        assert everything == [
            "idem:alice:1",
            "idem:alice:2",
            "idem:alicex",
            "idem:bob:2",
            "other:1",
        ]
        assert store.list_records("keys", "%") == []
        assert store.list_records("empty") == []

    # -- optional capabilities (skipped for a store without them) ---------------------------

    def test_index_rows_never_miss_a_match(self, store: Store) -> None:
        """``index_rows`` (tfpilot_core.stores.rows): every matching request, right fields."""

        if not isinstance(store, RowIndexedStore):
            pytest.skip("the store has no index_rows (optional)")
        for i, env in enumerate(("dev", "prod", "dev", "stage")):
            store.create_request(
                make_request(f"row_{i}", environment=env, author=("alice", "bob")[i % 2])
            )
        rows = store.index_rows(IndexFilter(environments=["dev"]), with_status=True)
        exact = {r.id: r for r in rows if r.exact}
        assert {"row_0", "row_2"} <= {r.id for r in rows}
        for row in exact.values():
            assert row.environment == "dev" and row.status == "request_created"
        bob = store.index_rows(IndexFilter(authors=["bob"]))
        assert {r.id for r in bob if r.exact} == {"row_1", "row_3"}
        assert len(store.index_rows()) == 4

    def test_index_rows_of_a_drift_shard(self, store: Store) -> None:
        """``index_rows`` with a drift shard: every applied member, whatever the others are."""

        if not isinstance(store, RowIndexedStore):
            pytest.skip("the store has no index_rows (optional)")
        applied = {f"app_{i}" for i in range(12)}
        for rid in sorted(applied):
            store.create_request(make_applied_request(rid))
        for i in range(6):
            store.create_request(make_request(f"new_{i}"))
        # One leaves applied (a destroy started): its shard must not keep it as applied.
        destroying = {RunKind.DESTROY: _done(RunKind.DESTROY, status=RunStatus.IN_PROGRESS)}
        update_request(
            store, "app_0", lambda r: r.model_copy(update={"runs": {**r.runs, **destroying}})
        )
        applied.discard("app_0")
        for count in (1, 3):
            found: list[str] = []
            for index in range(count):
                where = IndexFilter(statuses=["applied"], shard=(index, count))
                rows = store.index_rows(where, with_status=True)
                assert all(shard_of(r.id, count) == index for r in rows)
                # Rows that are not exact are checked against their documents, as callers do.
                for row in rows:
                    request = store.get_request(row.id)
                    if derive_status(request).value == "applied":
                        found.append(row.id)
            assert sorted(found) == sorted(applied)

    def test_due_index(self, store: Store) -> None:
        """``mark_due``/``clear_due``/``due_keys`` (tfpilot_core.stores.due): earliest first."""

        if not isinstance(store, DueIndexStore):
            pytest.skip("the store has no due index (optional)")
        now = utcnow()
        store.mark_due("outbox", "b", now - timedelta(minutes=1))
        store.mark_due("outbox", "a", now - timedelta(minutes=2))
        store.mark_due("outbox", "a", now - timedelta(minutes=2))  # idempotent
        store.mark_due("outbox", "later", now + timedelta(hours=1))
        store.mark_due("other", "c", now - timedelta(minutes=3))
        assert [k for _, k in store.due_keys("outbox", now)] == ["a", "b"]
        assert [k for _, k in store.due_keys("outbox", now, limit=1)] == ["a"]
        store.clear_due("outbox", "a", now - timedelta(minutes=2))
        store.clear_due("outbox", "a", now - timedelta(minutes=2))  # idempotent
        due = store.due_keys("outbox", now + timedelta(days=1))
        assert [k for _, k in due] == ["b", "later"]
        assert abs(due[0][0] - (now - timedelta(minutes=1))) < timedelta(milliseconds=1)

    def test_backend_calls_are_counted(self, store: Store) -> None:
        """``backend_calls()``: the request-count model counts every operation's calls."""
        counted = getattr(store, "backend_calls", None)
        if counted is None:
            pytest.skip("the store does not count its backend calls (optional)")
        before = sum(counted().values())
        store.create_request(make_request("counted"))
        store.get_request("counted")
        assert sum(counted().values()) > before

    # -- across processes (opt-in: store_factory) ------------------------------------------

    def test_processes_lose_no_cas_update(self, store_factory: Callable[[], Store]) -> None:
        parent = store_factory()
        parent.create_request(make_request("req_race", inputs={"counter": 0}))
        outcomes = _run_children(_cas_worker, (store_factory, "req_race", _UPDATES), _PROCESSES)
        assert outcomes == ["ok"] * _PROCESSES
        final = parent.get_request("req_race")
        assert final.inputs["counter"] == _PROCESSES * _UPDATES
        assert final.version == 1 + _PROCESSES * _UPDATES

    def test_processes_create_race_one_winner(self, store_factory: Callable[[], Store]) -> None:
        outcomes = _run_children(_create_worker, (store_factory, "req_create_race"), _PROCESSES)
        assert sorted(outcomes) == ["lost"] * (_PROCESSES - 1) + ["won"]
        assert store_factory().get_request("req_create_race").version == 1

    def test_processes_record_race_one_winner(self, store_factory: Callable[[], Store]) -> None:
        outcomes = _run_children(_record_worker, (store_factory, "locks", "race"), _PROCESSES)
        assert sorted(outcomes) == ["lost"] * (_PROCESSES - 1) + ["won"]
        record = store_factory().get_record("locks", "race")
        assert record is not None and record.version == 1
