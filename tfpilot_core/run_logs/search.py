"""Search of captured logs and events, filtered by what the searching user may read.

Embedded store
    An SQLite FTS5 table ``tfpilot_search`` in the store's database holds every captured log
    (indexed by :func:`index_log` when it is captured) and every event (indexed on each search
    from the event feed's cursor, see :mod:`tfpilot_core.metrics.feed`). A query is the user's
    words, each quoted (so FTS operators in them are literal), all required; results are ranked
    by bm25. Read grants are applied inside the query (a SQL function asks
    :mod:`tfpilot_core.access` about each candidate's project and environment), so a scoped
    viewer never sees, or is limited by, another project's hits.

Any other store (S3, ...)
    A bounded scan: the newest ``max_requests`` readable requests (default 200) are listed, and
    for each, its events and each attempt's log artifact are read and matched word by word (case
    insensitive). Cost: one listing page per 1,000 requests, plus per request one
    ``list_events`` and one ``get_artifact`` per attempt (for S3, GET requests). Older requests
    are not searched; the result says so (``truncated``). At scale, send logs to a log backend
    through OTLP logs instead (``docs/observability.md``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import FieldProblem, NotFoundError, ValidationError
from tfpilot_core.metrics.feed import ScanFeed, SQLiteFeed, connect, sqlite_path
from tfpilot_core.models import RunKind
from tfpilot_core.run_logs.artifacts import read

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Request, RunAttempt

_FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tfpilot_search USING fts5("
    " body, request_id UNINDEXED, attempt UNINDEXED, source UNINDEXED,"
    " project UNINDEXED, environment UNINDEXED, at UNINDEXED, tokenize = 'unicode61')",
    "CREATE TABLE IF NOT EXISTS tfpilot_search_cursor (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " feed INTEGER NOT NULL)",
)
_WORD = re.compile(r"\w+", re.UNICODE)
#: Requests a scan search looks at on stores without a full-text index.
SCAN_MAX_REQUESTS = 200


@dataclass
class Hit:
    """One search result: where it was found and a short excerpt (already masked)."""

    request_id: str
    source: str  # "log" or "event"
    attempt: str | None
    project: str
    environment: str
    at: str
    excerpt: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


def _ensure(conn: sqlite3.Connection) -> None:
    for statement in _FTS_SCHEMA:
        conn.execute(statement)


def index_log(store: Store, request: Request, attempt: RunAttempt, body: str) -> None:
    """Index one captured log for search (embedded store only; a no-op elsewhere)."""
    path = sqlite_path(store)
    if path is None:
        return
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        _ensure(conn)
        conn.execute(
            "DELETE FROM tfpilot_search WHERE source = 'log' AND request_id = ? AND attempt = ?",
            (request.id, attempt.id),
        )
        p = request.placement
        conn.execute(
            "INSERT INTO tfpilot_search (body, request_id, attempt, source, project, environment,"
            " at) VALUES (?, ?, ?, 'log', ?, ?, ?)",
            (
                body,
                request.id,
                attempt.id,
                p.project,
                p.environment,
                (attempt.completed_at or attempt.started_at or attempt.created_at).isoformat(),
            ),
        )
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        # Search is a convenience: the artifact is stored, a failed index never fails a run.
        import structlog

        structlog.get_logger("tfpilot.logs").warning("log_index_failed", attempt=attempt.id)
    finally:
        conn.close()


def event_text(type_: str, actor: str, data: dict[str, Any]) -> str:
    """The searchable text of an event: its type, actor and data."""
    return f"{type_} {actor} {json.dumps(data, default=str, sort_keys=True)}"


def _index_events(conn: sqlite3.Connection, feed: SQLiteFeed) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        _ensure(conn)
        row = conn.execute("SELECT feed FROM tfpilot_search_cursor WHERE id = 1").fetchone()
        items, cursor = feed.read(row[0] if row else 0, full=True)
        conn.executemany(
            "INSERT INTO tfpilot_search (body, request_id, attempt, source, project, environment,"
            " at) VALUES (?, ?, ?, 'event', ?, ?, ?)",
            [
                (
                    event_text(i.type, i.actor, i.data),
                    i.request_id,
                    i.data.get("run") if isinstance(i.data.get("run"), str) else None,
                    i.project,
                    i.environment,
                    datetime.fromtimestamp(i.at, UTC).isoformat(),
                )
                for i in items
            ],
        )
        conn.execute(
            "INSERT INTO tfpilot_search_cursor (id, feed) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET feed = excluded.feed",
            (cursor,),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _fts_query(query: str) -> str:
    words = _WORD.findall(query)
    if not words:
        raise ValidationError([FieldProblem("query", "words", "give at least one word to find")])
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


def search(
    store: Store,
    query: str,
    *,
    readable: Callable[[str, str], bool],
    since: datetime | None = None,
    environment: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Hits for ``query`` that ``readable(project, environment)`` allows, best first.

    Returns ``{"hits": [...], "method": "fts5" | "scan", "truncated": bool}``.
    """
    match = _fts_query(query)
    path = sqlite_path(store)
    if path is None:
        return _scan(
            store, query, readable=readable, since=since, environment=environment, limit=limit
        )
    feed = SQLiteFeed(path)
    conn = feed.conn
    try:
        _index_events(conn, feed)
        conn.create_function("tfpilot_readable", 2, lambda p, e: 1 if readable(p, e) else 0)
        sql = (
            "SELECT request_id, source, attempt, project, environment, at,"
            " snippet(tfpilot_search, 0, '[', ']', ' ... ', 24)"
            " FROM tfpilot_search WHERE tfpilot_search MATCH ?"
            " AND tfpilot_readable(project, environment)"
        )
        args: list[Any] = [match]
        if since is not None:
            sql += " AND at >= ?"
            args.append(since.isoformat())
        if environment is not None:
            sql += " AND environment = ?"
            args.append(environment)
        sql += " ORDER BY rank LIMIT ?"
        args.append(limit + 1)
        rows = conn.execute(sql, args).fetchall()
    finally:
        feed.close()
    hits = [Hit(r[0], r[1], r[2], r[3], r[4], r[5], " ".join(r[6].split())) for r in rows]
    return {
        "hits": [h.to_dict() for h in hits[:limit]],
        "method": "fts5",
        "truncated": len(hits) > limit,
    }


