"""Digests and ``notify list --pending/--failed`` read the records they show, not the outbox.

Held deliveries (waiting for a user's drift digest) and dead-lettered ones have index entries
beside the due index (``outbox-held``, ``outbox-dead``). Checked by what is read: the outbox is
never listed whole, and one record is read per record shown (a spy on the store; the S3 request
counts of the same operations are in ``bench/store_s3.py --counts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tfpilot_core.models import utcnow
from tfpilot_core.notifications.preferences import Preferences
from tfpilot_core.platform import Platform

from .conftest import FakeRunner, Recorder, create


def _store(platform: Platform) -> Any:
    return getattr(platform.store, "wrapped", platform.store)


def _applied(platform: Platform, name: str) -> str:
    request = create(platform, name=name)
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    return str(request.id)


class _Reads:
    """Counts the store's record reads by namespace: whole listings and single records."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.listed: Counter[str] = Counter()
        self.got: Counter[str] = Counter()
        list_records, get_record = store.list_records, store.get_record

        def listing(namespace: str, prefix: str = "") -> Any:
            self.listed[namespace] += 1
            return list_records(namespace, prefix)

        def getting(namespace: str, key: str) -> Any:
            self.got[namespace] += 1
            return get_record(namespace, key)

        monkeypatch.setattr(store, "list_records", listing)
        monkeypatch.setattr(store, "get_record", getting)


def test_the_digest_and_the_pending_list_read_only_held_records(
    make_platform: Callable[..., Platform],
    recorder: Recorder,
    runner: FakeRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = make_platform()
    platform.notifications.set_preferences("alice", "alice", Preferences(drift_digest=True))
    drifting = [_applied(platform, name) for name in ("a", "b")]
    for name in ("c", "d", "e"):  # delivered records: the outbox grows, the reads must not
        _applied(platform, name)
    runner.drifted = True
    for request_id in drifting:
        platform.check_drift("alice", request_id)
    platform.notifications.wait()
    everything = platform.notifications.list()
    held = [r for r in everything if r["state"] == "held"]
    assert len(held) == 2 and len(everything) > 10 * len(held)

    reads = _Reads(_store(platform), monkeypatch)
    waiting = platform.notifications.list(states=["pending", "sending", "held"])
    assert sorted(r["id"] for r in waiting) == sorted(r["id"] for r in held)
    assert reads.listed["outbox"] == 0 and reads.got["outbox"] == len(held)

    counts = platform.notifications.send_digests()
    assert counts["digests"] == 1 and counts["items"] == 2 and counts["delivered"] == 1
    assert reads.listed["outbox"] == 0
    # The held entries left with their records; the digest itself was delivered.
    assert platform.notifications.list(states=["held"]) == []
    far = utcnow() + timedelta(days=3650)
    assert _store(platform).due_keys("outbox-held", far) == []


def test_dead_letters_are_listed_from_their_index(
    make_platform: Callable[..., Platform], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    _applied(platform, "ok")
    platform.notifications.wait()
    recorder.mode = "reject"  # refused for good: dead-lettered at once
    _applied(platform, "bad")
    platform.notifications.wait()
    dead = [r for r in platform.notifications.list() if r["state"] == "dead"]
    assert dead

    reads = _Reads(_store(platform), monkeypatch)
    listed = platform.notifications.list(states=["dead"])
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in dead)
    assert reads.listed["outbox"] == 0 and reads.got["outbox"] == len(dead)

    # A retried dead letter leaves the dead index (and is delivered once).
    recorder.mode = None
    assert platform.notifications.retry(dead[0]["id"]) == "delivered"
    assert [r["id"] for r in platform.notifications.list(states=["dead"])] == [
        r["id"] for r in dead[1:]
    ]
