"""The event history's end is anchored outside the stream: a cut, rewritten, unlinked or forged
end is detected (issue 27 item 2), and a destroy's decision record is complete (item 14).

The events are those of a real request (created, planned, approved, applied, destroyed through
the platform); the anchor is folded with :func:`next_anchor` over them as the lifecycle does
when it appends each event.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfpilot_core.audit import audit_record
from tfpilot_core.event_chain import anchor_of, event_digest, next_anchor, verify
from tfpilot_core.models import ChainAnchor, Event, PolicyOverride, RunKind
from tfpilot_core.platform import Platform

KEY = b"chain key from the configuration"


@pytest.fixture
def history(platform: Platform) -> tuple[Any, list[Event]]:
    request = platform.create(
        "dev", module="test/bucket", environment="prod", project="shop", inputs={"name": "logs"}
    )
    platform.plan("dev", request.id)
    platform.approve("appr", request.id)
    platform.apply("appr", request.id)
    events = platform.store.list_events(request.id)
    assert len(events) >= 6
    return platform.get(request.id), events


def fold(events: list[Event], key: bytes | None = None) -> ChainAnchor | None:
    anchor = None
    for event in events:
        anchor = next_anchor(anchor, event, key=key)
    return anchor


def test_the_anchor_of_an_untouched_history_verifies(history: Any) -> None:
    _, events = history
    anchor = fold(events, KEY)
    assert anchor is not None and anchor.events == len(events)
    assert anchor == anchor_of(events, key=KEY)
    report = verify(events, anchor, key=KEY)
    assert report.ok and report.anchored and report.signed, report
    assert report.head == anchor.head == event_digest(events[-1])


def _edit_last(events: list[Event]) -> list[Event]:
    last = events[-1].model_copy(update={"actor": "someone-else"})
    return [*events[:-1], last]


def _delete_last(events: list[Event]) -> list[Event]:
    return events[:-1]


def _clear_links(events: list[Event]) -> list[Event]:
    return [e.model_copy(update={"prev_digest": None}) for e in events]


def _forged_approval(events: list[Event]) -> list[Event]:
    last = events[-1]
    forged = Event(
        request_id=last.request_id,
        type="approved",
        seq=last.seq + 1,
        actor="mallory",
        revision=last.revision,
        data={"plan_digest": "0" * 64},
        prev_digest=event_digest(last),
    )
    return [*events, forged]


TAMPERING = {
    "edit last": _edit_last,
    "delete last": _delete_last,
    "clear links": _clear_links,
    "forged approved append": _forged_approval,
}


@pytest.mark.parametrize("tamper", list(TAMPERING), ids=list(TAMPERING))
def test_a_tampered_end_is_detected(history: Any, tamper: str) -> None:
    _, events = history
    anchor = fold(events)
    tampered = TAMPERING[tamper](events)
    # Without the anchor each of these passes as a chain: that was the hole.
    assert verify(tampered).ok
    report = verify(tampered, anchor)
    assert not report.ok and report.anchored and report.reason, (tamper, report)


def test_a_forged_append_with_a_forged_anchor_fails_the_signature(history: Any) -> None:
    _, events = history
    forged = _forged_approval(events)
    # Whoever can write both the events and the request document moves the anchor too...
    moved = next_anchor(fold(events, KEY), forged[-1])
    assert verify(forged, moved).ok  # ...which only a signature can tell
    report = verify(forged, moved, key=KEY)
    assert not report.ok and "signature" in (report.reason or "")
    wrong_key = next_anchor(fold(events, KEY), forged[-1], key=b"a guessed key")
    assert not verify(forged, wrong_key, key=KEY).ok


def test_next_anchor_refuses_an_event_that_does_not_follow_the_head(history: Any) -> None:
    _, events = history
    anchor = fold(events[:3])
    with pytest.raises(ValueError, match="does not follow"):
        next_anchor(anchor, events[4])
    with pytest.raises(ValueError, match="does not link"):
        next_anchor(anchor, events[3].model_copy(update={"prev_digest": "0" * 64}))


def test_the_audit_export_carries_the_anchor_and_its_verdict(
    history: Any, platform: Platform
) -> None:
    request, events = history
    anchored = request.model_copy(update={"chain_anchor": fold(events, KEY)})
    status = platform.status(request)
    record = audit_record(anchored, events, status, chain_key=KEY)
    chain = record["event_chain"]
    assert chain["ok"] and chain["anchored"] and chain["anchor"]["events"] == len(events)
    assert chain["anchor"]["signature"].startswith("hmac-sha256:")
    cut = audit_record(anchored, events[:-1], status, chain_key=KEY)["event_chain"]
    assert not cut["ok"] and "removed" in cut["reason"]


def test_a_destroy_decision_record_has_plan_approvers_findings_overrides_and_cost(
    history: Any, platform: Platform
) -> None:
    request, _ = history
    platform.destroy("admin", request.id)  # a protected environment: a destroy plan to review
    platform.approve("appr", request.id, comment="decommissioned with the shop")
    platform.apply("admin", request.id)  # carries out the approved destroy plan
    done = platform.get(request.id)
    destroy_plans = [p for p in done.attempts(RunKind.PLAN) if p.details.get("destroy")]
    assert destroy_plans and done.attempts(RunKind.DESTROY), "a reviewed destroy happened"
    plan = destroy_plans[-1]
    destroy = platform.audit("viv", request.id)["destroys"][-1]
    assert destroy["plan_digest"] == plan.plan_digest and plan.plan_digest
    assert destroy["plan_run"] == plan.id and destroy["planned_by"] == "admin"
    assert [a["actor"] for a in destroy["approvals"]] == ["appr"]
    assert destroy["approvals"][0]["comment"] == "decommissioned with the shop"
    assert destroy["approvals"][0]["overrides"] == []
    assert destroy["policy_findings"] == plan.details.get("findings", [])
    assert destroy["cost"] == plan.details.get("cost")
    # The fake runner's destroy plan has no findings or cost, and nothing was overridden: the
    # same stored request with a finding, a cost and an override on that plan carries them.
    finding = {"rule_id": "destroy.protected", "level": "warning", "message": "prod data"}
    cost = {"currency": "USD", "monthly_delta": "-12.50"}
    details = {**plan.details, "findings": [finding], "cost": cost}
    enriched_plan = plan.model_copy(update={"details": details})
    override = PolicyOverride(rule_id="destroy.protected", reason="data moved", actor="appr")
    approvals = [
        a.model_copy(update={"overrides": [override]}) if a.plan_digest == plan.plan_digest else a
        for a in done.approvals
    ]
    runs = {
        kind: [enriched_plan if r.id == plan.id else r for r in attempts]
        for kind, attempts in done.runs.items()
    }
    enriched = done.model_copy(update={"runs": runs, "approvals": approvals})
    record = audit_record(enriched, platform.store.list_events(request.id), platform.status(done))
    destroy = record["destroys"][-1]
    assert destroy["policy_findings"] == [finding] and destroy["cost"] == cost
    assert destroy["approvals"][0]["overrides"][0]["rule_id"] == "destroy.protected"
    assert destroy["approvals"][0]["overrides"][0]["reason"] == "data moved"
