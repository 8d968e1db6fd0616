"""A Slack stand-in per test, and deliveries built from real core models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tfpilot_core.interfaces import Delivery
from tfpilot_core.models import Event, Placement, PlanSummary, Request
from tfpilot_notify_slack.testing import SlackStandIn


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def make_delivery() -> Callable[..., Delivery]:
    def make(
        type_: str = "plan_failed",
        *,
        recipient: str = "#prod-changes",
        data: dict[str, Any] | None = None,
        summary: str | None = None,
        links: dict[str, str] | None = None,
        runbook: str | None = "https://runbooks.example/plan_failed",
    ) -> Delivery:
        now = datetime(2026, 12, 1, 12, tzinfo=UTC)
        request = Request(
            id="req_dev_bucket_abc123",
            placement=Placement(
                project="shop", environment="dev", module="sandbox/bucket", module_version="v1"
            ),
            inputs={"name": "logs"},
            created_by="alice",
            created_at=now,
            updated_at=now,
            summary=PlanSummary(text=summary, markdown=summary) if summary else None,
        )
        event = Event(
            request_id=request.id, type=type_, seq=3, at=now, actor="alice", data=data or {}
        )
        return Delivery(
            id="dlv_test_1",
            event=event,
            request=request,
            channel="slack",
            recipient=recipient,
            runbook_url=runbook,
            links=links or {"run": "https://ci.example/run/1"},
        )

    return make
