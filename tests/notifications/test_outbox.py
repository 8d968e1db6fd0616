"""The outbox: routing to the right people, record before send, retries, dead letters, budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.errors import ForbiddenError
from tfpilot_core.notifications.preferences import Preferences, QuietHours
from tfpilot_core.platform import Platform

from .conftest import FakeRunner, Recorder, create

SECRET = "hunter2-Planted-Secret"


def lifecycle(platform: Platform, runner: FakeRunner) -> str:
    request = create(platform, password=SECRET)
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    runner.drifted = True
    platform.check_drift("alice", request.id)
    runner.drifted = False
    platform.destroy("carol", request.id, yes=True)
    return str(request.id)


def test_the_right_people_hear_about_the_right_events(
    make_platform: Callable[..., Platform], recorder: Recorder, runner: FakeRunner
) -> None:
    platform = make_platform(
        channels=[
            {"notifier": "rec", "recipient": "#dev", "environments": ["dev"]},
            {"notifier": "rec", "recipient": "#prod-changes", "environments": ["prod"]},
        ]
    )
    lifecycle(platform, runner)
    assert recorder.violations == []
    # The destroy is a reviewed change too: its plan asks for an approval before it is applied.
    expected = [
        "approval_required",
        "apply_succeeded",
        "drift_detected",
        "approval_required",
        "destroy_succeeded",
    ]
    assert recorder.to("alice") == expected  # the author, on every default event
    assert recorder.to("#dev") == expected
    # Approvers hear only that their approval is needed; mallory's grants are elsewhere.
    assert recorder.to("bob") == ["approval_required"] * 2
    assert recorder.to("carol") == ["approval_required"] * 2
    for nobody in ("mallory", "erin", "dan", "#prod-changes"):
        assert recorder.to(nobody) == [], nobody
    # Sensitive inputs are masked in what a notifier receives.
    assert {d.request.inputs["password"] for d in recorder.deliveries} == {"(sensitive)"}
    assert not [d for d in recorder.deliveries if SECRET in repr(d)]


def test_revision_authors_are_told_too(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform()
    request = create(platform)
    platform.update("dan", request.id, {"name": "logs2"})
    platform.plan("alice", request.id)
    assert recorder.to("dan") == ["approval_required"]


def test_failures_carry_the_runbook_link(
    make_platform: Callable[..., Platform], recorder: Recorder, runner: FakeRunner
) -> None:
    platform = make_platform(
        runbooks={"plan_failed": "https://wiki.example/runbooks/{module}/{environment}?r={request}"}
    )
    request = create(platform)
    runner.fail_next = "plan"
    with pytest.raises(Exception, match="invalid region"):
        platform.plan("alice", request.id)
    [delivery] = recorder.deliveries
    assert delivery.event.type == "plan_failed"
    assert delivery.runbook_url == (
        f"https://wiki.example/runbooks/test%2Fbucket/dev?r={request.id}"
    )
    from tfpilot_core.notifications import runbook_url

    assert runbook_url(platform.config, "plan_failed", request) == delivery.runbook_url
    assert runbook_url(platform.config, "apply_failed", request) is None


def test_outage_then_recovery_delivers_each_exactly_once(
    make_platform: Callable[..., Platform], recorder: Recorder, runner: FakeRunner
) -> None:
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    recorder.mode = "fail"
    request_id = lifecycle(platform, runner)
    assert recorder.deliveries == []
    pending = platform.notifications.list(states=["pending"])
    assert len(pending) == 14 and all(p["last_error"] for p in pending)
    types = [e.type for e in platform.store.list_events(request_id)]
    assert "notification_failed" in types and "destroy_succeeded" in types
    recorder.mode = None
    for _ in range(50):
        time.sleep(0.05)
        platform.notifications.deliver_due()
        if not platform.notifications.list(states=["pending", "sending"]):
            break
    ids = [d.id for d in recorder.deliveries]
    assert len(ids) == 14 and len(set(ids)) == 14
    assert {r["state"] for r in platform.notifications.list()} == {"delivered"}
    # Running the worker again sends nothing twice.
    assert platform.notifications.deliver_due()["delivered"] == 0
    assert len(recorder.deliveries) == 14
    assert recorder.violations == []


def test_backoff_then_dead_letter(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(
        max_attempts=3,
        backoff_seconds=10,
        backoff_max_seconds=100,
        runbooks={"notification_dead_lettered": "https://wiki.example/notify?r={request}"},
    )
    recorder.mode = "fail"
    request = create(platform)
    platform.plan("alice", request.id)
    [record] = alices(platform)
    assert record["state"] == "pending" and record["attempts"] == 1
    wait = (_dt(record["next_at"]) - _dt(record["updated_at"])).total_seconds()
    assert 5 <= wait <= 10  # the first step (10 s) with equal jitter
    outbox = platform.notifications
    outbox.settings.backoff_seconds = 0.01  # type: ignore[misc]
    outbox.settings.backoff_max_seconds = 0.01  # type: ignore[misc]
    outbox.retry(record["id"])  # attempt 2
    time.sleep(0.05)
    outbox.deliver_due()  # attempt 3: the last
    [record] = alices(platform)
    assert record["state"] == "dead" and record["attempts"] == 3
    assert record["runbook_url"] == f"https://wiki.example/notify?r={request.id}"
    events = [e for e in platform.store.list_events(request.id) if e.type.startswith("notif")]
    assert events[-1].type == "notification_dead_lettered"
    assert events[-1].data["runbook_url"] == record["runbook_url"]
    # A dead letter can be retried by hand once the cause is fixed.
    recorder.mode = None
    assert outbox.retry(record["id"]) == "delivered"
    assert recorder.to("alice") == ["approval_required"]


def alices(platform: Platform) -> list[dict[str, Any]]:
    return [r for r in platform.notifications.list() if r["recipient_user"] == "alice"]


def _dt(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


def test_a_refusal_is_dead_lettered_at_once_and_a_deferral_waits(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform()
    recorder.mode = "reject"
    request = create(platform)
    platform.plan("alice", request.id)
    [record] = alices(platform)
    assert record["state"] == "dead" and record["attempts"] == 1
    assert "invalid_auth" in record["last_error"]
    recorder.mode = "defer"
    platform.notifications.retry(record["id"])
    [record] = alices(platform)
    wait = (_dt(record["next_at"]) - _dt(record["updated_at"])).total_seconds()
    assert record["state"] == "pending" and wait == pytest.approx(42)


def test_routing_one_event_twice_records_it_once(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(budget_seconds=0)
    request = create(platform)
    platform.plan("alice", request.id)
    events = platform.store.list_events(request.id)
    event = next(e for e in events if e.type == "approval_required")
    before = len(platform.notifications.list())
    assert platform.notifications.record(event, platform.store.get_request(request.id)) == []
    assert len(platform.notifications.list()) == before == 3  # alice, bob, carol
    assert recorder.deliveries == []  # budget 0: only recorded
    assert platform.notifications.deliver_due()["delivered"] == 3


def test_a_hanging_channel_never_holds_the_action_beyond_the_budget(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    platform = make_platform(budget_seconds=0.3, lease_seconds=5)
    request = create(platform)
    recorder.mode = "hang"
    recorder.hang_seconds = 3.0
    started = time.monotonic()
    platform.plan("alice", request.id)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed  # the budget (0.3 s), never the hang (3 s)
    assert recorder.entered.wait(5)
    # The channel's worker holds the first (sending, under a lease); the others wait.
    states = sorted(r["state"] for r in platform.notifications.list())
    assert states == ["pending", "pending", "sending"]
    recorder.mode = None
    # A second worker sends the waiting ones, and not the one under a lease.
    assert platform.notifications.deliver_due()["delivered"] == 2
    platform.notifications.wait(10)
    states = sorted(r["state"] for r in platform.notifications.list())
    assert states == ["delivered", "delivered", "pending"]  # the hung one failed: retried later
    time.sleep(0.3)
    assert platform.notifications.deliver_due()["delivered"] == 1
    assert len({d.id for d in recorder.deliveries}) == len(recorder.deliveries) == 3


def test_older_notifiers_still_get_every_event(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    seen: list[str] = []

    class Legacy:
        def notify(self, event: Any, request: Any) -> None:
            seen.append(event.type)

    platform = make_platform(notifiers=[("legacy", Legacy()), ("rec", recorder)])
    request = create(platform)
    platform.plan("alice", request.id)
    assert seen[:2] == ["request_created", "plan_started"] and "approval_required" in seen
    sent = [e for e in platform.store.list_events(request.id) if e.type == "notification_sent"]
    assert {e.data["notifier"] for e in sent} == {"legacy", "rec"}


def test_preferences_decide_channels_events_environments_and_mute(
    make_platform: Callable[..., Platform], recorder: Recorder, runner: FakeRunner
) -> None:
    platform = make_platform()
    n = platform.notifications
    n.set_preferences("alice", "alice", Preferences(events=["apply_succeeded"]))
    n.set_preferences("bob", "bob", Preferences(channels={"rec": "bob+tfpilot@example.com"}))
    n.set_preferences("carol", "carol", Preferences(mute=True))
    request = create(platform)
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    assert recorder.to("alice") == ["apply_succeeded"]
    assert recorder.to("bob+tfpilot@example.com") == ["approval_required"]
    assert recorder.to("carol") == []
    n.set_preferences("alice", "alice", Preferences(environments=["prod"]))
    runner.drifted = True
    platform.check_drift("alice", request.id)
    assert recorder.to("alice") == ["apply_succeeded"]


def test_users_set_their_own_preferences_and_admins_anyones(
    make_platform: Callable[..., Platform],
) -> None:
    n = make_platform().notifications
    n.set_preferences("alice", "alice", Preferences(mute=True))
    n.set_preferences("carol", "bob", Preferences(drift_digest=True))
    with pytest.raises(ForbiddenError, match="users set their own, admins anyone's"):
        n.set_preferences("bob", "alice", Preferences())
    assert n.preferences("alice").mute and n.preferences("bob").drift_digest
    assert n.preferences("dan") == Preferences()


def test_quiet_hours_hold_messages_until_they_end(
    make_platform: Callable[..., Platform], recorder: Recorder
) -> None:
    from datetime import UTC, datetime

    clock = [datetime(2026, 12, 1, 23, 30, tzinfo=UTC)]
    platform = make_platform()
    platform.kernel.clock = lambda: clock[0]
    platform.notifications.set_preferences(
        "alice", "alice", Preferences(quiet_hours=QuietHours(start="22:00", end="07:00"))
    )
    request = create(platform)
    platform.plan("alice", request.id)
    assert recorder.to("alice") == []
    [held] = [r for r in platform.notifications.list() if r["recipient_user"] == "alice"]
    assert held["next_at"] == "2026-12-02T07:00:00+00:00"
    clock[0] = datetime(2026, 12, 2, 7, 1, tzinfo=UTC)
    platform.notifications.deliver_due()
    assert recorder.to("alice") == ["approval_required"]


def test_daily_drift_digest(
    make_platform: Callable[..., Platform], recorder: Recorder, runner: FakeRunner
) -> None:
    platform = make_platform()
    platform.notifications.set_preferences("alice", "alice", Preferences(drift_digest=True))
    ids = []
    for name in ("a", "b"):
        request = create(platform, name=name)
        platform.plan("alice", request.id)
        platform.approve("bob", request.id)
        platform.apply("bob", request.id)
        ids.append(request.id)
    runner.drifted = True
    for request_id in ids:
        platform.check_drift("alice", request_id)
    assert "drift_detected" not in recorder.to("alice")
    counts = platform.notifications.send_digests()
    assert counts["digests"] == 1 and counts["items"] == 2 and counts["delivered"] == 1
    [digest] = [d for d in recorder.deliveries if d.event.type == "drift_digest"]
    assert digest.recipient_user == "alice"
    assert {i["request"] for i in digest.event.data["items"]} == set(ids)
    # Once a day: nothing more until tomorrow.
    assert platform.notifications.send_digests()["digests"] == 0


def test_a_broken_router_never_fails_the_action(
    make_platform: Callable[..., Platform], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = make_platform()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("routing bug")

    monkeypatch.setattr("tfpilot_core.notifications.service.route", broken)
    request = create(platform)
    platform.plan("alice", request.id)
    assert [e.type for e in platform.store.list_events(request.id)][-1] == "approval_required"
