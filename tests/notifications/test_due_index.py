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
