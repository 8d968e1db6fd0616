"""Approve or reject from Slack, end to end: tfpilot's own ``approval_required`` Slack message
(the notify_slack plugin, posted to the local Slack stand-in) carries Approve, Reject and Request
changes buttons bound to the plan digest, a reason input for each mandatory finding and one for a
rejection; a click (a block_actions payload signed with the signing secret, as Slack sends it)
approves (or rejects) exactly that plan with the written reasons, and the message is updated in
place through the click's ``response_url``.

Real Terraform plans the sandbox bucket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

SECRET = "s" * 40

CONFIG = """
[users.alice]
role = "developer"
slack = "U0ALICE"
[users.bob]
role = "approver"
slack = "U0BOB"
[plugins.runner_local]
timeout_seconds = 300
[plugins.notify_slack]
token = "xoxb-test-token"
base_url = "{slack}"
[plugins.web]
slack_signing_secret = "{secret}"
slack_users = {{ U0BOB = "bob", U0ALICE = "alice" }}
slack_response_url_prefix = "{slack_root}"
[plugins.policy_builtin]
required_tags = ["owner"]
"""

pytestmark = pytest.mark.slow


@pytest.fixture
def slack() -> Iterator[Any]:
    from tfpilot_notify_slack.testing import SlackStandIn

    with SlackStandIn(channels={"U0ALICE", "U0BOB"}) as stand_in:
        yield stand_in


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: Any) -> Any:
    from tfpilot_core.platform import Platform

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    config = home / "tfpilot.toml"
    root = slack.base_url.removesuffix("api/")
    config.write_text(
        CONFIG.format(slack=slack.base_url, secret=SECRET, slack_root=root + "actions/")
    )
    return Platform.from_config(environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)})


def click(
    client: Any,
    message: Any,
    user: str,
    reasons: dict[str, str],
    url: str,
    action: str = "approve",
) -> Any:
    """POST what Slack posts when ``user`` clicks the message's ``action`` button, with what
    they typed into its inputs (``reasons``: block id -> text)."""
    from tfpilot_web.slack import signature

    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e.get("action_id") == action]
    values = {
        b["block_id"]: {"reason": {"type": "plain_text_input", "value": reasons.get(b["block_id"])}}
        for b in message.blocks
        if b["type"] == "input"
    }
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": action, "block_id": "tfpilot", "value": button["value"]}],
        "state": {"values": values},
        "response_url": url,
        "message": {"text": message.text, "blocks": message.blocks},
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    return client.post(
        "/integrations/slack/interactivity",
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature(SECRET, ts, body),
        },
    )


def test_approve_from_the_slack_message_and_see_it_updated(platform: Any, slack: Any) -> None:
    from fastapi.testclient import TestClient

    from tfpilot_core.lifecycle import RequestStatus
    from tfpilot_web import create_app

    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "sl"}
    )
    platform.plan("alice", request.id)
    planned = platform.get(request.id)
    mandatory = {f.rule_id for f in planned.policy_findings if f.level.value == "mandatory"}
    assert mandatory == {"tags.required"}, planned.policy_findings
    [message] = [m for m in slack.messages if m.channel == "U0BOB"]
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e.get("action_id") == "approve"]
    from tfpilot_web import core

    digest = core.current_plan_digest(planned)
    assert json.loads(button["value"]) == {"request_id": request.id, "plan_digest": digest}
    assert [b["block_id"] for b in message.blocks if b["type"] == "input"] == [
        "override:tags.required",
        "reject_reason",
    ]

    with TestClient(create_app(platform)) as client:
        # Without the reason the core refuses: answered to the clicker, the message stays.
        refused = click(client, message, "U0BOB", {}, slack.response_url())
        assert refused.status_code == 200 and not refused.json()["ok"]
        assert "override" in refused.json()["text"] and slack.updates == []
        # The author cannot approve their own request (four eyes), even from Slack.
        own = click(
            client, message, "U0ALICE", {"override:tags.required": "ok"}, slack.response_url()
        )
        assert not own.json()["ok"] and slack.updates == []
        done = click(
            client,
            message,
            "U0BOB",
            {"override:tags.required": "owner tag added next sprint"},
            slack.response_url(),
        )
        assert done.status_code == 200 and done.json()["ok"], done.text
    approved = platform.get(request.id)
    assert platform.status(approved) is RequestStatus.APPROVED
    assert any(
        o.reason == "owner tag added next sprint" and o.actor == "bob"
        for a in approved.approvals
        for o in a.overrides
    )
    [update] = slack.updates
    assert update["replace_original"] is True
    kinds = [b["type"] for b in update["blocks"]]
    assert "actions" not in kinds and "input" not in kinds
    assert f"bob approved {request.id}" in json.dumps(update["blocks"])
    # A response_url elsewhere than Slack's is not called.
    assert update["path"].startswith("/actions/")


def test_reject_from_the_slack_message_with_a_reason(platform: Any, slack: Any) -> None:
    from fastapi.testclient import TestClient

    from tfpilot_core.lifecycle import RequestStatus
    from tfpilot_web import create_app

    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "rj"}
    )
    platform.plan("alice", request.id)
    [message] = [m for m in slack.messages if m.channel == "U0BOB"]
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    assert [e.get("action_id") for e in actions["elements"]][:3] == [
        "approve",
        "reject",
        "request_changes",
    ]
    with TestClient(create_app(platform)) as client:
        # No reason typed: nothing is recorded, the clicker is asked for one.
        bare = click(client, message, "U0BOB", {}, slack.response_url(), action="reject")
        assert bare.status_code == 200 and not bare.json()["ok"]
        assert "type the reason" in bare.json()["text"] and slack.updates == []
        assert platform.get(request.id).rejections == []
        # A developer may not reject (who may reject is who may approve).
        dev = click(
            client, message, "U0ALICE", {"reject_reason": "no"}, slack.response_url(), "reject"
        )
        assert not dev.json()["ok"] and slack.updates == []
        done = click(
            client,
            message,
            "U0BOB",
            {"reject_reason": "the bucket needs an owner tag first"},
            slack.response_url(),
            action="reject",
        )
        assert done.status_code == 200 and done.json()["ok"], done.text
    rejected = platform.get(request.id)
    assert platform.status(rejected) is RequestStatus.REJECTED
    [rejection] = rejected.rejections
    assert (rejection.actor, rejection.reason) == ("bob", "the bucket needs an owner tag first")
    [update] = slack.updates
    kinds = [b["type"] for b in update["blocks"]]
    assert "actions" not in kinds and "input" not in kinds
    assert f"bob rejected {request.id}" in json.dumps(update["blocks"])
    # The author hears about it, with the reason (rejected is notified by default).
    told = [m for m in slack.messages if m.channel == "U0ALICE" and "rejected" in m.text.lower()]
    assert told and "owner tag first" in json.dumps(told[-1].blocks)
