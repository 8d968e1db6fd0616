"""Metrics from a seeded event history with known answers (per module and environment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tfpilot_core.metrics import metrics, percentile
from tfpilot_core.metrics.formats import openmetrics, text
from tfpilot_core.metrics.rollup import CODE, NAMESPACE, STATE_KEY, load_days, update
from tfpilot_core.models import Event, Placement, Request
from tfpilot_core.stores.sqlite import SQLiteStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _request(store: SQLiteStore, rid: str, module: str, env: str, project: str) -> None:
    store.create_request(
        Request(
            id=rid,
            placement=Placement(
                project=project, environment=env, module=module, module_version="v1"
            ),
            inputs={},
            created_by="alice",
            created_at=NOW - timedelta(days=2),
        )
    )


def _event(store: SQLiteStore, rid: str, type_: str, at: datetime, **data: object) -> None:
    store.append_event(Event(request_id=rid, type=type_, at=at, data=dict(data)))


def seed(store: SQLiteStore) -> None:
    """dev/bucket: 20 plans of 1..20 s; prod/queue: applies of 5, 10, 100 s; one drift."""
    base = NOW - timedelta(days=1)
    for i in range(1, 21):
        rid = f"dev-bucket-{i:04d}"
        _request(store, rid, "sandbox/bucket", "dev", "shop")
        _event(store, rid, "request_created", base)
        _event(store, rid, "plan_started", base, run=f"plan-{i}")
        _event(store, rid, "plan_succeeded", base + timedelta(seconds=i), run=f"plan-{i}")
    _event(store, "dev-bucket-0001", "plan_started", base, run="plan-x")
    _event(store, "dev-bucket-0001", "plan_failed", base + timedelta(seconds=3), run="plan-x")
    for i, seconds in enumerate((5, 10, 100), 1):
        rid = f"prod-queue-{i:04d}"
        _request(store, rid, "sandbox/queue", "prod", "pay")
        _event(store, rid, "request_created", base)
        if i == 3:
            # Planned twice: only the plan that is applied counts in the cost total (issue 30).
            _event(store, rid, "cost_estimated", base, monthly="40.00", previous="2.50")
            _event(store, rid, "cost_estimated", base, monthly="12.50", previous="2.50")
        _event(store, rid, "approval_required", base + timedelta(seconds=60))
        _event(store, rid, "approved", base + timedelta(seconds=60 + 30 * i))
        _event(store, rid, "apply_started", base + timedelta(seconds=600), run=f"apply-{i}")
        _event(
            store, rid, "apply_succeeded", base + timedelta(seconds=600 + seconds), run=f"apply-{i}"
        )
    _event(store, "prod-queue-0001", "drift_checked", base + timedelta(hours=1))
    _event(store, "prod-queue-0001", "drift_detected", base + timedelta(hours=1))
    _event(store, "prod-queue-0002", "drift_detected", base + timedelta(hours=1))
    _event(store, "prod-queue-0002", "drift_cleared", base + timedelta(hours=3))
    _event(
        store,
        "prod-queue-0003",
        "policy_blocked",
        base,
        findings=[{"rule_id": "no-public"}, {"rule_id": "tags"}],
    )
    _event(store, "prod-queue-0003", "policy_overridden", base, rule_id="tags")
    _event(store, "prod-queue-0003", "notification_failed", base)
    _event(store, "prod-queue-0003", "notification_dead_lettered", base)
    # Outside a 7-day window: must not count.
    _event(store, "dev-bucket-0002", "plan_started", NOW - timedelta(days=30), run="old")
    _event(store, "dev-bucket-0002", "plan_succeeded", NOW - timedelta(days=30), run="old")


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "t.db", synchronous="NORMAL")
    seed(s)
    yield s
    s.close()


def test_percentile_nearest_rank() -> None:
    assert percentile(list(range(1, 21)), 95) == 19
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


def test_known_answers_by_env(store: SQLiteStore) -> None:
    report = metrics(store, since=timedelta(days=7), by="env", now=NOW)
    assert report["window"]["seconds"] == 7 * 86400
    dev, prod = report["groups"]["dev"], report["groups"]["prod"]
    plan = dev["durations_seconds"]["plan"]
    assert (plan["count"], plan["p50"], plan["p95"], plan["p99"]) == (20, 10, 19, 20)
    assert dev["runs"]["plan"] == {"succeeded": 20, "failed": 1, "success_rate": round(20 / 21, 4)}
    apply = prod["durations_seconds"]["apply"]
    assert (apply["count"], apply["p50"], apply["p95"]) == (3, 10, 100)
    assert prod["approval_wait_seconds"]["p50"] == 60  # waits of 30, 60, 90 s
    assert prod["lead_time_seconds"]["p95"] == 700  # created -> applied: 605, 610, 700 s
    assert prod["drift"] == {
        "checks": 1,
        "detected": 2,
        "cleared": 1,
        "open": 1,
        "time_to_remediate_seconds": prod["drift"]["time_to_remediate_seconds"],
    }
    assert prod["drift"]["time_to_remediate_seconds"]["p95"] == 7200
    assert prod["policy"] == {"blocks": {"no-public": 1, "tags": 1}, "overrides": {"tags": 1}}
    assert prod["cost"]["monthly_delta_total"] == 10.0  # the applied plan's, not 47.5
    assert prod["cost"]["estimates"] == 1
    assert prod["notifications"] == {"failed": 1, "dead_letters": 1}
    assert dev["drift"]["detected"] == 0
    assert report["totals"]["requests"]["created"] == 23


def test_by_module_and_project(store: SQLiteStore) -> None:
    report = metrics(store, since=timedelta(days=7), by="module", now=NOW)
    assert set(report["groups"]) == {"sandbox/bucket", "sandbox/queue"}
    assert report["groups"]["sandbox/queue"]["durations_seconds"]["apply"]["p95"] == 100
    shop_only = metrics(
        store,
        since=timedelta(days=7),
        by="project",
        now=NOW,
        visible=lambda project, env: project == "shop",
    )
    assert set(shop_only["groups"]) == {"shop"}
    assert shop_only["totals"]["durations_seconds"]["apply"]["count"] == 0


def test_window_excludes_old_events(store: SQLiteStore) -> None:
    wide = metrics(store, since=timedelta(days=60), now=NOW)
    assert wide["totals"]["durations_seconds"]["plan"]["count"] == 21


def test_incremental_folds_only_new_events(store: SQLiteStore) -> None:
    state, folded = update(store)
    assert folded == state.events > 80
    again, folded = update(store)
    assert folded == 0 and again.events == state.events
    _event(store, "prod-queue-0001", "apply_started", NOW - timedelta(hours=1), run="apply-9")
    _event(
        store,
        "prod-queue-0001",
        "apply_succeeded",
        NOW - timedelta(hours=1) + timedelta(seconds=42),
        run="apply-9",
    )
    third, folded = update(store)
    assert folded == 2
    record = store.get_record(NAMESPACE, STATE_KEY)
    assert record is not None and record.value["cursor"] == third.cursor
    report = metrics(store, since=timedelta(days=7), now=NOW)
    assert report["events_folded_now"] == 0
    assert report["totals"]["durations_seconds"]["apply"]["count"] == 4
    assert report["totals"]["durations_seconds"]["apply"]["max"] == 100


def test_a_day_never_takes_an_event_twice(store: SQLiteStore) -> None:
    """A process that wrote a day but died before writing the state: no double count."""
    update(store)
    _event(store, "prod-queue-0002", "approved", NOW - timedelta(hours=2))
    before = store.get_record(NAMESPACE, STATE_KEY)
    assert before is not None
    update(store)
    # Put the old state back: the next update refolds the event, the day already holds it.
    current = store.get_record(NAMESPACE, STATE_KEY)
    assert current is not None
    store.put_record(NAMESPACE, STATE_KEY, before.value, expected_version=current.version)
    state, folded = update(store)
    assert folded == 1
    report = metrics(store, since=timedelta(days=7), now=NOW)
    assert report["events_folded_now"] == 0
    # 3 seeded approvals + 1.
    days = load_days(store, state, (NOW - timedelta(days=7)).timestamp(), NOW.timestamp())
    approved = sum(
        len(times)
        for d in days
        for k, (times, _) in d.items()
        if k.startswith(f"{CODE['approved']}:")
    )
    assert approved == 4


def test_formats(store: SQLiteStore) -> None:
    report = metrics(store, since=timedelta(days=7), by="env", now=NOW)
    om = openmetrics(report)
    assert om.endswith("# EOF\n")
    assert 'tfpilot_run_duration_apply_seconds{environment="prod",quantile="0.95"} 100' in om
    assert "Window:" in text(report) and "p95 100" in text(report)


class _OtherStore:
    """The same store seen as "any other store": no SQLite fast path (a listing scan)."""

    def __init__(self, inner: SQLiteStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_scan_feed_gives_the_same_answers(store: SQLiteStore) -> None:
    fast = metrics(store, since=timedelta(days=7), by="env", now=NOW)
    for record in store.list_records(NAMESPACE):
        store.delete_record(NAMESPACE, record.key, expected_version=record.version)
    other = _OtherStore(store)
    scanned = metrics(other, since=timedelta(days=7), by="env", now=NOW)  # type: ignore[arg-type]
    assert scanned["groups"] == fast["groups"] and scanned["totals"] == fast["totals"]
    _event(store, "prod-queue-0003", "drift_checked", NOW - timedelta(hours=1))
    again = metrics(other, since=timedelta(days=7), by="env", now=NOW)  # type: ignore[arg-type]
    assert again["events_folded_now"] == 1
    assert again["groups"]["prod"]["drift"]["checks"] == 2
