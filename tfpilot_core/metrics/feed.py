"""Every request's events as one ordered feed, read from a cursor on.

Metrics and log search fold events incrementally: they keep a cursor and read only what was
appended after it. The store interface lists events per request only, so there are two feeds:

:class:`SQLiteFeed` (the embedded store)
    A table ``tfpilot_feed`` with an ``AUTOINCREMENT`` id, filled by a trigger on every insert
    into ``events`` (in the same transaction as the append, so no event is ever missed), and
    back-filled once, in time order, when it is created. The trigger also picks out what metrics
    use of the event (type, time in milliseconds, run id, and the data of policy and cost
    events), so reading the feed decodes no event documents. The cursor is the id; reading what
    is new is a primary-key range scan. SQLite has one writer at a time, so a reader always sees
    a gapless prefix of ids.

:class:`ScanFeed` (any other store)
    Pages through every request and lists its events; the cursor is the last ``seq`` seen per
    request. Only events after the cursor are *folded*, but every request's events are *read*:
    one listing page per 1,000 requests plus one ``list_events`` per request (for S3: one GET
    per request and event). This is the documented cost of metrics on such stores.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tfpilot_core.interfaces import Store
from tfpilot_core.models import RequestQuery
from tfpilot_core.stores.sqlite import SQLiteStore

#: What the trigger picks out of each event as it is appended: metrics read the feed alone,
#: without decoding event documents (the JSON is parsed once, in C, at append time).
_PICK = (
    "json_extract({doc}, '$.type'),"
    " CAST(round((julianday(json_extract({doc}, '$.at')) - 2440587.5) * 86400000) AS INTEGER),"
    " json_extract({doc}, '$.data.run'),"
    " CASE WHEN json_extract({doc}, '$.type') IN"
    " ('policy_blocked', 'policy_overridden', 'cost_estimated')"
    " THEN json_extract({doc}, '$.data') END"
)
_FEED_SCHEMA = (
    "DROP TRIGGER IF EXISTS tfpilot_event_feed_append",
    "DROP TABLE IF EXISTS tfpilot_event_feed",
    "CREATE TABLE tfpilot_feed (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT, at_ms INTEGER, run TEXT,"
    " data TEXT)",
    "INSERT INTO tfpilot_feed (request_id, seq, type, at_ms, run, data)"
    " SELECT request_id, seq, " + _PICK.format(doc="document") + " FROM events"
    " ORDER BY json_extract(document, '$.at'), request_id, seq",
    "CREATE TRIGGER IF NOT EXISTS tfpilot_feed_append AFTER INSERT ON events"
    " BEGIN INSERT INTO tfpilot_feed (request_id, seq, type, at_ms, run, data)"
    " VALUES (new.request_id, new.seq, " + _PICK.format(doc="new.document") + "); END",
)


#: One event as metrics fold it: (feed position or None, request id, type, time in ms since
#: the epoch, data (a dict, JSON text, or None), run id, module, environment, project).
Row = tuple[Any, ...]


def _data(data: Any, run: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if data:
        decoded: dict[str, Any] = json.loads(data)
        return decoded
    return {"run": run}


@dataclass(slots=True)
class FeedItem:
    """One event of the feed, with where its request lives.

    Decoded with :func:`json.loads` rather than validated as an :class:`Event`: the feed is read
    in bulk (every event once) and the documents were validated when they were stored.
    """

    request_id: str
    type: str
    #: POSIX timestamp of the event (seconds).
    at: float
    actor: str
    data: dict[str, Any]
    module: str
    environment: str
    project: str
    #: Position in the feed (the SQLite feed's id; ``None`` for a scan).
    position: int | None = None

    @classmethod
    def of(
        cls, document: str, module: str, environment: str, project: str, position: int | None
    ) -> FeedItem:
        """Decode a stored event document."""
        raw = json.loads(document)
        return cls(
            raw["request_id"],
            raw["type"],
            datetime.fromisoformat(raw["at"]).timestamp(),
            raw.get("actor", "system"),
            raw.get("data") or {},
            module,
            environment,
            project,
            position,
        )


def sqlite_path(store: Any) -> Path | None:
    """The database file of the embedded store behind ``store`` (through plugin proxies)."""

    seen = 0
    while seen < 5:
        if isinstance(store, SQLiteStore):
            return store.path
        inner = getattr(store, "wrapped", None)
        if inner is None or inner is store:
            return None
        store = inner
        seen += 1
    return None


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the embedded store's file for tfpilot's side tables (feed, search)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


class SQLiteFeed:
    """The feed of the embedded store (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        self._ensure()

    def _ensure(self) -> None:
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tfpilot_feed'"
        ).fetchone()
        if found:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            again = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'tfpilot_feed'"
            ).fetchone()
            if not again:
                for statement in _FEED_SCHEMA:
                    self.conn.execute(statement)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def read(self, cursor: Any, *, full: bool = False) -> tuple[list[FeedItem], int]:
        """The events after ``cursor`` (an id, or ``None`` for all) and the new cursor.

        Without ``full``, SQLite's JSON functions pick out only what metrics use (type, time,
        run id; the data of the few event types whose data counts), in C, without decoding
        every document in Python.
        """
        start = int(cursor or 0)
        if full:
            rows = self.conn.execute(
                "SELECT f.id, e.document, r.module, r.environment, r.project"
                " FROM tfpilot_feed f"
                " JOIN events e ON e.request_id = f.request_id AND e.seq = f.seq"
                " JOIN requests r ON r.id = f.request_id"
                " WHERE f.id > ? ORDER BY f.id",
                (start,),
            ).fetchall()
            items = [
                FeedItem.of(doc, module, env, project, position)
                for position, doc, module, env, project in rows
            ]
            return items, (rows[-1][0] if rows else start)
        rows, cursor = self.rows(start)
        items = [
            FeedItem(rid, type_, at_ms / 1000, "", _data(data, run), module, env, project, pos)
            for pos, rid, type_, at_ms, data, run, module, env, project in rows
        ]
        return items, cursor

    def rows(self, cursor: Any) -> tuple[list[Row], int]:
        """The events after ``cursor`` as :data:`Row` tuples (what metrics fold), and the new
        cursor: one narrow table read, no event document decoded."""
        start = int(cursor or 0)
        found = self.conn.execute(
            "SELECT id, request_id, type, at_ms, data, run FROM tfpilot_feed"
            " WHERE id > ? ORDER BY id",
            (start,),
        ).fetchall()
        ids = sorted({row[1] for row in found})
        sql = "SELECT id, module, environment, project FROM requests"
        args: list[str] = []
        if len(ids) <= 500:  # a few new events: look up only their requests
            sql += f" WHERE id IN ({', '.join('?' * len(ids))})" if ids else " WHERE 0"
            args = ids
        placement = {
            rid: (module, env, project)
            for rid, module, env, project in self.conn.execute(sql, args)
        }
        rows = [
            (*row, *placement[row[1]])
            for row in found
            # An event of no stored request was never written by the platform.
            if row[1] in placement and row[3] is not None
        ]
        return rows, (found[-1][0] if found else start)

    def close(self) -> None:
        """Close the side connection."""
        self.conn.close()


