"""Drift shards on S3: a shard's read costs what the shard holds, not what the bucket holds.

Counted through the store's botocore event hook (``before-send.s3``), never timed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.lifecycle import derive_status
from tfpilot_core.models import Request, RunAttempt, RunKind, RunStatus
from tfpilot_core.query.rows import applied_shard
from tfpilot_core.stores.cas import update_request
from tfpilot_core.stores.rows import IndexFilter, shard_key, shard_of, shard_range
from tfpilot_core.testing.store_conformance import make_applied_request
from tfpilot_store_s3.store import S3Store
from tfpilot_store_s3.testing import MotoS3Server

_BASE = datetime(2026, 5, 1, tzinfo=UTC)


def _applied(n: int) -> Request:
    return make_applied_request(f"app_{n:05d}", created_at=_BASE + timedelta(seconds=n))


def _seed(store: S3Store, numbers: range) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: store.create_request(_applied(n)), numbers))


def _kernel(store: S3Store) -> SimpleNamespace:
    return SimpleNamespace(store=store, status=derive_status)


@given(st.text(min_size=1, max_size=20), st.integers(min_value=1, max_value=300))
def test_a_shard_is_the_range_of_its_key(request_id: str, shards: int) -> None:
    index = shard_of(request_id, shards)
    low, high = shard_range(index, shards)
    assert 0 <= index < shards
    assert low <= shard_key(request_id) and (high is None or shard_key(request_id) < high)


def test_a_shard_of_50_costs_the_same_at_200_and_800_applied(
    make_store: Callable[..., S3Store],
) -> None:
    store = make_store()
    costs = []
    for size in (200, 800):
        _seed(store, range(len(costs) and 200, size))
        shards = size // 50
        with store.calls.counting() as calls:
            members = applied_shard(_kernel(store), 1, shards)
        assert members is not None and 25 <= len(members) <= 80
        assert all(shard_of(r.id, shards) == 1 for r in members)
        # One LIST of the shard's markers, one GET per member document: nothing else.
        assert calls == {
            "ListObjectsV2": 1,
            "GetObject": len(members),
            "GET": 1 + len(members),
            "total": 1 + len(members),
        }
        costs.append(calls["ListObjectsV2"])
        # Every applied request is in exactly one shard.
        found = [
            r.id for i in range(shards) for r in applied_shard(_kernel(store), i, shards) or []
        ]
        assert sorted(found) == [f"app_{n:05d}" for n in range(size)]
    assert costs == [1, 1]


def test_a_request_leaving_applied_leaves_its_shard(make_store: Callable[..., S3Store]) -> None:
    store = make_store()
    _seed(store, range(20))
    destroy = RunAttempt(
        id="destroy1",
        kind=RunKind.DESTROY,
        number=1,
        runner="local",
        revision=1,
        actor="alice",
        status=RunStatus.IN_PROGRESS,
        created_at=_BASE,
        started_at=_BASE,
    )
    update_request(
        store,
        "app_00003",
        lambda r: r.model_copy(update={"runs": {**r.runs, RunKind.DESTROY: [destroy]}}),
    )
    where = IndexFilter(statuses=["applied"], shard=(0, 1))
    assert sorted(r.id for r in store.index_rows(where, with_status=True)) == [
        f"app_{n:05d}" for n in range(20) if n != 3
    ]


def test_a_bucket_from_before_the_shard_markers_is_read_whole_until_repaired(
    make_store: Callable[..., S3Store], moto_server: MotoS3Server, bucket: str
) -> None:
    store = make_store()
    _seed(store, range(30))
    # What an older store left: no shard markers and no ready marker.
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)
    for prefix in ("tfpilot/index/shard/", "tfpilot/meta/"):
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    older = make_store()
    every = sorted(f"app_{n:05d}" for n in range(30))
    found = [r.id for i in range(3) for r in applied_shard(_kernel(older), i, 3) or []]
    assert sorted(found) == every  # from the status markers: nothing missed
    assert older.repair_index()["added"] == 30  # one shard marker per applied request
    repaired = make_store()
    with repaired.calls.counting() as calls:
        found = [r.id for i in range(3) for r in applied_shard(_kernel(repaired), i, 3) or []]
    assert sorted(found) == every
    # One HEAD (the ready marker, once per store), then one LIST per shard.
    assert calls["HeadObject"] == 1 and calls["ListObjectsV2"] == 3
