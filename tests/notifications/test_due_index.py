"""The outbox's due index: a deliverer pass reads the due deliveries, not the whole outbox.

Counted, not timed: SQLite statements and S3 requests (botocore event hook) of a pass with
nothing due stay the same while delivered records pile up, and a delivery that failed is found
again through the index once its retry time has come.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tfpilot_core.notifications import outbox
from tfpilot_core.platform import Platform

from .conftest import Recorder, create


def _store(platform: Platform) -> Any:
    return getattr(platform.store, "wrapped", platform.store)


def _lifecycle(platform: Platform) -> None:
    request = create(platform)
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)


def _pass_cost(platform: Platform) -> dict[str, int]:
    platform.notifications.wait()
    with _store(platform).calls.counting() as calls:
        counts = platform.notifications.deliver_due()
    assert counts["delivered"] == counts["failed"] == 0
    return calls


def test_a_pass_with_nothing_due_costs_the_same_as_the_outbox_grows(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    _lifecycle(platform)
    first = _pass_cost(platform)
    for _ in range(5):
        _lifecycle(platform)
    delivered = platform.notifications.list(states=["delivered"])
    assert len(delivered) >= 30
    assert _pass_cost(platform) == first
    # Every delivery was sent once and left the due index.
    assert _store(platform).due_keys(outbox_ns(), _far()) == []


def outbox_ns() -> str:
    from tfpilot_core.notifications.service import NAMESPACE

    return NAMESPACE


def _far() -> Any:
    from tfpilot_core.models import utcnow

    return utcnow() + timedelta(days=3650)


def test_a_failed_delivery_is_found_again_through_the_index(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    recorder.mode = "fail"
    _lifecycle(platform)
    platform.notifications.wait()
    failed = platform.notifications.list(states=["pending"])
    assert failed, "the failing channel left pending deliveries"
    store = _store(platform)
    entries = store.due_keys(outbox_ns(), _far())
    assert {key for _, key in entries} == {v["id"] for v in failed}
    assert all(outbox.due_at(v) is not None for v in failed)
    recorder.mode = None
    # Past every retry time, one pass finds each of them through the index and sends it once.
    later = max(outbox.due_at(v) for v in failed)  # type: ignore[type-var]
    platform.notifications._clock = lambda: later + timedelta(seconds=1)  # type: ignore[method-assign]
    assert platform.notifications.deliver_due()["delivered"] == len(failed)
    assert store.due_keys(outbox_ns(), _far()) == []
    assert sorted(d.id for d in recorder.deliveries) == sorted(v["id"] for v in failed)


def test_three_deliverers_at_once_send_each_delivery_once(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    import threading

    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    recorder.mode = "fail"
    for _ in range(3):
        _lifecycle(platform)
    platform.notifications.wait()
    pending = {v["id"] for v in platform.notifications.list(states=["pending"])}
    assert len(pending) >= 15
    recorder.mode = None
    later = platform.notifications._clock() + timedelta(seconds=5)
    platform.notifications._clock = lambda: later  # type: ignore[method-assign]
    start = threading.Barrier(3)

    def deliverer() -> None:
        start.wait()
        for _ in range(5):
            platform.notifications.deliver_due()

    threads = [threading.Thread(target=deliverer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [d.id for d in recorder.deliveries]
    assert sorted(sent) == sorted(pending)  # every one, none twice
    assert recorder.violations == []


def test_a_dead_deliverers_lease_expires_and_the_delivery_is_sent_once(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    recorder.mode = "fail"
    _lifecycle(platform)
    platform.notifications.wait()
    [victim, *_] = platform.notifications.list(states=["pending"])
    store = _store(platform)
    notes = platform.notifications
    now = notes._clock() + timedelta(seconds=5)
    notes._clock = lambda: now  # type: ignore[method-assign]
    # A deliverer claims it (as _attempt does) and dies before sending.
    record = notes.get(victim["id"])
    claimed = {
        **record.value,
        "state": "sending",
        "attempts": int(record.value["attempts"]) + 1,
        "lease_until": (now + timedelta(seconds=notes.settings.lease_seconds)).isoformat(),
    }
    outbox.will_be_due(store, outbox_ns(), record.key, claimed)
    store.put_record(outbox_ns(), record.key, claimed, expected_version=record.version)
    outbox.moved(store, outbox_ns(), record.key, record.value, claimed)
    recorder.mode = None
    notes.deliver_due()
    assert victim["id"] not in [d.id for d in recorder.deliveries]  # the lease holds
    expired = now + timedelta(seconds=notes.settings.lease_seconds + 1)
    notes._clock = lambda: expired  # type: ignore[method-assign]
    notes.deliver_due()
    notes.deliver_due()
    again = [d for d in recorder.deliveries if d.id == victim["id"]]
    assert len(again) == 1  # retried once, with the same idempotency key
    assert notes.get(victim["id"]).value["state"] == "delivered"