class ScanFeed:
    """The feed of any store, by listing every request (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def requests(self) -> Iterator[Any]:
        """Every stored request, page by page."""
        cursor: str | None = None
        while True:
            page = self.store.list_requests(RequestQuery(limit=1000, cursor=cursor))
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def read(self, cursor: Any, *, full: bool = True) -> tuple[list[FeedItem], dict[str, int]]:
        """Events after ``cursor`` (request id -> last seq), oldest first, and the new cursor."""
        seen: dict[str, int] = dict(cursor or {})
        items: list[FeedItem] = []
        for request in self.requests():
            last = seen.get(request.id, 0)
            p = request.placement
            for event in self.store.list_events(request.id):
                if event.seq > last:
                    items.append(
                        FeedItem(
                            event.request_id,
                            event.type,
                            event.at.timestamp(),
                            event.actor,
                            event.data,
                            p.module,
                            p.environment,
                            p.project,
                        )
                    )
                    seen[request.id] = event.seq
        items.sort(key=lambda i: (i.at, i.request_id))
        return items, seen

    def rows(self, cursor: Any) -> tuple[list[Row], dict[str, int]]:
        """The events after ``cursor`` as :data:`Row` tuples, and the new cursor."""
        items, seen = self.read(cursor)
        return [
            (
                None,
                i.request_id,
                i.type,
                round(i.at * 1000),
                i.data,
                i.data.get("run"),
                i.module,
                i.environment,
                i.project,
            )
            for i in items
        ], seen

    def close(self) -> None:
        """Nothing to close."""


def open_feed(store: Store) -> SQLiteFeed | ScanFeed:
    """The cheapest feed for ``store``."""
    path = sqlite_path(store)
    return SQLiteFeed(path) if path is not None else ScanFeed(store)
