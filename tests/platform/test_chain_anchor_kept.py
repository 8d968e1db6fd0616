"""The lifecycle keeps every request's chain anchor (Kernel.append), so `audit verify` finds a cut
or rewritten end of the history in the real store, and the outbox's events move it too."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.event_chain import anchor_of
from tfpilot_core.platform import Platform


def _request(platform: Platform) -> Any:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    return platform.plan("dev", request.id)


def _database(platform: Platform) -> Path:
    return Path(platform.config.home) / "tfpilot.db"


def test_every_event_moves_the_anchor(platform: Platform) -> None:
    request = _request(platform)
    events = platform.store.list_events(request.id)
    assert platform.kernel.chain_anchor(request.id) == anchor_of(events)
    report = platform.verify_audit("dev", request.id)
    assert report.ok and report.anchored and report.events == len(events)
    # The request document is not rewritten for it: its version counts changes of its facts.
    assert platform.get(request.id).version == request.version
    record = platform.audit("dev", request.id)["event_chain"]
    assert record["ok"] and record["anchor"]["events"] == len(events)


def test_a_deleted_last_event_is_found(platform: Platform) -> None:
    request = _request(platform)
    count = len(platform.store.list_events(request.id))
    with sqlite3.connect(_database(platform)) as db:
        db.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
        db.execute("DELETE FROM events WHERE request_id = ? AND seq = ?", (request.id, count))
    report = platform.verify_audit("dev", request.id)
    assert not report.ok and "removed" in (report.reason or "")


def test_a_forged_append_past_the_kernel_is_found(platform: Platform) -> None:
    from tfpilot_core.models import Event

    request = _request(platform)
    # Written straight to the store (linked and numbered by it), not through the kernel.
    platform.kernel.host.store().append_event(
        Event(request_id=request.id, type="approved", actor="mallory", data={})
    )
    report = platform.verify_audit("dev", request.id)
    assert not report.ok and "appended without the anchor" in (report.reason or "")


def test_a_signed_anchor_needs_the_key(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFPILOT_TEST_CHAIN_KEY", "k" * 32)
    platform.config.core.chain_key_env = "TFPILOT_TEST_CHAIN_KEY"
    request = _request(platform)
    assert platform.kernel.chain_anchor(request.id).signature  # type: ignore[union-attr]
    assert platform.verify_audit("dev", request.id).ok
    monkeypatch.setenv("TFPILOT_TEST_CHAIN_KEY", "another key, guessed")
    assert not platform.verify_audit("dev", request.id).ok
