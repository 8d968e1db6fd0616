"""Drift shards on the embedded store: one slice of the ``(status, shard)`` index per shard.

SQLite runs one statement whatever it reads, so the statement count says nothing here: what
the statement reads is SQLite's query plan, checked below (a search of the shard index by
status and shard range, not a scan of the applied requests).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tfpilot_core.models import Request
from tfpilot_core.stores.rows import IndexFilter, shard_of, shard_range
from tfpilot_core.stores.sqlite import SQLiteStore
from tfpilot_core.testing.store_conformance import make_applied_request, make_request

_BASE = datetime(2026, 5, 1, tzinfo=UTC)


def _applied(n: int) -> Request:
    return make_applied_request(f"app_{n:05d}", created_at=_BASE + timedelta(seconds=n))


def _shard_ids(store: SQLiteStore, index: int, count: int) -> list[str]:
    where = IndexFilter(statuses=["applied"], shard=(index, count))
    return sorted(r.id for r in store.index_rows(where, with_status=True))


def test_a_shard_reads_one_slice_of_the_shard_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "t.db")
    for n in range(120):
        store.create_request(_applied(n) if n % 2 else make_request(f"new_{n:05d}"))
    found = [rid for i in range(4) for rid in _shard_ids(store, i, 4)]
    assert sorted(found) == [f"app_{n:05d}" for n in range(1, 120, 2)]
    assert all(shard_of(rid, 4) == i for i in range(4) for rid in _shard_ids(store, i, 4))
    low, high = shard_range(1, 4)
    plan = " ".join(
        str(row[-1])
        for row in sqlite3.connect(tmp_path / "t.db").execute(
            "EXPLAIN QUERY PLAN SELECT id FROM requests WHERE status IN (?)"
            " AND (shard >= ? AND shard < ? OR shard IS NULL)",
            ("applied", low, high),
        )
    )
    assert "requests_by_shard" in plan and "SCAN" not in plan, plan
    store.close()


def test_a_database_from_before_the_shard_column_gets_it_filled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    for n in range(40):
        store.create_request(_applied(n))
    store.close()
    # What an older tfpilot left: no shard column, no shard index.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX requests_by_shard")
        conn.execute("ALTER TABLE requests DROP COLUMN shard")
    reopened = SQLiteStore(path)
    found = [rid for i in range(3) for rid in _shard_ids(reopened, i, 3)]
    assert sorted(found) == [f"app_{n:05d}" for n in range(40)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM requests WHERE shard IS NULL").fetchone() == (0,)
    reopened.close()
    # The same layout as a new database's (a read-only open compares them).
    SQLiteStore(tmp_path / "new.db").close()

    def layout(db: Path) -> list[tuple[str, str]]:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()

    assert layout(path) == layout(tmp_path / "new.db")
