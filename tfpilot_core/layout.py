"""tfpilot's on-disk layouts: versions, and the embedded store's read-only emptiness check.

Standard library only. The embedded store (:mod:`tfpilot_core.stores.sqlite`) writes the layout
described here, and the CLI's start-up cache (:mod:`tfpilot_core.cli.startup_cache`, which must
not import the store's module and the domain model it needs) asks :func:`sqlite_holds_no_request`
rather than reading the database's schema itself.
"""

from __future__ import annotations

#: The embedded store's layout version, written to ``PRAGMA user_version``; a newer database
#: is refused.
SQLITE_SCHEMA_VERSION = 1


def sqlite_holds_no_request(path: str) -> bool:
    """True only when the embedded store's database at ``path`` certainly holds no request.

    The database is opened read-only (no write transaction, no schema set-up); a database of
    another layout version, or one that cannot be read, is "not certain" (``False``).
    """
    import sqlite3  # the standard library's, imported only when a store is looked at

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version != SQLITE_SCHEMA_VERSION:
                return False
            return conn.execute("SELECT 1 FROM requests LIMIT 1").fetchone() is None
        finally:
            conn.close()
    except sqlite3.Error:
        return False
