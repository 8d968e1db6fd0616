"""Hypothesis: preference documents from outside, and hostile strings in every renderer."""

from __future__ import annotations

import html.parser
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tfpilot_core.interfaces import Delivery
from tfpilot_core.models import Event, Placement, PlanSummary, PolicyFinding, PolicyLevel, Request
from tfpilot_core.notifications.preferences import QuietHours, parse
from tfpilot_core.notifications.render import (
    SLACK_BLOCKS_MAX,
    SLACK_SECTION_MAX,
    build_message,
    render_html,
    render_slack,
    render_text,
)

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "<!channel>",
            "<!here|here>",
            "<@U0123>",
            "<#C0123>",
            "<https://evil.example|Click>",
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "&amp; &lt;",
            "*bold* _it_ ~s~ `code` ```block```",
            "\r\nBcc: victim@example.com",
        ]
    ),
    st.text(max_size=300),
)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
PREF_KEYS = ["channels", "events", "environments", "mute", "quiet_hours", "drift_digest", "x"]


@given(
    st.dictionaries(st.sampled_from(PREF_KEYS), JSONISH, max_size=6)
    | st.fixed_dictionaries(
        {
            "channels": st.dictionaries(
                st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                st.none() | st.text(max_size=40),
                max_size=3,
            ),
            "events": st.none() | st.lists(st.text(max_size=20), max_size=3),
            "quiet_hours": st.none()
            | st.fixed_dictionaries(
                {
                    "start": st.from_regex(r"[0-2][0-9]:[0-5][0-9]", fullmatch=True),
                    "end": st.from_regex(r"[0-2][0-9]:[0-5][0-9]", fullmatch=True),
                    "timezone": st.sampled_from(["UTC", "Europe/Paris", "Mars/Base", ""]),
                }
            ),
        }
    )
)
def test_a_preferences_document_is_valid_or_refused_clearly(raw: dict[str, Any]) -> None:
    try:
        prefs = parse(raw)
    except ValidationError as exc:
        assert exc.errors()  # refused with named fields, never a crash of another kind
        return
    # What is accepted round-trips through the store unchanged, and answers sensibly.
    assert parse(prefs.model_dump(mode="json")) == prefs
    for address in prefs.channels.values():
        assert address is None or not re.search(r"\s", address)
    prefs.wants("apply_failed", "dev")


@given(
    start=st.from_regex(r"([01][0-9]|2[0-3]):[0-5][0-9]", fullmatch=True),
    end=st.from_regex(r"([01][0-9]|2[0-3]):[0-5][0-9]", fullmatch=True),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
    minutes=st.integers(0, 60 * 24 * 400),
)
def test_quiet_hours_release_after_now_and_outside_the_window(
    start: str, end: str, zone: str, minutes: int
) -> None:
    if start == end:
        with pytest.raises(ValidationError):
            QuietHours(start=start, end=end, timezone=zone)
        return
    quiet = QuietHours(start=start, end=end, timezone=zone)
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    released = quiet.release_at(now)
    if released is not None:
        assert now < released <= now + timedelta(hours=25)
        assert quiet.release_at(released) is None


def _delivery(texts: list[str]) -> Delivery:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    joined = " ".join(texts)
    request = Request(
        id="req_dev_bucket_abc123",
        placement=Placement(
            project="shop", environment="dev", module="sandbox/bucket", module_version="v"
        ),
        inputs={"name": "x"},
        created_by="alice",
        created_at=now,
        updated_at=now,
        summary=PlanSummary(text=joined, markdown=joined),
        policy_findings=[
            PolicyFinding(rule_id="r", level=PolicyLevel.BLOCKING, message=t, address=t)
            for t in texts
        ],
    )
    event = Event(
        request_id=request.id,
        type="policy_blocked",
        actor="alice",
        data={"error": joined, "addresses": texts},
    )
    return Delivery(
        id="dlv_x", event=event, request=request, channel="c", recipient="#c", runbook_url=None
    )


def _mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    found = [payload["text"]]
    for block in payload["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            found.append(block["text"]["text"])
        found += [f["text"] for f in block.get("fields", [])]
        found += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return found


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += [name for name, _ in attrs]


@given(st.lists(HOSTILE, min_size=1, max_size=8))
def test_hostile_strings_are_escaped_for_each_channel(texts: list[str]) -> None:
    message = build_message(_delivery(texts))
    slack = render_slack(message)
    assert len(slack["blocks"]) <= SLACK_BLOCKS_MAX
    for text in _mrkdwn_texts(slack):
        # Only escaped forms: no mention, link or channel markup can come from user text.
        assert "<" not in text and ">" not in text
        assert len(text) <= SLACK_SECTION_MAX
    parser = _Tags()
    parser.feed(render_html(message))
    allowed = {"html", "head", "meta", "body", "h2", "h3", "table", "tr", "th", "td", "pre"}
    allowed |= {"p", "ul", "li", "a", "small", "code"}
    assert parser.tags <= allowed
    assert set(parser.attrs) <= {"charset", "align", "href"}
    assert "\r" not in message.headline() and "\n" not in message.headline()
    render_text(message)
