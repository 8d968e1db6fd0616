"""Counting a store's backend calls: the request-count model of ``docs/store.md``.

Each store counts what it asks of its backend (the S3 store: HTTP requests by operation and
verb, through a botocore event hook; the SQLite store: SQL statements), so that tests and
``bench/store_s3.py`` can say how many calls an operation makes as the store grows, counted,
not timed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CallCounter"]


class CallCounter:
    """Thread-safe counts of backend calls by name (``GET``, ``PutObject``, ``statements``)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, *names: str) -> None:
        """Count one call under each of ``names``."""
        with self._lock:
            for name in names:
                self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        """Every count so far (a copy)."""
        with self._lock:
            return dict(self._counts)

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        """The calls made inside the ``with`` block (filled in when it ends), by name.

        Counts calls of every thread of this store, so use it where nothing else runs at once.
        """
        before = self.snapshot()
        delta: dict[str, int] = {}
        try:
            yield delta
        finally:
            after = self.snapshot()
            delta.update(
                {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
            )
