"""Opt-outs reviewed at approval, in process: in a protected environment each opt-out on a
request is the approver's to accept with a written reason (the core's
``lifecycle.approvals.required_overrides``). The request page's approve form shows each one (the
rule, who opted out, their justification) with a reason field and sends it as an override, as
``tfpilot approve --override RULE=REASON`` does; Slack's approval message asks for the same
reasons and its Approve click carries them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tfpilot_core.interfaces import Delivery
from tfpilot_core.models import RunKind
from tfpilot_core.notifications.render import build_message, render_slack
from tfpilot_core.platform import Platform

from .test_pages import HTML, csrf_of, log_in

RULE = "encryption.enabled"
WHY = "Public build artefacts, nothing secret: approved by security (SEC-42)."
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
URL = "/integrations/slack/interactivity"


@pytest.fixture
def policy(platform: Platform, register_plugin: Callable[..., str]) -> Platform:
    """The platform with the built-in policy engine (its rules are what opt-outs name)."""
    from tfpilot_policy_builtin import plugin as builtin_plugin

    register_plugin(builtin_plugin, name="policy_builtin")
    return platform


def _planned(platform: Platform, environment: str = "prod") -> tuple[str, str]:
    created = platform.create(
        "dev",
        module="test/bucket",
        environment=environment,
        project="shop",
        inputs={"name": "b1"},
        opt_outs=[{"rule_id": RULE, "justification": WHY}],
    )
    planned = platform.plan("dev", created.id)
    plan = planned.latest(RunKind.PLAN)
    assert plan is not None and plan.plan_digest
    return created.id, plan.plan_digest


def test_the_approve_form_asks_to_accept_each_opt_out_with_a_reason(
    client: Any, policy: Platform, tokens: dict[str, str]
) -> None:
    request_id, digest = _planned(policy)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="opt-outs-to-accept"' in page
    assert f"<code>{RULE}</code> by dev" in page and "SEC-42" in page
    form = {"csrf_token": csrf_of(page), "plan_digest": digest, "comment": "ok"}
    refused = client.post(f"/requests/{request_id}/approve", data=form, headers=HTML)
    assert refused.status_code == 409
    assert "each opt-out needs the approver" in refused.text and RULE in refused.text
    assert policy.get(request_id).approvals == []
    form["accept.0"] = "Checked with security: public artefacts only."
    done = client.post(
        f"/requests/{request_id}/approve", data=form, headers=HTML, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    [approval] = policy.get(request_id).approvals
    assert [(o.rule_id, o.reason, o.actor) for o in approval.overrides] == [
        (RULE, "Checked with security: public artefacts only.", "appr")
    ]


def test_an_unprotected_environment_asks_for_nothing(
    client: Any, policy: Platform, tokens: dict[str, str]
) -> None:
    request_id, digest = _planned(policy, "dev")
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="opt-outs-to-accept"' not in page
    form = {"csrf_token": csrf_of(page), "plan_digest": digest}
    done = client.post(
        f"/requests/{request_id}/approve", data=form, headers=HTML, follow_redirects=False
    )
    assert done.status_code == 303, done.text


def _slack_message(platform: Platform, request_id: str) -> dict[str, Any]:
    [event] = [e for e in platform.timeline("admin", request_id) if e.type == "approval_required"]
    delivery = Delivery(
        id="d1", event=event, request=platform.get(request_id), channel="slack", recipient="#ops"
    )
    return render_slack(build_message(delivery))


def _click(request_id: str, digest: str, reason: str | None) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U_APPR"},
        "actions": [
            {
                "action_id": "approve",
                "value": json.dumps({"request_id": request_id, "plan_digest": digest}),
            }
        ],
    }
    if reason is not None:
        payload["state"] = {"values": {f"override:{RULE}": {"reason": {"value": reason}}}}
    return urlencode({"payload": json.dumps(payload)}).encode()


def _post(client: Any, body: bytes) -> Any:
    from tfpilot_web.slack import signature

    stamp = str(int(time.time()))
    return client.post(
        URL,
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature(SECRET, stamp, body),
        },
    )


def test_slack_asks_to_accept_the_opt_out_and_its_click_carries_the_reason(
    policy: Platform, register_plugin: Callable[..., str]
) -> None:
    import tfpilot_web.plugin
    from tfpilot_web import create_app

    register_plugin(tfpilot_web.plugin, name="web")
    policy.config.plugins["web"] = {
        "slack_signing_secret": SECRET,
        "slack_users": {"U_APPR": "appr"},
    }
    request_id, digest = _planned(policy)
    message = _slack_message(policy, request_id)
    [prompt] = [b for b in message["blocks"] if b.get("block_id") == f"override:{RULE}"]
    assert prompt["label"]["text"] == f"Reason to accept the opt-out of {RULE}"
    shown = json.dumps(message["blocks"])
    assert f"opt-out {RULE} by dev" in shown and "SEC-42" in shown
    with TestClient(create_app(policy)) as client:
        refused = _post(client, _click(request_id, digest, None))
        assert not refused.json()["ok"] and RULE in refused.json()["text"], refused.text
        assert "each opt-out needs the approver" in refused.json()["text"]
        assert policy.get(request_id).approvals == []
        done = _post(client, _click(request_id, digest, "Public artefacts, checked."))
        assert done.json()["ok"], done.text
    [approval] = policy.get(request_id).approvals
    assert [(o.rule_id, o.reason) for o in approval.overrides] == [
        (RULE, "Public artefacts, checked.")
    ]
