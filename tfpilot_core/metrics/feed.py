"""Every request's events as one ordered feed, read from a cursor on.

Metrics and log search fold events incrementally: they keep a cursor and read only what was
appended after it. The store interface lists events per request only, so there are two feeds:

:class:`SQLiteFeed` (the embedded store)
    A table ``tfpilot_event_feed`` with an ``AUTOINCREMENT`` id, filled by a trigger on every
    insert into ``events`` (in the same transaction as the append, so no event is ever missed),
    and back-filled once, in time order, when it is created. The cursor is that id; reading what
    is new is an index range scan joined with the event and request rows (which give the
    request's module, environment and project). SQLite has one writer at a time, so a reader
    always sees a gapless prefix of ids.

:class:`ScanFeed` (any other store)
    Pages through every request and lists its events; the cursor is the last ``seq`` seen per
    request. Only events after the cursor are *folded*, but every request's events are *read*:
    one listing page per 1,000 requests plus one ``list_events`` per request (for S3: one GET
    per request and event). This is the documented cost of metrics on such stores.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfpilot_core.interfaces import Store
from tfpilot_core.models import Event, RequestQuery

_FEED_SCHEMA = (
    "CREATE TABLE tfpilot_event_feed ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, seq INTEGER NOT NULL)",
    "INSERT INTO tfpilot_event_feed (request_id, seq)"
    " SELECT request_id, seq FROM events"
    " ORDER BY json_extract(document, '$.at'), request_id, seq",
    "CREATE TRIGGER IF NOT EXISTS tfpilot_event_feed_append AFTER INSERT ON events"
    " BEGIN INSERT INTO tfpilot_event_feed (request_id, seq) VALUES (new.request_id, new.seq);"
    " END",
)


@dataclass(frozen=True)
class FeedItem:
    """One event of the feed with where its request lives."""

    event: Event
    module: str
    environment: str
    project: str


def sqlite_path(store: Any) -> Path | None:
    """The database file of the embedded store behind ``store`` (through plugin proxies)."""
    from tfpilot_core.stores.sqlite import SQLiteStore

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
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tfpilot_event_feed'"
        ).fetchone()
        if found:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            again = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'tfpilot_event_feed'"
            ).fetchone()
            if not again:
                for statement in _FEED_SCHEMA:
                    self.conn.execute(statement)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def read(self, cursor: Any) -> tuple[list[FeedItem], int]:
        """The events after ``cursor`` (an id, or ``None`` for all) and the new cursor."""
        start = int(cursor or 0)
        rows = self.conn.execute(
            "SELECT f.id, e.document, r.module, r.environment, r.project"
            " FROM tfpilot_event_feed f"
            " JOIN events e ON e.request_id = f.request_id AND e.seq = f.seq"
            " JOIN requests r ON r.id = f.request_id"
            " WHERE f.id > ? ORDER BY f.id",
            (start,),
        ).fetchall()
        items = [
            FeedItem(Event.model_validate_json(doc), module, env, project)
            for _, doc, module, env, project in rows
        ]
        return items, (rows[-1][0] if rows else start)

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

    def read(self, cursor: Any) -> tuple[list[FeedItem], dict[str, int]]:
        """Events after ``cursor`` (request id -> last seq), oldest first, and the new cursor."""
        seen: dict[str, int] = dict(cursor or {})
        items: list[FeedItem] = []
        for request in self.requests():
            last = seen.get(request.id, 0)
            p = request.placement
            for event in self.store.list_events(request.id):
                if event.seq > last:
                    items.append(FeedItem(event, p.module, p.environment, p.project))
                    seen[request.id] = event.seq
        items.sort(key=lambda i: (i.event.at, i.event.request_id, i.event.seq))
        return items, seen

    def close(self) -> None:
        """Nothing to close."""


def open_feed(store: Store) -> SQLiteFeed | ScanFeed:
    """The cheapest feed for ``store``."""
    path = sqlite_path(store)
    return SQLiteFeed(path) if path is not None else ScanFeed(store)
