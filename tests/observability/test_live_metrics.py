"""Live OTel metrics recorded from events: bounded attributes, durations from the attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tfpilot_core.metrics import live
from tfpilot_core.models import (
    Event,
    Placement,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(live.metrics, "get_meter", lambda name: provider.get_meter(name))
    live.reset()
    yield reader
    live.reset()


def _points(reader: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                found.setdefault(m.name, []).extend(m.data.data_points)
    return found


def test_runs_durations_and_policy_with_bounded_attributes(reader: Any) -> None:
    attempt = RunAttempt(
        id="apply-1-abcd1234",
        kind=RunKind.APPLY,
        number=1,
        runner="local",
        revision=1,
        actor="bob",
        status=RunStatus.COMPLETED,
        started_at=T0,
    )
    request = Request(
        id="req_prod_queue_abc123",
        placement=Placement(
            project="pay", environment="prod", module="sandbox/queue", module_version="v1"
        ),
        inputs={},
        created_by="alice",
        created_at=T0 - timedelta(seconds=100),
        runs={RunKind.APPLY: [attempt]},
    )
    at = T0 + timedelta(seconds=42)
    live.record_event(
        Event(request_id=request.id, type="apply_succeeded", at=at, data={"run": attempt.id}),
        request,
    )
    live.record_event(
        Event(
            request_id=request.id,
            type="policy_blocked",
            at=at,
            data={"findings": [{"rule_id": "no-public"}]},
        ),
        request,
    )
    points = _points(reader)
    [run] = points["tfpilot.runs"]
    assert dict(run.attributes) == {
        "tfpilot.module": "sandbox/queue",
        "tfpilot.environment": "prod",
        "tfpilot.project": "pay",
        "tfpilot.run.kind": "apply",
        "tfpilot.run.outcome": "succeeded",
    }
    [duration] = points["tfpilot.run.duration"]
    assert duration.sum == 42 and duration.count == 1
    [lead] = points["tfpilot.lead_time"]
    assert lead.sum == 142
    [block] = points["tfpilot.policy.blocks"]
    assert block.attributes["tfpilot.policy.rule"] == "no-public"
    for series in points.values():
        for point in series:
            assert request.id not in str(dict(point.attributes))
            assert attempt.id not in str(dict(point.attributes))


def test_cost_delta_is_recorded_once_per_applied_plan(reader: Any) -> None:
    from decimal import Decimal

    from tfpilot_core.models import CostEstimate

    request = Request(
        id="req_prod_queue_abc124",
        placement=Placement(
            project="pay", environment="prod", module="sandbox/queue", module_version="v1"
        ),
        inputs={},
        created_by="alice",
        created_at=T0,
        cost=CostEstimate(monthly=Decimal("12.50"), previous=Decimal("2.50")),
    )
    # Two plans of the revision (re-planned), then the apply of the second one.
    for monthly in ("40.00", "12.50"):
        event = Event(
            request_id=request.id,
            type="cost_estimated",
            at=T0,
            data={"monthly": monthly, "previous": "2.50"},
        )
        live.record_event(event, request)
    assert "tfpilot.cost.monthly_delta" not in _points(reader)
    live.record_event(Event(request_id=request.id, type="apply_succeeded", at=T0), request)
    [delta] = _points(reader)["tfpilot.cost.monthly_delta"]
    assert delta.count == 1 and delta.sum == 10.0
