"""Slack interactivity: signed, wrongly signed, stale and replayed payloads; user mapping; the
approval bound to the digest in the message, through the core (four eyes included)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpilot_core.platform import Platform
from tfpilot_web import create_app
from tfpilot_web.slack import signature, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
URL = "/integrations/slack/interactivity"


@pytest.fixture
def slack_client(platform: Platform, register_plugin: Any) -> Any:
    import tfpilot_web.plugin

    register_plugin(tfpilot_web.plugin, name="web")
    platform.config.plugins["web"] = {
        "slack_signing_secret": SECRET,
        "slack_users": {"U_APPR": "appr", "U_VIEW": "viv"},
    }
    with TestClient(create_app(platform)) as client:
        yield client


def _payload(
    request_id: str,
    digest: str,
    user: str = "U_APPR",
    action: str = "approve",
    reason: str | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [
            {
                "action_id": action,
                "value": json.dumps({"request_id": request_id, "plan_digest": digest}),
            }
        ],
    }
    if reason is not None:
        payload["state"] = {"values": {"reject_reason": {"reason": {"value": reason}}}}
    return urlencode({"payload": json.dumps(payload)}).encode()


def _post(client: Any, body: bytes, *, secret: str = SECRET, ts: int | None = None) -> Any:
    stamp = str(int(time.time()) if ts is None else ts)
    return client.post(
        URL,
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(secret, stamp, body),
        },
    )


def _planned(platform: Platform) -> tuple[str, str]:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "s"}
    )
    planned = platform.plan("dev", request.id)
    plan = planned.attempts(next(iter(planned.runs)))[-1]
    assert plan.plan_digest
    return request.id, plan.plan_digest


def test_a_signed_click_approves_by_the_digest(slack_client: Any, platform: Platform) -> None:
    request_id, digest = _planned(platform)
    response = _post(slack_client, _payload(request_id, digest[:12]))
    assert response.status_code == 200 and response.json()["ok"], response.text
    [approval] = platform.get(request_id).approvals
    assert approval.actor == "appr" and approval.plan_digest == digest


def test_wrong_signature_and_stale_timestamp_are_refused(
    slack_client: Any, platform: Platform
) -> None:
    request_id, digest = _planned(platform)
    body = _payload(request_id, digest)
    assert _post(slack_client, body, secret="not-the-secret").status_code == 401
    assert _post(slack_client, body, ts=int(time.time()) - 301).status_code == 401
    unsigned = slack_client.post(URL, content=body)
    assert unsigned.status_code == 401
    assert platform.get(request_id).approvals == []


def test_a_replayed_request_is_refused(slack_client: Any, platform: Platform) -> None:
    request_id, digest = _planned(platform)
    body = _payload(request_id, digest, action="reject")
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature(SECRET, stamp, body),
    }
    first = slack_client.post(URL, content=body, headers=headers)
    # Reject without a typed reason: nothing recorded, the clicker is asked for one.
    assert first.status_code == 200 and not first.json()["ok"]
    assert "type the reason" in first.json()["text"]
    assert slack_client.post(URL, content=body, headers=headers).status_code == 409


def test_the_core_decides_who_may_approve(slack_client: Any, platform: Platform) -> None:
    request_id, digest = _planned(platform)
    viewer = _post(slack_client, _payload(request_id, digest, user="U_VIEW"))
    assert viewer.status_code == 200 and not viewer.json()["ok"]
    assert "may not approve" in viewer.json()["text"]
    unmapped = _post(slack_client, _payload(request_id, digest, user="U_NOBODY"))
    assert not unmapped.json()["ok"] and "not mapped" in unmapped.json()["text"]
    stale = _post(slack_client, _payload(request_id, "f" * 64))
    assert not stale.json()["ok"] and "not the current plan" in stale.json()["text"]
    assert platform.get(request_id).approvals == []


def test_not_mounted_without_a_signing_secret(client: Any) -> None:
    assert client.post(URL, content=b"payload=x").status_code == 404


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), ts=st.integers(0, 2**40), forged=st.text(max_size=80))
def test_only_the_right_signature_verifies(body: bytes, ts: int, forged: str) -> None:
    now = float(ts)
    good = signature(SECRET, str(ts), body)
    assert verify(SECRET, str(ts), good, body, now=now) is None
    if forged != good:
        assert verify(SECRET, str(ts), forged, body, now=now) is not None
    assert verify(SECRET, str(ts), good, body + b"x", now=now) is not None
    assert verify(SECRET, str(ts), good, body, now=now + 301) is not None


def test_four_eyes_applies_to_slack_approvals(slack_client: Any, platform: Platform) -> None:
    # appr asks for a prod bucket, then clicks Approve on it in Slack: refused by the core.
    request = platform.create(
        "appr", module="test/bucket", environment="prod", project="shop", inputs={"name": "p"}
    )
    planned = platform.plan("appr", request.id)
    digest = planned.attempts(next(iter(planned.runs)))[-1].plan_digest
    assert digest
    answer = _post(slack_client, _payload(request.id, digest))
    assert not answer.json()["ok"] and "four eyes" in answer.json()["text"]
    assert platform.get(request.id).approvals == []


def test_reject_and_request_changes_with_the_typed_reason(
    slack_client: Any, platform: Platform
) -> None:
    request_id, digest = _planned(platform)
    viewer = _post(slack_client, _payload(request_id, digest, "U_VIEW", "reject", "no"))
    assert not viewer.json()["ok"] and platform.get(request_id).rejections == []
    stale = _post(slack_client, _payload(request_id, "0" * 64, action="reject", reason="no"))
    assert not stale.json()["ok"] and digest[:12] in stale.json()["text"]
    asked = _post(
        slack_client, _payload(request_id, digest, action="request_changes", reason="add tags")
    )
    assert asked.json()["ok"], asked.text
    assert "appr asked for changes to" in asked.json()["text"]
    [rejection] = platform.get(request_id).rejections
    assert (rejection.actor, rejection.reason, rejection.request_changes) == (
        "appr",
        "add tags",
        True,
    )
    assert platform.status(platform.get(request_id)).value == "changes_requested"
