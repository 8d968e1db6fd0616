"""Aggregate questions on the S3 store: answered from the index keys, the same as on SQLite.

Counts are S3 requests counted by the store's botocore event hook (``S3Store.calls``), not time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tfpilot_core.platform import Platform
from tfpilot_core.query.model import Aggregate, GroupBy, Query, SortKey
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


@pytest.mark.parametrize("user", ["admin", "vera", "pat", "nobody"])
def test_the_index_answers_as_the_documents_do(
    platforms: tuple[Platform, Platform], user: str
) -> None:
    embedded, on_s3 = platforms
    for query in QUERIES:
        a = embedded.query(user, query).model_dump(exclude={"plan"})
        b = on_s3.query(user, query).model_dump(exclude={"plan"})
        assert a == b, query


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
            rows = store.index_rows(environments=plan.query.environments)
        assert len(rows) == total // 3
        counts.append(calls)
    assert counts[0] == counts[1] == {"ListObjectsV2": 1, "GET": 1, "total": 1}
