"""The listing index: what listing costs, and how the index may lag behind the documents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpilot_core.models import Conclusion, Request, RequestQuery, RunAttempt, RunKind, RunStatus
from tfpilot_core.stores.cas import update_request
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3 import keys
from tfpilot_store_s3.store import S3Store
from tfpilot_store_s3.testing import MotoS3Server

_BASE = datetime(2026, 3, 1, tzinfo=UTC)
_ID_CHARS = "-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4_000_000_000_000_000),
            st.text(alphabet=_ID_CHARS, min_size=1, max_size=12).filter(
                lambda s: s[0].isalnum() and ".." not in s
            ),
        ),
        min_size=2,
        max_size=30,
        unique_by=lambda t: t[1],
    )
)
def test_entry_names_sort_newest_first(pairs: list[tuple[int, str]]) -> None:
    """Ascending key order (what S3 lists) is (created_at, id) descending, and the cursor's
    StartAfter falls exactly between neighbours."""
    requests = [
        make_request(request_id, created_at=keys.from_us(created_us))
        for created_us, request_id in pairs
    ]
    by_key = sorted(requests, key=keys.entry_name)
    by_contract = sorted(requests, key=lambda r: (r.created_at, r.id), reverse=True)
    assert [r.id for r in by_key] == [r.id for r in by_contract]
    names = [keys.entry_name(r) for r in by_key]
    for i, request in enumerate(by_key):
        after = keys.position_after(keys.to_us(request.created_at), request.id)
        assert all(name <= after for name in names[: i + 1])
        assert all(name > after for name in names[i + 1 :])
        parsed = keys.parse_entry(names[i])
        assert parsed is not None and parsed.request_id == request.id


def test_long_fields_are_indexed_as_unknown() -> None:
    request = make_request("req_long", author="a" * 400)
    name = keys.entry_name(request)
    parsed = keys.parse_entry(name)
    assert parsed is not None and parsed.author is None and parsed.environment == "dev"
    assert len(name.encode()) < 600


@pytest.fixture
def calls(make_store: Callable[..., S3Store]) -> Iterator[tuple[S3Store, Counter[str]]]:
    """A store and a counter of the S3 operations it sends (a botocore event hook)."""
    store = make_store()
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[model.name] += 1

    store.client.meta.events.register("before-call.s3", count)
    yield store, counted


def _fill(store: S3Store, n: int) -> list[Request]:
    return [
        store.create_request(
            make_request(
                f"req_{i:04d}",
                environment=("dev", "stage", "prod")[i % 3],
                created_at=_BASE + timedelta(seconds=i),
            )
        )
        for i in range(n)
    ]


def test_a_page_costs_lists_and_one_get_per_item(
    calls: tuple[S3Store, Counter[str]],
) -> None:
    store, counted = calls
    made = _fill(store, 300)
    counted.clear()
    page = store.list_requests(RequestQuery(limit=10, environment="prod"))
    expected = [r.id for r in reversed(made) if r.placement.environment == "prod"][:10]
    assert [r.id for r in page.items] == expected
    # One LIST of the index; 10 documents for the page and one more to know there is a next.
    assert counted == Counter({"ListObjectsV2": 1, "GetObject": 11})
    counted.clear()
    window = RequestQuery(
        created_after=_BASE + timedelta(seconds=100), created_before=_BASE + timedelta(seconds=110)
    )
    assert [r.id for r in store.list_requests(window).items] == [
        f"req_{i:04d}" for i in range(109, 99, -1)
    ]
    # The window starts the LIST at its upper bound and stops at its lower bound.
    assert counted == Counter({"ListObjectsV2": 1, "GetObject": 10})


def test_status_markers_follow_the_document(
    make_store: Callable[..., S3Store], moto_server: MotoS3Server, bucket: str
) -> None:
    store = make_store()
    store.create_request(make_request("req_s"))
    now = datetime.now(UTC)
    attempt = RunAttempt(
        id="run1",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor="alice",
        status=RunStatus.IN_PROGRESS,
        created_at=now,
        started_at=now,
    )

    def start(request: Request) -> Request:
        request.runs = {RunKind.PLAN: [attempt]}
        return request

    def finish(request: Request) -> Request:
        done = attempt.advanced(
            status=RunStatus.COMPLETED,
            conclusion=Conclusion.SUCCESS,
            completed_at=now,
            plan_digest="d" * 64,
        )
        request.runs = {RunKind.PLAN: [done]}
        return request

    update_request(store, "req_s", start)
    assert [r.id for r in store.list_requests(RequestQuery(status="planning")).items] == ["req_s"]
    update_request(store, "req_s", finish)
    assert store.list_requests(RequestQuery(status="planning")).items == []
    assert [r.id for r in store.list_requests(RequestQuery(status="plan_ready")).items] == ["req_s"]
    # The replaced markers were retired: one marker, for the current status.
    markers = _keys(moto_server, bucket, "tfpilot/index/status/")
    assert [m.split("/")[3] for m in markers] == ["plan_ready"]


def _keys(moto_server: MotoS3Server, bucket: str, prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_index_lags_only_towards_more(
    make_store: Callable[..., S3Store], moto_server: MotoS3Server, bucket: str
) -> None:
    """Entries are written before the document: a write that dies in between leaves a ghost
    entry, which listing skips (the document is the truth) and repair removes once old."""
    store = make_store()
    store.create_request(make_request("req_real"))
    # A create that wrote its index entries and then died before its document.
    ghost = make_request("req_ghost", created_at=_BASE)
    entry = keys.entry_name(ghost)
    store._write_entries(
        [store._all_prefix() + entry, store._status_prefix("request_created") + entry], version=1
    )
    # A writer that lost its compare-and-swap after writing a marker for a status it never got.
    real = store.get_request("req_real")
    store._write_entries([store._status_prefix("applied") + keys.entry_name(real)], version=2)

    assert [r.id for r in store.list_requests(RequestQuery()).items] == ["req_real"]
    assert store.list_requests(RequestQuery(status="applied")).items == []
    assert [r.id for r in store.list_requests(RequestQuery(status="request_created")).items] == [
        "req_real"
    ]
    # Young entries without a document, or for a version not reached yet, may be writes in
    # flight: repair keeps them until they are older than its grace period...
    assert store.repair_index() == {"added": 0, "removed": 0}
    # ...but an entry for a version the document has reached is stale for sure.
    update_request(store, "req_real", lambda r: r)
    assert store.repair_index() == {"added": 0, "removed": 1}
    assert store.repair_index(grace=timedelta(0)) == {"added": 0, "removed": 2}
    assert len(_keys(moto_server, bucket, "tfpilot/index/")) == 2


def test_repair_indexes_documents_written_by_other_means(
    make_store: Callable[..., S3Store], moto_server: MotoS3Server, bucket: str
) -> None:
    """A document copied in without the store (a restore) is listed after repair_index."""
    store = make_store()
    restored = make_request("req_restored").model_copy(update={"version": 3})
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)
    s3.put_object(Bucket=bucket, Key="tfpilot/requests/req_restored.json", Body=restored.dump())
    assert store.list_requests(RequestQuery()).items == []
    assert store.repair_index() == {"added": 2, "removed": 0}
    assert [r.id for r in store.list_requests(RequestQuery()).items] == ["req_restored"]
    assert [r.id for r in store.scan_requests()] == ["req_restored"]


def test_changed_listing_fields_move_the_entry(make_store: Callable[..., S3Store]) -> None:
    """Placement and author never change in the domain, but the store copes if they do."""
    store = make_store()
    created = store.create_request(make_request("req_m", author="alice"))
    moved = created.model_copy(update={"created_by": "bob"})
    store.put_request(moved, expected_version=1)
    assert store.list_requests(RequestQuery(author="alice")).items == []
    assert [r.id for r in store.list_requests(RequestQuery(author="bob")).items] == ["req_m"]
    assert store.repair_index(grace=timedelta(0)) == {"added": 0, "removed": 0}


def test_naive_datetimes_are_utc(make_store: Callable[..., S3Store]) -> None:
    store = make_store()
    store.create_request(make_request("req_t", created_at=_BASE))
    naive = _BASE.replace(tzinfo=None)
    assert [r.id for r in store.list_requests(RequestQuery(created_after=naive)).items] == ["req_t"]
    assert store.list_requests(RequestQuery(created_before=naive)).items == []


def test_long_record_keys_are_hashed_and_still_listed_by_prefix(
    make_store: Callable[..., S3Store],
) -> None:
    store = make_store()
    long_keys = [f"idem:alice:{'é' * 300}{i}" for i in range(3)]  # 1,800+ bytes once encoded
    for key in [*long_keys, "idem:bob:1"]:
        store.put_record("keys", key, {"k": key}, expected_version=None)
    assert len(keys.record_name(long_keys[0])) < 700
    assert [r.key for r in store.list_records("keys", "idem:alice:")] == sorted(long_keys)
    record = store.get_record("keys", long_keys[1])
    assert record is not None and record.value == {"k": long_keys[1]}
    store.delete_record("keys", long_keys[1], expected_version=1)
    assert [r.key for r in store.list_records("keys", "idem:")] == [
        long_keys[0],
        long_keys[2],
        "idem:bob:1",
    ]
