"""The embedded store: one SQLite database in WAL mode (stdlib :mod:`sqlite3`, nothing to install).

Why SQLite in WAL mode rather than one JSON file per request written with write-temp-and-rename:

* **Compare-and-swap is one statement.** ``UPDATE requests SET ... WHERE id = ? AND version = ?``
  either changes one row or none, atomically, across threads *and* processes. With files, rename
  is atomic but "check the version, then rename" is not: two processes can both pass the check
  and the later rename silently drops the earlier write. Making that safe needs lock files with
  stale-lock recovery, which is a home-made database.
* **Several rows change together.** Assigning the next event number (``max(seq) + 1``) and
  inserting the event happen in one ``BEGIN IMMEDIATE`` transaction, so two writers never get the
  same number and a crash never leaves a gap. With files that is a lock plus a directory scan.
* **Crash safety is SQLite's, not ours.** A write is either entirely in the database or not at all
  after a crash or power loss (the WAL is checksummed and replayed); rename-based schemes also
  need the temporary file *and* its directory fsynced, which is easy to get subtly wrong.
* **Listing uses indexes.** Filters (status, environment, module, project, author, time) and
  newest-first keyset pagination are index scans, not "read and parse every document".
* **WAL lets readers and the writer run at the same time**: readers see the last committed state
  and never block a writer, and writers queue on SQLite's lock with a busy timeout.

Limits: SQLite's locking needs a local filesystem (not NFS/SMB) and WAL needs every process on
the same machine (shared memory); several machines should use a server store (``store_s3``).

Durability: ``PRAGMA synchronous=FULL`` by default. In WAL mode, ``NORMAL`` is already
crash-*consistent* (a killed process loses nothing, as committed pages are in the OS cache; a
power loss or kernel crash can only lose the last few commits, never corrupt the database), while
``FULL`` also fsyncs the WAL on every commit, so a write that returned survives a power loss too.
tfpilot writes at human speed (a handful of writes per lifecycle action), and a lost write after
it was acknowledged could be a lost approval, a released lock or a hole in the audit trail, so
the cost of one fsync per commit is worth it. ``NORMAL`` can be chosen for throwaway databases.

Concurrency: every thread of every process uses its own connection (opened lazily, reopened
after a ``fork``), with a busy timeout so that contention waits rather than fails. Every write
starts with ``BEGIN IMMEDIATE``, which takes the write lock up front: a deferred transaction that
read first and upgrades later can fail with ``SQLITE_BUSY`` at once in WAL mode, busy timeout or
not, because its snapshot may be out of date.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic_core import to_json

from tfpilot_core.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldProblem,
    NotFoundError,
    StoreCorruptionError,
    TfpilotError,
    ValidationError,
)
from tfpilot_core.event_chain import link
from tfpilot_core.files import private_dir, private_file
from tfpilot_core.layout import SQLITE_SCHEMA_VERSION
from tfpilot_core.lifecycle import DEFAULT_STALE_AFTER, STALEABLE, RequestStatus, derive_status
from tfpilot_core.models import Event, Record, Request, RequestPage, RequestQuery, utcnow
from tfpilot_core.stores.counting import CallCounter
from tfpilot_core.stores.rows import IndexFilter, IndexRow, shard_key, shard_range
from tfpilot_core.stores.validation import (
    check_artifact_name,
    check_namespace,
    check_record_key,
    check_request_id,
    decode_cursor,
    encode_cursor,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "StoreCorruptionError"]

#: The layout version written to ``PRAGMA user_version``; a newer database is refused.
SCHEMA_VERSION = SQLITE_SCHEMA_VERSION

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: ``expires_at`` of a deleted record: it reads as long expired (see :meth:`delete_record`).
_TOMBSTONE = 0
#: Serial numbers of connections, for :meth:`SQLiteStore.change_token`.
_TOKEN_SERIALS = itertools.count(1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL CHECK (version >= 1),
    document    TEXT NOT NULL,
    status      TEXT NOT NULL,
    environment TEXT NOT NULL,
    module      TEXT NOT NULL,
    project     TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_us  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (created_us, id);
CREATE INDEX IF NOT EXISTS requests_by_status ON requests (status, created_us, id);
CREATE INDEX IF NOT EXISTS requests_by_environment ON requests (environment, created_us, id);
CREATE INDEX IF NOT EXISTS requests_by_module ON requests (module, created_us, id);
CREATE INDEX IF NOT EXISTS requests_by_project ON requests (project, created_us, id);
CREATE INDEX IF NOT EXISTS requests_by_author ON requests (author, created_us, id);

CREATE TABLE IF NOT EXISTS events (
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    document   TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
) WITHOUT ROWID;
-- The event stream is an audit trail: refuse changes even from someone with a SQL shell.
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE IF NOT EXISTS artifacts (
    request_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    PRIMARY KEY (request_id, name)
);

-- The due-time index of records (tfpilot_core.stores.due): the outbox's pending deliveries.
CREATE TABLE IF NOT EXISTS due (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    due_us    INTEGER NOT NULL,
    PRIMARY KEY (namespace, key, due_us)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS due_by_time ON due (namespace, due_us);

CREATE TABLE IF NOT EXISTS records (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    value      TEXT NOT NULL,
    expires_us INTEGER,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
"""


