"""The Slack notifier with the real slack-sdk against a stand-in that checks like Slack."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.interfaces import Delivery
from tfpilot_core.notifications import DeliveryDeferred, DeliveryRejected
from tfpilot_core.notifications.render import CUT
from tfpilot_core.plugins import load_plugins
from tfpilot_notify_slack.notifier import SlackNotifier
from tfpilot_notify_slack.settings import SlackSettings
from tfpilot_notify_slack.testing import SlackStandIn

HOSTILE = ["<!channel>", "<!here>", "<@U0BADBAD>", "<https://evil.example|click me>", "a & b > c"]


def notifier(slack: SlackStandIn, **extra: Any) -> SlackNotifier:
    settings: dict[str, Any] = {
        "token": slack.token,
        "base_url": slack.base_url,
        "timeout": 2,
        "max_retries": 2,
        "webhooks": {"webhook:ops": slack.webhook_url("ops")},
    }
    settings.update(extra)
    return SlackNotifier(SlackSettings.model_validate(settings))


def all_text(blocks: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(blocks, ensure_ascii=False)


def test_registered_lazily_and_shown_by_plugins() -> None:
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "notify_slack"})
    info = loaded.infos["notify_slack"]
    assert info.status == "loaded" and info.hooks == ["tfpilot_register_notifiers"]


def test_settings_need_a_token_or_a_webhook() -> None:
    with pytest.raises(ValueError, match="set token, webhook_url or webhooks"):
        SlackSettings.model_validate({})


def test_block_kit_message_with_fields_and_buttons(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    delivery = make_delivery(data={"error": "Error: bucket name taken"})
    notifier(slack).deliver(delivery)
    [posted] = slack.messages
    assert posted.channel == "#prod-changes"
    assert posted.metadata == {
        "event_type": "tfpilot_notification",
        "event_payload": {
            "delivery": "dlv_test_1",
            "request": "req_dev_bucket_abc123",
            "event": "plan_failed",
        },
    }
    types = [b["type"] for b in posted.blocks]
    assert types[0] == "header" and "actions" in types
    header = posted.blocks[0]["text"]["text"]
    assert "Plan failed" in header and "req_dev_bucket_abc123" in header
    fields = [f["text"] for f in posted.blocks[1]["fields"]]
    assert fields == [
        "*Request*\nreq_dev_bucket_abc123",
        "*Module*\nsandbox/bucket",
        "*Environment*\ndev",
        "*Project*\nshop",
        "*By*\nalice",
    ]
    buttons = {e["text"]["text"]: e["url"] for e in posted.blocks[-1]["elements"]}
    assert buttons == {
        "Run": "https://ci.example/run/1",
        "Runbook": "https://runbooks.example/plan_failed",
    }
    assert "bucket name taken" in all_text(posted.blocks)
    assert "Plan failed" in posted.text  # the notification text fallback
    assert slack.pings == []


def test_direct_message_to_a_user_id(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    notifier(slack).deliver(make_delivery(recipient="U0ALICE1"))
    assert [m.channel for m in slack.messages] == ["U0ALICE1"]


def test_incoming_webhook(slack: SlackStandIn, make_delivery: Callable[..., Delivery]) -> None:
    only_webhook = notifier(slack, token=None, webhook_url=slack.webhook_url("ops"))
    assert only_webhook.user_address is None  # no DMs without a bot token
    only_webhook.deliver(make_delivery(recipient="#anything"))
    [posted] = slack.messages
    assert posted.via == "webhook" and posted.blocks[0]["type"] == "header"


def test_limits_are_kept_and_cut_text_is_marked(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    findings = [
        {"level": "advisory", "rule_id": f"r{i}", "message": "x" * 400, "address": f"a.{i}"}
        for i in range(400)
    ]
    delivery = make_delivery(
        "policy_blocked",
        data={"findings": findings, "error": "E" * 10_000},
        summary="S" * 9000,
    )
    notifier(slack).deliver(delivery)
    [posted] = slack.messages  # accepted: every limit held
    assert len(posted.blocks) <= 50
    text = all_text(posted.blocks)
    assert CUT in text
    assert posted.blocks[-2]["type"] == "context"  # "N more block(s) ... (cut)"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"token": "xoxb-wrong"}, "invalid_auth"),
        ({}, "channel_not_found"),
    ],
)
def test_errors_slack_refuses_for_good_are_not_retried(
    slack: SlackStandIn,
    make_delivery: Callable[..., Delivery],
    change: dict[str, Any],
    error: str,
) -> None:
    recipient = "#prod-changes" if change else "#nowhere"
    with pytest.raises(DeliveryRejected, match=error):
        notifier(slack, **change).deliver(make_delivery(recipient=recipient))
    assert slack.requests == 1  # no retry of a permanent error


def test_invalid_blocks_and_msg_too_long_are_reported(slack: SlackStandIn) -> None:
    assert slack.check({"text": "x", "blocks": [{"type": "bogus"}]}) == "invalid_blocks"
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert slack.check({"text": "x", "blocks": long_section}) == "invalid_blocks"
    assert slack.check({"text": "x" * 40_001}) == "msg_too_long"
    assert slack.check({"text": "x", "blocks": [{"type": "divider"}] * 51}) == "invalid_blocks"


def test_429_with_a_short_retry_after_is_waited_out(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    slack.retry_after = 1
    slack.fail("429", count=1)
    started = time.monotonic()
    notifier(slack).deliver(make_delivery())
    assert time.monotonic() - started >= 0.9  # honoured Retry-After
    assert len(slack.messages) == 1 and slack.requests == 2


def test_429_with_a_long_retry_after_goes_back_to_the_outbox(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    slack.retry_after = 120
    slack.fail("429", count=1)
    with pytest.raises(DeliveryDeferred) as raised:
        notifier(slack).deliver(make_delivery())
    assert raised.value.retry_after == 120
    assert slack.messages == []


def test_500_is_retried(slack: SlackStandIn, make_delivery: Callable[..., Delivery]) -> None:
    slack.fail("500", count=2)
    notifier(slack).deliver(make_delivery())
    assert len(slack.messages) == 1 and slack.requests == 3
    slack.fail("500")
    with pytest.raises(RuntimeError, match="server error 500"):
        notifier(slack).deliver(make_delivery())


def test_a_hanging_slack_times_out(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    slack.hang_seconds = 5
    slack.fail("hang")
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017  (a timeout, whichever class urllib raises)
        notifier(slack, timeout=1, max_retries=0).deliver(make_delivery())
    assert time.monotonic() - started < 4


def test_slack_down_is_a_transient_error(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery]
) -> None:
    slack.fail("down")
    with pytest.raises(Exception) as raised:
        notifier(slack, max_retries=0).deliver(make_delivery())
    assert not isinstance(raised.value, DeliveryRejected)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hostile=st.lists(
        st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=200)),
        min_size=1,
        max_size=6,
    )
)
def test_hostile_event_strings_never_ping_nor_break_blocks(
    slack: SlackStandIn, make_delivery: Callable[..., Delivery], hostile: list[str]
) -> None:
    slack.messages.clear()
    slack.pings.clear()
    text = " ".join(hostile)
    delivery = make_delivery(
        "drift_detected",
        data={"addresses": hostile, "paths": {hostile[0]: hostile}, "error": text},
    )
    notifier(slack).deliver(delivery)
    assert len(slack.messages) == 1, slack.rejected
    assert slack.pings == []
    body = all_text(slack.messages[0].blocks) + slack.messages[0].text
    for raw in ("<!channel>", "<!here>", "<@U0BADBAD>"):
        assert raw not in body
