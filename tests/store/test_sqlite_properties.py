"""Property tests: the SQLite store's records behave like a simple in-memory model.

Hypothesis drives random sequences of creates, compare-and-swap updates, deletes and clock moves
against one key space, and checks every outcome (success or ConflictError) and every read against
a dictionary model. Versions of a key must never repeat (see ``docs/store.md``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.errors import ConflictError
from tfpilot_core.models import utcnow
from tfpilot_core.stores.sqlite import SQLiteStore

KEYS = ("a", "a:b", "b")


@dataclass
class _Live:
    version: int
    value: int
    expires_at: datetime | None


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(KEYS), st.sampled_from([None, 1, 5])),
        st.tuples(st.just("update"), st.sampled_from(KEYS), st.integers(0, 6)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.integers(0, 6)),
        st.tuples(st.just("tick"), st.just(""), st.integers(1, 4)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
def test_records_match_model(ops: list[tuple[str, str, int | None]]) -> None:
    now = [utcnow()]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "p.db", synchronous="NORMAL", clock=lambda: now[0])
        model: dict[str, _Live] = {}
        highest: dict[str, int] = {}
        counter = 0

        def live(key: str) -> _Live | None:
            found = model.get(key)
            if found is None or (found.expires_at is not None and found.expires_at <= now[0]):
                return None
            return found

        for op, key, arg in ops:
            counter += 1
            current = live(key)
            if op == "tick":
                assert arg is not None
                now[0] += timedelta(seconds=arg)
                continue
            if op == "create":
                expires = None if arg is None else now[0] + timedelta(seconds=arg)
                try:
                    record = store.put_record(
                        "ns", key, {"v": counter}, expected_version=None, expires_at=expires
                    )
                except ConflictError:
                    assert current is not None
                else:
                    assert current is None
                    assert record.version > highest.get(key, 0)
                    model[key] = _Live(record.version, counter, expires)
            elif op == "update":
                assert arg is not None
                try:
                    record = store.put_record("ns", key, {"v": counter}, expected_version=arg)
                except ConflictError:
                    assert current is None or current.version != arg
                else:
                    assert current is not None and current.version == arg
                    assert record.version == arg + 1
                    model[key] = _Live(record.version, counter, None)
            else:
                assert arg is not None
                try:
                    store.delete_record("ns", key, expected_version=arg)
                except ConflictError:
                    assert current is None or current.version != arg
                else:
                    assert current is not None and current.version == arg
                    del model[key]
            if key in model:
                highest[key] = max(highest.get(key, 0), model[key].version)

            for k in KEYS:
                expected = live(k)
                got = store.get_record("ns", k)
                if expected is None:
                    assert got is None
                else:
                    assert got is not None
                    assert (got.version, got.value["v"]) == (expected.version, expected.value)
            listed = [(r.key, r.version) for r in store.list_records("ns")]
            assert listed == sorted((k, m.version) for k in KEYS if (m := live(k)) is not None)
        store.close()
