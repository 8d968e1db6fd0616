"""``tfpilot notify``: list, retry, deliver, prefs and digest, through the real CLI group."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.platform import Platform

from .conftest import Recorder, create


@pytest.fixture
def run(make_platform: Callable[..., Platform]) -> Callable[..., Any]:
    platform = make_platform()

    def invoke(actor: str, *args: str) -> Any:
        # Wide, so that the table is not wrapped.
        runner = CliRunner(env={"COLUMNS": "300"})
        result = runner.invoke(cli, ["--as", actor, *args], obj=App(_platform=platform))
        return result

    invoke.platform = platform  # type: ignore[attr-defined]
    return invoke


def test_list_retry_and_deliver(run: Callable[..., Any], recorder: Recorder) -> None:
    platform: Platform = run.platform  # type: ignore[attr-defined]
    recorder.mode = "fail"
    request = create(platform)
    platform.plan("alice", request.id)
    listed = run("alice", "notify", "list", "--failed", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)["items"]
    assert {r["recipient_user"] for r in rows} == {"alice", "bob", "carol"}
    assert all(r["state"] == "pending" and "channel down" in r["last_error"] for r in rows)
    # Someone who may not read the request sees none of its deliveries.
    assert json.loads(run("mallory", "notify", "list", "--json").output)["items"] == []
    recorder.mode = None
    retried = run("alice", "notify", "retry", rows[0]["id"], "--json")
    assert json.loads(retried.output)["outcome"] == "delivered"
    assert run("mallory", "notify", "retry", rows[1]["id"]).exit_code == 6
    delivered = run("alice", "notify", "deliver", "--json")
    assert delivered.exit_code == 0
    assert json.loads(delivered.output)["delivered"] == 2
    assert json.loads(run("alice", "notify", "list", "--pending", "--json").output)["items"] == []
    text = run("alice", "notify", "list")
    assert "delivered" in text.output and rows[0]["id"][:12] in text.output
    missing = run("alice", "notify", "retry", "dlv_nope")
    assert missing.exit_code == 7 and "no delivery 'dlv_nope'" in missing.output


def test_preferences_from_the_command_line(run: Callable[..., Any]) -> None:
    out = run(
        "alice",
        "notify",
        "prefs",
        "set",
        "--channel",
        "rec=alice2@example.com",
        "--events",
        "plan_failed,apply_failed",
        "--quiet-hours",
        "22:00-07:00",
        "--timezone",
        "Europe/Paris",
        "--drift-digest",
        "--json",
    )
    assert out.exit_code == 0, out.output
    shown = json.loads(run("alice", "notify", "prefs", "show", "--json").output)
    assert shown["channels"] == {"rec": "alice2@example.com"}
    assert shown["events"] == ["plan_failed", "apply_failed"]
    assert shown["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}
    assert shown["drift_digest"] is True
    other = run("alice", "notify", "prefs", "set", "--user", "bob", "--mute")
    assert other.exit_code == 6 and "admins anyone's" in other.output
    assert run("carol", "notify", "prefs", "set", "--user", "bob", "--mute").exit_code == 0
    bad = run("alice", "notify", "prefs", "set", "--quiet-hours", "25:00-07:00")
    assert bad.exit_code == 3 and "quiet_hours.start" in bad.output and "HH:MM" in bad.output
    zone = run("alice", "notify", "prefs", "set", "--quiet-hours", "22:00-06:00", "--timezone", "X")
    assert zone.exit_code == 3 and "unknown time zone" in zone.output


def test_digest_command(run: Callable[..., Any]) -> None:
    out = run("alice", "notify", "digest", "--json")
    assert out.exit_code == 0 and json.loads(out.output)["digests"] == 0