def _matches(words: Iterable[str], text: str) -> bool:
    lowered = text.lower()
    return all(w in lowered for w in words)


def _excerpt(words: list[str], text: str) -> str:
    lowered = text.lower()
    at = max(0, lowered.find(words[0]) - 60)
    return " ".join(text[at : at + 200].split())


def _scan(
    store: Store,
    query: str,
    *,
    readable: Callable[[str, str], bool],
    since: datetime | None,
    environment: str | None,
    limit: int,
    max_requests: int = SCAN_MAX_REQUESTS,
) -> dict[str, Any]:
    words = [w.lower() for w in _WORD.findall(query)]
    hits: list[Hit] = []
    looked = 0
    truncated = False
    for request in ScanFeed(store).requests():
        p = request.placement
        if (environment and p.environment != environment) or not readable(p.project, p.environment):
            continue
        looked += 1
        if looked > max_requests:
            truncated = True
            break
        for kind in RunKind:
            for attempt in request.attempts(kind):
                at = attempt.completed_at or attempt.created_at
                if since is not None and at < since:
                    continue
                try:
                    text = read(store, request.id, attempt.id)
                except NotFoundError:
                    continue
                if _matches(words, text):
                    hits.append(
                        Hit(
                            request.id,
                            "log",
                            attempt.id,
                            p.project,
                            p.environment,
                            at.isoformat(),
                            _excerpt(words, text),
                        )
                    )
        for event in store.list_events(request.id):
            if since is not None and event.at < since:
                continue
            text = event_text(event.type, event.actor, event.data)
            if _matches(words, text):
                hits.append(
                    Hit(
                        request.id,
                        "event",
                        None,
                        p.project,
                        p.environment,
                        event.at.isoformat(),
                        _excerpt(words, text),
                    )
                )
    hits.sort(key=lambda h: h.at, reverse=True)
    return {
        "hits": [h.to_dict() for h in hits[:limit]],
        "method": "scan",
        "truncated": truncated or len(hits) > limit,
    }
