"""The embedded SQLite store: the conformance suite, crash safety, and its default plugin."""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tfpilot_core.errors import ValidationError
from tfpilot_core.interfaces import Store
from tfpilot_core.lifecycle import derive_status
from tfpilot_core.models import Request, RequestQuery, RunStatus, utcnow
from tfpilot_core.registrations import PluginContext
from tfpilot_core.stores.cas import update_request
from tfpilot_core.stores.sqlite import SQLiteStore
from tfpilot_core.testing.store_conformance import StoreConformance, make_request

CRASH_WRITER = Path(__file__).with_name("crash_writer.py")
REPO = Path(__file__).resolve().parents[2]


class TestSQLiteStore(StoreConformance):
    """The whole conformance suite, cross-process part included."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = SQLiteStore(tmp_path / "store.db")
        yield store
        store.close()

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Store]:
        return functools.partial(SQLiteStore, tmp_path / "shared.db")


# -- SQLite specifics ---------------------------------------------------------------------


def test_wal_and_durability_settings(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.create_request(make_request("req_a"))
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    # synchronous is per connection: check the store's own.
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    normal = SQLiteStore(tmp_path / "s.db", synchronous="NORMAL")
    assert normal._conn().execute("PRAGMA synchronous").fetchone()[0] == 1


def test_events_refuse_update_and_delete_even_in_sql(tmp_path: Path) -> None:
    from tfpilot_core.models import Event

    store = SQLiteStore(tmp_path / "s.db")
    store.append_event(Event(request_id="req_a", type="x"))
    conn = sqlite3.connect(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET document = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")


def test_status_index_goes_stale_and_listing_rederives(tmp_path: Path) -> None:
    now = [utcnow()]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0])
    from tfpilot_core.models import RunAttempt, RunKind

    attempt = RunAttempt(
        id="run1",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor="alice",
        status=RunStatus.IN_PROGRESS,
        created_at=now[0],
        started_at=now[0],
    )
    store.create_request(make_request("req_slow", runs={RunKind.PLAN: [attempt]}))
    store.create_request(make_request("req_idle"))
    assert [r.id for r in store.list_requests(RequestQuery(status="planning")).items] == [
        "req_slow"
    ]
    # Three hours later nothing was written, so the index still says "planning"...
    now[0] += timedelta(hours=3)
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("SELECT status FROM requests WHERE id = 'req_slow'").fetchone() == (
        "planning",
    )
    # ...but the listing re-derives: the run is stale, the request is failed.
    assert store.list_requests(RequestQuery(status="planning")).items == []
    failed = store.list_requests(RequestQuery(status="failed")).items
    assert [r.id for r in failed] == ["req_slow"]
    assert derive_status(failed[0], now=now[0]).value == "failed"


def test_status_filter_pages_past_rejected_candidates(tmp_path: Path) -> None:
    now = [utcnow()]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0])
    from tfpilot_core.models import RunAttempt, RunKind

    base = now[0]
    for i in range(30):
        started = base - timedelta(hours=3) if i % 3 == 0 else base
        attempt = RunAttempt(
            id="r",
            kind=RunKind.PLAN,
            number=1,
            runner="local",
            revision=1,
            actor="a",
            status=RunStatus.IN_PROGRESS,
            created_at=started,
            started_at=started,
        )
        store.create_request(
            make_request(
                f"req_{i:02d}",
                created_at=base + timedelta(seconds=i),
                runs={RunKind.PLAN: [attempt]},
            )
        )
    seen: list[str] = []
    page = store.list_requests(RequestQuery(status="failed", limit=2))
    seen += [r.id for r in page.items]
    while page.next_cursor:
        page = store.list_requests(RequestQuery(status="failed", limit=2, cursor=page.next_cursor))
        seen += [r.id for r in page.items]
    assert seen == [f"req_{i:02d}" for i in reversed(range(30)) if i % 3 == 0]


def test_bad_query_values(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(ValidationError):
        store.list_requests(RequestQuery(status="aplied"))
    with pytest.raises(ValidationError):
        store.list_requests(RequestQuery(cursor="not-a-cursor"))
    with pytest.raises(ValidationError):
        store.get_record("bad/ns", "k")
    with pytest.raises(ValidationError):
        store.put_record("ns", "bad\nkey", {}, expected_version=None)


def test_delete_then_create_never_reuses_a_version(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    first = store.put_record("locks", "k", {"owner": "a"}, expected_version=None)
    store.delete_record("locks", "k", expected_version=first.version)
    second = store.put_record("locks", "k", {"owner": "b"}, expected_version=None)
    assert second.version > first.version
    # The first holder's stale version cannot touch the second holder's record.
    with pytest.raises(Exception, match="expected version"):
        store.delete_record("locks", "k", expected_version=first.version)


def test_purge_records(tmp_path: Path) -> None:
    now = [utcnow()]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0])
    store.put_record("n", "old", {}, expected_version=None, expires_at=now[0] - timedelta(days=9))
    store.put_record("n", "live", {}, expected_version=None)
    assert store.purge_records(expired_before=now[0] - timedelta(days=7)) == 1
    assert [r.key for r in store.list_records("n")] == ["live"]


def test_schema_from_the_future_is_refused(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db")
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(Exception, match="newer"):
        SQLiteStore(tmp_path / "s.db")


def _forked_increment(store: SQLiteStore) -> None:
    update_request(store, "req_fork", lambda r: _bump(r))


def _bump(request: Request) -> Request:
    request.inputs["counter"] += 1
    return request


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_store_survives_fork(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.create_request(make_request("req_fork", inputs={"counter": 0}))
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_forked_increment, args=(store,)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    # The parent's connection still works after its children used (and dropped) copies of it.
    assert update_request(store, "req_fork", _bump).inputs["counter"] == 4
    assert store.integrity_check() == ["ok"]


# -- crash safety -------------------------------------------------------------------------


def _kill_mid_write(db: Path, run: int, rng: random.Random) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, str(CRASH_WRITER), str(db), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read() if child.stderr else line
        time.sleep(rng.uniform(0.05, 0.4))
        assert child.poll() is None, "the writer stopped by itself"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def test_sigkill_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(1234)
    for run in range(4):
        _kill_mid_write(db, run, rng)
        # The next writer opens the database right after the crash (recovering the WAL).
        assert SQLiteStore(db).integrity_check() == ["ok"]

    store = SQLiteStore(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT id, version, document, status FROM requests").fetchall()
    assert len(rows) >= 4 * 3
    for request_id, version, document, status in rows:
        request = Request.load(document)
        assert request.id == request_id
        assert request.version == version
        # Each write bumps both: a half-applied write would break this.
        assert request.inputs["counter"] == version - 1
        assert status == derive_status(request).value
    for request_id, seqs in conn.execute(
        "SELECT request_id, group_concat(seq) FROM events GROUP BY request_id ORDER BY request_id"
    ):
        numbers = sorted(int(s) for s in seqs.split(","))
        assert numbers == list(range(1, len(numbers) + 1)), request_id
        assert len(store.list_events(request_id)) == len(numbers)
    for request_id, name, digest, data in conn.execute("SELECT * FROM artifacts"):
        assert hashlib.sha256(data).hexdigest() == digest
        assert store.get_artifact(request_id, name) == data
    for (value,) in conn.execute("SELECT value FROM records"):
        json.loads(value)
    for run in range(4):
        record = store.get_record("writer", f"run{run}")
        assert record is not None
        store.get_request(record.value["last"])  # the record never points at a lost request


# -- the default plugin -------------------------------------------------------------------


def test_default_plugin_builds_store_under_home(tmp_path: Path) -> None:
    from tfpilot_core.default_plugins import store_embedded

    (registration,) = store_embedded.tfpilot_register_stores()
    assert registration.name == "embedded"
    model = registration.model()
    assert model is not None
    settings = model.model_validate({})
    store = registration.build_factory()(settings, PluginContext(home=tmp_path / "home"))
    assert isinstance(store, Store)
    store.create_request(make_request("req_plugin"))
    assert (tmp_path / "home" / "tfpilot.db").is_file()
    assert SQLiteStore(tmp_path / "home" / "tfpilot.db").get_request("req_plugin").version == 1


def test_default_plugin_settings(tmp_path: Path) -> None:
    from pydantic import ValidationError as SettingsError

    from tfpilot_core.stores import embedded as store_embedded

    model = store_embedded.EmbeddedStoreSettings
    with pytest.raises(SettingsError):
        model.model_validate({"pth": "x.db"})
    with pytest.raises(SettingsError):
        model.model_validate({"synchronous": "OFF"})
    context = PluginContext(home=tmp_path / "home", config_path=tmp_path / "cfg" / "tfpilot.toml")
    relative = model.model_validate({"path": "data/t.db"})
    assert store_embedded.database_path(relative, context) == tmp_path / "cfg" / "data" / "t.db"
    absolute = model.model_validate({"path": str(tmp_path / "abs.db")})
    assert store_embedded.database_path(absolute, context) == tmp_path / "abs.db"
    store = store_embedded.build_store(absolute, context)
    assert isinstance(store, SQLiteStore) and store.path == tmp_path / "abs.db"


def test_time_index_uses_utc_for_naive_datetimes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    aware = make_request("req_aware", created_at=datetime(2026, 1, 1, 12, 0, tzinfo=None))
    store.create_request(aware)
    found = store.list_requests(
        RequestQuery(created_after=datetime.fromisoformat("2026-01-01T12:00:00+00:00"))
    )
    assert [r.id for r in found.items] == ["req_aware"]