def load_request(document: str | bytes, request_id: str) -> Request:
    """Parse a stored request; :class:`StoreCorruptionError` naming it if it cannot be read."""
    try:
        return Request.load(document)
    except Exception as exc:  # any document that does not load is corrupt, whatever the cause
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreCorruptionError(
            f"request {request_id!r} is stored but cannot be read ({reason[:200]}); "
            "restore it from a backup or delete it"
        ) from None


def _to_us(value: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC (the domain's clock)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Integer arithmetic on timedeltas: exact, unlike float timestamps.
    return (value - _EPOCH) // _MICROSECOND


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class SQLiteStore:
    """A :class:`~tfpilot_core.interfaces.Store` in one SQLite database file (WAL mode).

    Safe to share between threads, and to use from several processes on one machine at once.

    :param path: the database file; its directory is created if missing.
    :param synchronous: ``"FULL"`` (default: an acknowledged write survives power loss) or
        ``"NORMAL"`` (survives a process crash; a power loss may drop the latest commits).
    :param busy_timeout: how long a write waits for another writer's lock, in seconds.
    :param clock: the current time (tests move it); used for status derivation and expiry.
    :param stale_after: when an unfinished run counts as failed (see
        :func:`tfpilot_core.lifecycle.derive_status`).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._stale_after = stale_after
        self._local = threading.local()
        self._pid = os.getpid()
        #: SQL statements run, for the request-count model (:meth:`backend_calls`).
        self.calls = CallCounter()
        # Every connection this process opened, so that close() can close them all.
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        # Connections inherited through fork() are parked here and never used or closed in the
        # child: closing them could checkpoint or unlink the parent's WAL under its feet.
        self._inherited: list[object] = []

        # The database holds every request's inputs: private whatever the umask. SQLite gives
        # its -wal and -shm files the database file's permissions.
        private_dir(self.path.parent)
        private_file(self.path)
        self._init_schema()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself.
        # check_same_thread=False only so that close() may close every thread's connection; in
        # operation each connection is used by the one thread that opened it (thread-local).
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        # journal_mode is persistent in the file, but asking again is cheap and heals a database
        # created by another tool; it is a no-op when already WAL.
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise TfpilotError(f"{self.path}: could not switch SQLite to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        # Every statement from here on is counted (the request-count model, docs/store.md).
        conn.set_trace_callback(self._count_statement)
        return conn

    def _count_statement(self, statement: str) -> None:
        self.calls.add("statements")

    def backend_calls(self) -> dict[str, int]:
        """SQL statements this store has run so far (``{"statements": n}``)."""
        return self.calls.snapshot()

    def _conn(self) -> sqlite3.Connection:
        pid = os.getpid()
        if pid != self._pid:
            self._inherited.append(self._local)
            self._local = threading.local()
            self._opened_lock = threading.Lock()
            self._inherited.append(self._opened)
            self._opened = []
            self._pid = pid
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this process opened; the store reopens on next use.

        Call it when no operation is in progress in another thread (at shutdown, in tests).
        """
        if os.getpid() != self._pid:
            return
        with self._opened_lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for conn in opened:
            conn.close()

    @contextmanager
    def _write(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its first statement (on this
        thread's connection, or on ``conn``)."""
        conn = conn or self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # SQLite may already have rolled back on its own (e.g. SQLITE_FULL).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _init_schema(self, conn: sqlite3.Connection | None = None) -> None:
        """Create or upgrade the layout, in one write transaction (on ``conn`` if given).

        Most opens find the layout this code writes already in place: that is checked first,
        read-only, so that a command that only reads never writes (a write transaction commits,
        and with ``synchronous=FULL`` syncs to disk, even when each statement is a no-op).
        """
        if conn is None and _layout(self._conn()) == self._expected_layout():
            return
        with self._write(conn) as conn:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise TfpilotError(
                    f"{self.path}: database layout {found} is newer than this tfpilot supports"
                    f" ({SCHEMA_VERSION}); upgrade tfpilot"
                )
            for statement in _split_sql(_SCHEMA):
                conn.execute(statement)
            _add_shard_column(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _expected_layout(self) -> list[tuple[Any, ...]]:
        """The layout :meth:`_init_schema` writes, as :func:`_layout` reads it (once a process).

        Written into an in-memory database by the same method, so that a change to the schema
        or to its upgrades is never taken for the layout in place.
        """
        global _EXPECTED_LAYOUT
        if _EXPECTED_LAYOUT is None:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            try:
                self._init_schema(memory)
                _EXPECTED_LAYOUT = _layout(memory)
            finally:
                memory.close()
        return _EXPECTED_LAYOUT

    # -- requests ---------------------------------------------------------------------------

    def _index_row(self, request: Request) -> tuple[str, str, str, str, str, int, str]:
        # The status column is a cache of derive_status at write time, used only to narrow a
        # listing; time can turn planning/applying/destroying into failed, never anything else,
        # and list_requests re-derives every candidate before returning it.
        status = derive_status(request, now=self._clock(), stale_after=self._stale_after)
        placement = request.placement
        return (
            status.value,
            placement.environment,
            placement.module,
            placement.project,
            request.created_by,
            _to_us(request.created_at),
            shard_key(request.id),
        )

    def create_request(self, request: Request) -> Request:
        """Store a new request at version 1; :class:`AlreadyExistsError` if the id is taken."""
        check_request_id(request.id, field="id")
        stored = request.model_copy(update={"version": 1})
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO requests (id, version, document, status, environment, module,"
                    " project, author, created_us, shard) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (stored.id, 1, stored.dump(), *self._index_row(stored)),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExistsError(f"request {request.id!r} already exists") from exc
        return stored

    def get_request(self, request_id: str) -> Request:
        """The stored request; :class:`NotFoundError` if there is none."""
        check_request_id(request_id)
        row = (
            self._conn()
            .execute("SELECT document FROM requests WHERE id = ?", (request_id,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"request {request_id!r} not found")
        return load_request(row[0], request_id)

    def put_request(self, request: Request, *, expected_version: int) -> Request:
        """Replace the request if its stored version is ``expected_version``; returns it at +1.

        The version check and the write are one ``UPDATE ... WHERE id = ? AND version = ?``.

        :raises ConflictError: the stored version is another one (names both versions).
        :raises NotFoundError: there is no such request.
        """
        check_request_id(request.id, field="id")
        stored = request.model_copy(
            update={"version": expected_version + 1, "updated_at": self._clock()}
        )
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE requests SET version = ?, document = ?, status = ?, environment = ?,"
                " module = ?, project = ?, author = ?, created_us = ?, shard = ?"
                " WHERE id = ? AND version = ?",
                (
                    stored.version,
                    stored.dump(),
                    *self._index_row(stored),
                    stored.id,
                    expected_version,
                ),
            )
            if cursor.rowcount == 1:
                return stored
            # Lost (or no such row): read the stored version inside the same transaction so the
            # message is exact.
            row = conn.execute("SELECT version FROM requests WHERE id = ?", (stored.id,)).fetchone()
        if row is None:
            raise NotFoundError(f"request {request.id!r} not found")
        raise ConflictError(
            f"request {request.id!r} was changed concurrently: expected version"
            f" {expected_version}, stored version is {row[0]}"
        )

    def list_requests(self, query: RequestQuery) -> RequestPage:
        """Requests matching every filter of ``query``, newest first, one page at a time.

        ``created_after`` is inclusive and ``created_before`` exclusive. Pages are keyset pages
        on ``(created_at, id)``: a request created while paging never causes a duplicate or a
        miss among the requests that existed before.
        """
        wanted: RequestStatus | None = None
        if query.status is not None:
            try:
                wanted = RequestStatus(query.status)
            except ValueError as exc:
                raise ValidationError(
                    [
                        FieldProblem(
                            field="status",
                            rule="enum",
                            message=f"{query.status!r} is not one of "
                            + ", ".join(s.value for s in RequestStatus),
                        )
                    ],
                    subject="request query",
                ) from exc

        where: list[str] = []
        params: list[Any] = []
        if wanted is not None:
            candidates = {wanted}
            if wanted is RequestStatus.FAILED:
                # Stored as planning/applying/destroying, but stale by now.
                candidates |= STALEABLE
            where.append(f"status IN ({', '.join('?' for _ in candidates)})")
            params.extend(sorted(s.value for s in candidates))
        for column, value in (
            ("environment", query.environment),
            ("module", query.module),
            ("project", query.project),
            ("author", query.author),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        bounds, bound_params = _created_between(query.created_after, query.created_before)
        where += bounds
        params += bound_params

        position = decode_cursor(query.cursor) if query.cursor else None
        now = self._clock()
        items: list[Request] = []
        # A document that cannot be read must not break the listing for everyone: it is left
        # out and named in the page (``unreadable``), and ``get_request`` says what is wrong.
        unreadable: list[str] = []
        # Fetch one more match than the page holds, to know whether there is a next page.
        batch = min(query.limit + 1, 1000)
        conn = self._conn()
        while True:
            clauses = list(where)
            args = list(params)
            if position is not None:
                clauses.append("(created_us < ? OR (created_us = ? AND id < ?))")
                args.extend([position[0], position[0], position[1]])
            sql = "SELECT document, created_us, id FROM requests"
            if clauses:
                sql += " WHERE " + " AND ".join(clauses)
            sql += " ORDER BY created_us DESC, id DESC LIMIT ?"
            rows = conn.execute(sql, [*args, batch]).fetchall()
            for document, created_us, request_id in rows:
                position = (created_us, request_id)
                try:
                    request = load_request(document, request_id)
                except StoreCorruptionError:
                    unreadable.append(request_id)
                    continue
                if (
                    wanted is not None
                    and derive_status(request, now=now, stale_after=self._stale_after) != wanted
                ):
                    continue
                items.append(request)
                if len(items) > query.limit:
                    last = items[query.limit - 1]
                    return RequestPage(
                        items=items[: query.limit],
                        next_cursor=encode_cursor(_to_us(last.created_at), last.id),
                        unreadable=unreadable,
                    )
            if len(rows) < batch:
                return RequestPage(items=items, next_cursor=None, unreadable=unreadable)

    # -- read-only helpers of the query layer (tfpilot_core.query), not the store contract ---

    def query_index(self, where: IndexFilter | None = None) -> list[tuple[str, int]]:
        """``(id, version)`` of the requests whose index columns match (in no particular order).

        Each field filter is an ``IN`` on its indexed column; ``statuses`` compares with the
        status cached at write time, so a caller wanting ``failed`` also passes the statuses
        that time can turn into it, and re-derives the status of what it loads. The version is
        stored before ``document`` in the row, so no document page is read.
        """
        return [(str(i), int(v)) for i, v, _ in self._index_select("id, version", where)]

    def _index_select(self, columns: str, where: IndexFilter | None) -> list[Any]:
        """``columns`` (then the id) of the rows ``where`` keeps: the filter as SQL."""
        where = where or IndexFilter()
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in where.columns():
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        bounds, bound_params = _created_between(where.created_after, where.created_before)
        clauses += bounds
        params += bound_params
        if where.shard is not None:
            # One slice of the (status, shard) index; rows of an older tfpilot have no shard
            # yet and are checked by the caller (IndexFilter.admits).
            low, high = shard_range(*where.shard)
            clauses.append(
                "(shard >= ? AND shard < ? OR shard IS NULL)"
                if high is not None
                else "(shard >= ? OR shard IS NULL)"
            )
            params.extend([low] if high is None else [low, high])
        sql = f"SELECT {columns}, id FROM requests"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        found = self._conn().execute(sql, params).fetchall()
        if where.shard is None:
            return found
        return [row for row in found if where.in_shard(str(row[-1]))]

    def index_rows(
        self,
        where: IndexFilter | None = None,
        *,
        with_status: bool = False,
        with_cost: bool = False,
    ) -> list[IndexRow]:
        """The index columns of every request ``where`` keeps, in one statement (no document
        parsed).

        A row whose stored status time can turn into ``failed`` is not ``exact``. With
        ``with_cost`` the monthly cost is read from the document's JSON by SQLite
        (``json_extract``), not parsed in Python.
        """
        cost = "json_extract(document, '$.cost.monthly')" if with_cost else "NULL"
        staleable = {s.value for s in STALEABLE}
        rows = []
        columns = f"id, status, environment, module, project, author, created_us, {cost}"
        for rid, status, env, module, project, author, created_us, monthly, _ in self._index_select(
            columns, where
        ):
            rows.append(
                IndexRow(
                    id=str(rid),
                    environment=str(env),
                    module=str(module),
                    project=str(project),
                    author=str(author),
                    created_at=_from_us(int(created_us)),
                    status=str(status) if with_status else None,
                    exact=not (with_status and status in staleable),
                    monthly_cost=None if monthly is None else Decimal(str(monthly)),
                    cost_indexed=with_cost,
                )
            )
        return rows

    def query_ids(self, where: IndexFilter | None = None) -> list[str]:
        """The ids :meth:`query_index` would return, read from the indexes alone.

        Each column filter is one scan of that column's index, which holds the creation time and
        the id too (a covering scan: no row is read); the id sets are intersected here.
        """
        where = where or IndexFilter()
        bounds, params = _created_between(where.created_after, where.created_before)
        conn = self._conn()
        found: set[str] | None = None
        for column, values in where.columns():
            clause = [f"{column} IN ({', '.join('?' for _ in values)})", *bounds]
            rows = conn.execute(
                f"SELECT id FROM requests INDEXED BY requests_by_{column}"
                f" WHERE {' AND '.join(clause)}",
                [*values, *params],
            ).fetchall()
            ids = {str(r[0]) for r in rows}
            found = ids if found is None else found & ids
        if found is None:
            sql = "SELECT id FROM requests INDEXED BY requests_by_time"
            if bounds:
                sql += " WHERE " + " AND ".join(bounds)
            found = {str(r[0]) for r in conn.execute(sql, params).fetchall()}
        if where.shard is not None:
            return [rid for rid in found if where.in_shard(rid)]
        return list(found)

    def change_token(self) -> tuple[int, int, int]:
        """A value that differs whenever the database may have changed since it was taken.

        ``PRAGMA data_version`` moves with every commit of *another* connection (any process);
        ``total_changes`` with this connection's own; the serial names this thread's connection
        (both are per connection), so tokens of two connections never compare equal.
        """
        conn = self._conn()
        serial = getattr(self._local, "token_serial", None)
        if serial is None:
            serial = self._local.token_serial = next(_TOKEN_SERIALS)
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        return (int(serial), int(version), int(conn.total_changes))

    def documents(self, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``id -> (version, document)`` for those of ``ids`` that exist."""
        found: dict[str, tuple[int, str]] = {}
        conn = self._conn()
        # In chunks: SQLite limits the number of bound parameters of one statement.
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            rows = conn.execute(
                "SELECT id, version, document FROM requests"
                f" WHERE id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            ).fetchall()
            for request_id, version, document in rows:
                found[str(request_id)] = (int(version), str(document))
        return found

    def event_times(self, kind: str) -> list[tuple[str, str]]:
        """``(request_id, at)`` of every event of type ``kind`` (``at`` as stored, ISO 8601)."""
        rows = (
            self._conn()
            .execute(
                "SELECT request_id, json_extract(document, '$.at') FROM events"
                " WHERE json_extract(document, '$.type') = ?",
                (kind,),
            )
            .fetchall()
        )
        return [(str(r), str(a)) for r, a in rows]

    # -- events -----------------------------------------------------------------------------

    def append_event(self, event: Event) -> Event:
        """Append to the request's event stream; returns the event with its ``seq`` set.

        The number is ``max(seq) + 1`` for the request, chosen and inserted in one write
        transaction: concurrent appends get distinct, gapless numbers. A caller's ``seq`` is
        ignored.
        """

        check_request_id(event.request_id)
        with self._write() as conn:
            # The number and the link to the previous event are chosen in one transaction.
            last = conn.execute(
                "SELECT seq, document FROM events WHERE request_id = ? ORDER BY seq DESC LIMIT 1",
                (event.request_id,),
            ).fetchone()
            seq = 1 if last is None else last[0] + 1
            previous = None if last is None else Event.model_validate_json(last[1])
            stored = link(event.model_copy(update={"seq": seq}), previous)
            conn.execute(
                "INSERT INTO events (request_id, seq, document) VALUES (?, ?, ?)",
                (stored.request_id, seq, stored.model_dump_json()),
            )
        return stored

    def list_events(self, request_id: str) -> list[Event]:
        """The request's events in the order they were appended (empty for an unknown id)."""
        check_request_id(request_id)
        rows = (
            self._conn()
            .execute("SELECT document FROM events WHERE request_id = ? ORDER BY seq", (request_id,))
            .fetchall()
        )
        return [Event.model_validate_json(row[0]) for row in rows]

    # -- artifacts --------------------------------------------------------------------------

    def put_artifact(self, request_id: str, name: str, data: bytes) -> str:
        """Store a named artifact, replacing one of the same name; returns its sha256."""
        check_request_id(request_id)
        check_artifact_name(name)
        digest = hashlib.sha256(data).hexdigest()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO artifacts (request_id, name, sha256, bytes) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (request_id, name) DO UPDATE"
                " SET sha256 = excluded.sha256, bytes = excluded.bytes",
                (request_id, name, digest, sqlite3.Binary(data)),
            )
        return digest

    def get_artifact(self, request_id: str, name: str) -> bytes:
        """A stored artifact's bytes, checked against their sha256; :class:`NotFoundError`."""
        check_request_id(request_id)
        check_artifact_name(name)
        row = (
            self._conn()
            .execute(
                "SELECT sha256, bytes FROM artifacts WHERE request_id = ? AND name = ?",
                (request_id, name),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"artifact {name!r} of request {request_id!r} not found")
        data = bytes(row[1])
        # Plans are applied by digest: never hand out bytes that are not what was stored.
        if hashlib.sha256(data).hexdigest() != row[0]:
            raise StoreCorruptionError(
                f"artifact {name!r} of request {request_id!r} does not match its sha256"
            )
        return data

    # -- records ----------------------------------------------------------------------------

    def _live(self, expires_us: int | None, now_us: int) -> bool:
        return expires_us is None or expires_us > now_us

    def get_record(self, namespace: str, key: str) -> Record | None:
        """A keyed record, or ``None``. Expired (and deleted) records read as ``None``."""
        check_namespace(namespace)
        check_record_key(key)
        row = (
            self._conn()
            .execute(
                "SELECT version, value, expires_us FROM records WHERE namespace = ? AND key = ?",
                (namespace, key),
            )
            .fetchone()
        )
        if row is None or not self._live(row[2], _to_us(self._clock())):
            return None
        return _record(namespace, key, row[0], row[1], row[2])

    def put_record(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        expected_version: int | None,
        expires_at: datetime | None = None,
    ) -> Record:
        """Compare-and-swap a record.

        ``expected_version=None`` creates it at version 1, or replaces an expired (or deleted)
        one at the next version, so a holder of the old version can never act on the new record.
        Otherwise the stored, unexpired version must be ``expected_version`` and the record is
        written at +1.

        :raises ConflictError: a live record exists (create), or the live record's version is
            another one or there is no live record (update).
        """
        check_namespace(namespace)
        check_record_key(key)
        # pydantic's encoder, as for the documents: datetimes, decimals and enums become JSON.
        encoded = to_json(dict(value)).decode()
        expires_us = None if expires_at is None else _to_us(expires_at)
        with self._write() as conn:
            row = conn.execute(
                "SELECT version, expires_us FROM records WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).fetchone()
            live = row is not None and self._live(row[1], _to_us(self._clock()))
            if expected_version is None:
                if live:
                    raise ConflictError(
                        f"record {namespace}/{key} already exists at version {row[0]}"
                    )
                version = 1 if row is None else row[0] + 1
            else:
                if not live:
                    raise ConflictError(
                        f"record {namespace}/{key}: expected version {expected_version},"
                        " but there is no (unexpired) record"
                    )
                if row[0] != expected_version:
                    raise ConflictError(
                        f"record {namespace}/{key}: expected version {expected_version},"
                        f" stored version is {row[0]}"
                    )
                version = expected_version + 1
            # The version guard repeats the check in the statement itself: the transaction
            # already holds the write lock, so this is belt and braces, not the mechanism.
            conn.execute(
                "INSERT INTO records (namespace, key, version, value, expires_us)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE"
                " SET version = excluded.version, value = excluded.value,"
                " expires_us = excluded.expires_us WHERE records.version = ?",
                (namespace, key, version, encoded, expires_us, version - 1),
            )
        return _record(namespace, key, version, encoded, expires_us)

    def delete_record(self, namespace: str, key: str, *, expected_version: int) -> None:
        """Delete a record if its stored, unexpired version matches.

        The row stays as a tombstone (expired, version + 1) so that versions of a key keep
        growing: a later create cannot reuse a version that an old holder still has in hand.

        :raises ConflictError: the version differs, or there is no live record.
        """
        check_namespace(namespace)
        check_record_key(key)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE records SET version = version + 1, value = '{}', expires_us = ?"
                " WHERE namespace = ? AND key = ? AND version = ?"
                " AND (expires_us IS NULL OR expires_us > ?)",
                (_TOMBSTONE, namespace, key, expected_version, _to_us(self._clock())),
            )
            if cursor.rowcount == 1:
                return
        raise ConflictError(
            f"record {namespace}/{key}: expected version {expected_version}, but the stored"
            " record is another version, expired or missing"
        )

    def list_records(self, namespace: str, prefix: str = "") -> list[Record]:
        """Unexpired records of a namespace whose key starts with ``prefix``, by key."""
        check_namespace(namespace)
        # substr() rather than LIKE: keys may contain % and _, and LIKE is case-insensitive.
        rows = (
            self._conn()
            .execute(
                "SELECT key, version, value, expires_us FROM records"
                " WHERE namespace = ? AND substr(key, 1, ?) = ?"
                " AND (expires_us IS NULL OR expires_us > ?) ORDER BY key",
                (namespace, len(prefix), prefix, _to_us(self._clock())),
            )
            .fetchall()
        )
        return [_record(namespace, key, v, value, exp) for key, v, value, exp in rows]

    # -- the due-time index (tfpilot_core.stores.due) -------------------------------------------

    def mark_due(self, namespace: str, key: str, at: datetime) -> None:
        """Add the due entry ``(at, key)`` of ``namespace`` (idempotent)."""
        check_namespace(namespace)
        check_record_key(key)
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO due (namespace, key, due_us) VALUES (?, ?, ?)",
                (namespace, key, _to_us(at)),
            )

    def clear_due(self, namespace: str, key: str, at: datetime) -> None:
        """Remove the due entry ``(at, key)`` if present."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM due WHERE namespace = ? AND key = ? AND due_us = ?",
                (namespace, key, _to_us(at)),
            )

    def due_keys(
        self, namespace: str, until: datetime, *, limit: int = 1000
    ) -> list[tuple[datetime, str]]:
        """Due entries at or before ``until``, earliest first (one index range scan)."""
        rows = (
            self._conn()
            .execute(
                "SELECT due_us, key FROM due WHERE namespace = ? AND due_us <= ?"
                " ORDER BY due_us, key LIMIT ?",
                (namespace, _to_us(until), limit),
            )
            .fetchall()
        )
        return [(_from_us(int(us)), str(key)) for us, key in rows]

    def purge_records(self, *, expired_before: datetime) -> int:
        """Remove records (and tombstones) that expired before ``expired_before``.

        Not part of the store contract: housekeeping for long-lived databases. Purging forgets a
        key's version history, so keep ``expired_before`` well in the past (days).

        :return: how many rows were removed.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM records WHERE expires_us IS NOT NULL AND expires_us < ?",
                (_to_us(expired_before),),
            )
            return cursor.rowcount

    def integrity_check(self) -> Sequence[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound database."""
        rows = self._conn().execute("PRAGMA integrity_check").fetchall()
        return [str(row[0]) for row in rows]


def _record(namespace: str, key: str, version: int, value: str, expires_us: int | None) -> Record:
    return Record(
        namespace=namespace,
        key=key,
        value=json.loads(value),
        version=version,
        expires_at=None if expires_us is None else _from_us(expires_us),
    )


def _created_between(
    after: datetime | None, before: datetime | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) on the creation time: ``after`` inclusive,
    ``before`` exclusive, as every listing and index read of this store bounds it."""
    clauses: list[str] = []
    params: list[Any] = []
    if after is not None:
        clauses.append("created_us >= ?")
        params.append(_to_us(after))
    if before is not None:
        clauses.append("created_us < ?")
        params.append(_to_us(before))
    return clauses, params


def _add_shard_column(conn: sqlite3.Connection) -> None:
    """The drift shard column of ``requests`` (:func:`tfpilot_core.stores.rows.shard_key` of
    the id) and its ``(status, shard)`` index: added to a new database and to one from before
    the column alike (filled for its rows), so that both end with the same layout.

    Inside the schema's write transaction: concurrent openers wait, and the first one adds it.
    A row a tfpilot from before the column writes later has no shard (NULL): a shard's read
    includes those rows and checks them.
    """
    columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(requests)")}
    if "shard" not in columns:
        conn.execute("ALTER TABLE requests ADD COLUMN shard TEXT")
        ids = [str(row[0]) for row in conn.execute("SELECT id FROM requests")]
        conn.executemany(
            "UPDATE requests SET shard = ? WHERE id = ?", [(shard_key(i), i) for i in ids]
        )
    conn.execute("CREATE INDEX IF NOT EXISTS requests_by_shard ON requests (status, shard)")


#: What :meth:`SQLiteStore._expected_layout` found (the same for every store of a process).
_EXPECTED_LAYOUT: list[tuple[Any, ...]] | None = None


def _layout(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """A database's layout version and every table, index and trigger with its SQL (reads)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    return [(version,), *objects]


def _split_sql(script: str) -> list[str]:
    """The statements of ``script``; triggers (``BEGIN ... END;``) stay whole.

    ``executescript`` would commit the open transaction first, and the schema must be created
    inside the ``BEGIN IMMEDIATE`` that also checks ``user_version``.
    """
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        joined = "\n".join(current)
        if stripped.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    return statements
