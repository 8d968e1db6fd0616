"""Aggregate questions on the S3 store: answered from the index keys, the same as on SQLite.

Counts are S3 requests counted by the store's botocore event hook (``S3Store.calls``), not time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.models import RequestQuery
from tfpilot_core.platform import Platform
from tfpilot_core.query.model import Aggregate, GroupBy, Query, SortKey
from tfpilot_core.stores.rows import IndexFilter
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3.store import S3Store
from tfpilot_store_s3.testing import MotoS3Server

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "query"))

from query_world import CONFIG, make_platform, seed


@pytest.fixture
def platforms(
    tmp_path: Path, moto_server: MotoS3Server, bucket: str
) -> Iterator[tuple[Platform, Platform]]:
    """The query world on SQLite and on S3 (moto over HTTP)."""
    (tmp_path / "sqlite").mkdir()
    embedded = make_platform(tmp_path / "sqlite")
    s3_config = (
        f'[core]\nstore = "s3"\n[plugins.store_s3]\nbucket = "{bucket}"\n'
        f'endpoint_url = "{moto_server.endpoint_url}"\nregion = "us-east-1"\n' + CONFIG
    )
    home = tmp_path / "s3"
    home.mkdir()
    path = home / "tfpilot.toml"
    path.write_text(s3_config)
    on_s3 = Platform.from_config(path, environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": ""})
    seed(embedded)
    seed(on_s3)
    yield embedded, on_s3


QUERIES = [
    Query(aggregate=Aggregate.COUNT),
    Query(aggregate=Aggregate.COUNT, environments=["dev"]),
    Query(aggregate=Aggregate.COUNT, group_by=GroupBy.ENVIRONMENT),
    Query(aggregate=Aggregate.COUNT, group_by=GroupBy.STATUS),
    Query(aggregate=Aggregate.COUNT, statuses=["applied"], group_by=GroupBy.PROJECT),
    Query(aggregate=Aggregate.COUNT, group_by=GroupBy.AUTHOR, projects=["shop", "search"]),
    Query(aggregate=Aggregate.SUM_COST, group_by=GroupBy.PROJECT),
    Query(aggregate=Aggregate.SUM_COST, environments=["prod"]),
    Query(limit=3),
    Query(limit=4, sort=SortKey.OLDEST, statuses=["applied", "failed"]),
]


def test_the_index_answers_as_the_documents_do(platforms: tuple[Platform, Platform]) -> None:
    embedded, on_s3 = platforms
    for user in ("admin", "vera", "pat", "nobody"):
        for query in QUERIES:
            a = embedded.query(user, query).model_dump(exclude={"plan"})
            b = on_s3.query(user, query).model_dump(exclude={"plan"})
            assert a == b, (user, query)


def _seed(store: S3Store, start: int, count: int) -> None:
    for i in range(start, start + count):
        store.create_request(
            make_request(f"req_{i:05d}", environment=("dev", "stage", "prod")[i % 3])
        )


def test_a_count_reads_no_document_and_lists_once_per_thousand_keys(
    make_store: Callable[..., S3Store],
) -> None:
    from tfpilot_core.query.engine import compile_query
    from tfpilot_core.query.rows import answerable

    store = make_store()
    query = Query(aggregate=Aggregate.COUNT, environments=["dev"])
    assert answerable(query)
    counts = []
    for total in (30, 120):
        _seed(store, total - 30 if total == 30 else 30, total - (0 if total == 30 else 30))
        plan = compile_query(query)
        with store.calls.counting() as calls:
            rows = store.index_rows(IndexFilter(environments=plan.query.environments))
        assert len(rows) == total // 3
        counts.append(calls)
    assert counts[0] == counts[1] == {"ListObjectsV2": 1, "GET": 1, "total": 1}


def _applied(n: int) -> Any:
    from datetime import UTC, datetime, timedelta

    from tfpilot_core.query.seed import make_request as seeded

    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return seeded(
        n,
        environment="dev",
        project="shop",
        module="bucket",
        author="alice",
        created_at=created,
        state="applied" if n % 2 else "plan_ready",
        applied_at=created + timedelta(seconds=30),
    )


def test_a_drift_shard_reads_only_its_members(platforms: tuple[Platform, Platform]) -> None:
    """Shards partition the applied requests; a shard GETs its members' documents only."""
    from tfpilot_core.query.rows import applied_count, applied_shard
    from tfpilot_core.stores.rows import shard_of

    embedded, on_s3 = platforms
    store = on_s3.store.wrapped  # type: ignore[attr-defined]
    for n in range(100, 160):
        request = _applied(n)
        embedded.store.create_request(request)
        store.create_request(request)
    for platform in (embedded, on_s3):
        page = platform.store.list_requests(RequestQuery(status="applied", limit=1000))
        applied = {r.id for r in page.items}
        assert applied_count(platform) == len(applied) == 30 + 6
        shards = [applied_shard(platform, i, 4) for i in range(4)]
        ids = [r.id for shard in shards for r in shard or []]
        assert sorted(ids) == sorted(applied)  # each applied request in exactly one shard
        for i, shard in enumerate(shards):
            assert all(shard_of(r.id, 4) == i for r in shard or [])
    with store.calls.counting() as calls:
        members = applied_shard(on_s3, 1, 4)
    assert members is not None
    assert calls.get("GetObject", 0) == len(members)
    # One LIST of the shard markers from the shard's first key (under 1,000 members).
    assert calls.get("ListObjectsV2", 0) == 1
