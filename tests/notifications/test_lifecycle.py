"""The whole lifecycle with real Terraform on the sandbox, real Slack and email plugins.

Slack is the stand-in server of ``tfpilot_notify_slack.testing`` (checks like Slack), email is
aiosmtpd on 127.0.0.1. Shows: the expected messages reach the expected people only, on each
channel; an outage during several events ends with every notification delivered exactly once;
the apply is never held up beyond the budget; a planted sensitive value is in no message.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.notifications.settings import DEFAULT_EVENTS
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
slack_testing = pytest.importorskip("tfpilot_notify_slack.testing")
pytest.importorskip("tfpilot_notify_email")

SECRET = "pl4nted-Secret-Value-93"
PLAIN_MODULE = {
    "variables.tf": """
variable "name" {
  type = string
  validation {
    condition     = !startswith(var.name, "fail")
    error_message = "Names starting with fail are refused by this module."
  }
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
""",
    "main.tf": """
resource "terraform_data" "this" {
  input = {
    name       = var.name
    connection = var.password == null ? "none" : "user:${var.password}@db"
  }
}
""",
    "tfpilot.module.toml": """
description = "A plain value (no provider)"
category = "test"
risk = "low"
name_input = "name"
[inputs.password]
sensitive = true
""",
}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        assert envelope.rcpt_tos == [message["To"]]  # one message per recipient
        self.messages.append(message)
        return "250 OK"


class Smtp:
    """aiosmtpd on a fixed free port, which can go down and come back on the same port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.controller: Any = None

    def start(self) -> None:
        self.controller = aiosmtpd_controller.Controller(
            self.inbox, hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def slack() -> Iterator[Any]:
    with slack_testing.SlackStandIn(channels={"#dev", "#prod-changes"}) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: Any, smtp: Smtp
) -> Callable[..., Platform]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    modules = tmp_path / "modules" / "test" / "plain"
    modules.mkdir(parents=True)
    for name, text in PLAIN_MODULE.items():
        (modules / name).write_text(text)

    def build(notifications: str = "", name: str = "a") -> Platform:
        where = home / name
        where.mkdir()
        config = where / "tfpilot.toml"
        config.write_text(
            f"""
[users.alice]
role = "developer"
email = "alice@example.com"
slack = "U0ALICE"
[users.bob]
role = "approver"
email = "bob@example.com"
slack = "U0BOB"
[users.carol]
role = "admin"
email = "carol@example.com"
[users.mallory]
email = "mallory@example.com"
slack = "U0MALLORY"
grants = [{{ role = "approver", projects = ["other"] }}]
[users.erin]
role = "viewer"
email = "erin@example.com"

[plugins.runner_local]
timeout_seconds = 300
[plugins.modules_dir]
paths = ["{tmp_path / "modules"}"]
[plugins.notify_slack]
token = "{slack.token}"
base_url = "{slack.base_url}"
timeout = 2
max_retries = 0
[plugins.notify_email]
host = "127.0.0.1"
port = {smtp.port}
from_address = "tfpilot@example.com"
starttls = "off"
timeout = 2

[notifications]
budget_seconds = 1
backoff_seconds = 0.05
backoff_max_seconds = 0.1
{notifications}
[[notifications.channels]]
notifier = "slack"
recipient = "#dev"
environments = ["dev"]
[[notifications.channels]]
notifier = "slack"
recipient = "#prod-changes"
environments = ["prod"]
[notifications.runbooks]
plan_failed = "https://wiki.example/runbooks/plan?module={{module}}&r={{request}}"
"""
        )
        environ = {"TFPILOT_HOME": str(where), "TFPILOT_CONFIG": str(config)}
        return Platform.from_config(environ=environ)

    return build


def bucket_lifecycle(platform: Platform) -> str:
    from tfpilot_sandbox.objects import ObjectStore

    [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
    objects = ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"]))
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    objects.update("sandbox_bucket", request.inputs["name"], {"public_access": True})
    platform.check_drift("alice", request.id)
    platform.destroy("carol", request.id, yes=True)
    return str(request.id)


def expected(platform: Platform, request_id: str) -> tuple[Counter[Any], Counter[Any]]:
    """Who should hear what, from the rules: authors always, approvers on approvals, #dev."""
    slack: Counter[Any] = Counter()
    mail: Counter[Any] = Counter()
    for event in platform.store.list_events(request_id):
        if event.type not in DEFAULT_EVENTS:
            continue
        slack.update((to, event.type) for to in ("U0ALICE", "#dev"))
        mail[("alice@example.com", event.type)] += 1
        if event.type == "approval_required":
            slack[("U0BOB", event.type)] += 1
            mail.update((to, event.type) for to in ("bob@example.com", "carol@example.com"))
    return slack, mail


def received(slack: Any, smtp: Smtp) -> tuple[Counter[Any], Counter[Any]]:
    got_slack = Counter((m.channel, m.metadata["event_payload"]["event"]) for m in slack.messages)
    got_mail = Counter((m["To"], m["X-Tfpilot-Event"]) for m in smtp.inbox.messages)
    return got_slack, got_mail


def test_lifecycle_tells_the_expected_people_only(
    make_platform: Callable[..., Platform], slack: Any, smtp: Smtp
) -> None:
    platform = make_platform()
    request_id = bucket_lifecycle(platform)
    platform.notifications.wait(10)
    want_slack, want_mail = expected(platform, request_id)
    got_slack, got_mail = received(slack, smtp)
    assert got_slack == want_slack and got_mail == want_mail
    assert {"drift_detected", "apply_succeeded", "destroy_succeeded"} <= {t for _, t in got_mail}
    assert not [m for m in slack.messages if m.channel in ("U0MALLORY", "#prod-changes")]
    nobody = ("mallory@example.com", "erin@example.com")
    assert not [m for m in smtp.inbox.messages if m["To"] in nobody]
    assert slack.pings == [] and slack.rejected == []
    assert {r["state"] for r in platform.notifications.list()} == {"delivered"}


def test_outage_then_every_notification_exactly_once_and_apply_not_held(
    make_platform: Callable[..., Platform], slack: Any, smtp: Smtp
) -> None:
    platform = make_platform()
    slack.fail("down")
    smtp.stop()
    request_id = bucket_lifecycle(platform)
    platform.notifications.wait(10)
    assert slack.messages == [] and smtp.inbox.messages == []
    waiting = platform.notifications.list(states=["pending", "sending"])
    assert waiting and all(r["last_error"] for r in waiting)
    slack.fail(None)  # back, on the same port
    smtp.start()
    for _ in range(100):
        time.sleep(0.1)
        platform.notifications.deliver_due()
        if not platform.notifications.list(states=["pending", "sending"]):
            break
    records = platform.notifications.list()
    assert {r["state"] for r in records} == {"delivered"}
    slack_ids = [m.metadata["event_payload"]["delivery"] for m in slack.messages]
    mail_ids = [m["Message-ID"] for m in smtp.inbox.messages]
    assert len(slack_ids) == len(set(slack_ids)) == sum(r["channel"] == "slack" for r in records)
    assert len(mail_ids) == len(set(mail_ids)) == sum(r["channel"] == "email" for r in records)
    assert received(slack, smtp) == expected(platform, request_id)


def _timed_apply(platform: Platform) -> float:
    request = platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "t"}
    )
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    started = time.perf_counter()
    platform.apply("bob", request.id)
    return time.perf_counter() - started


def test_a_hanging_slack_holds_the_apply_no_longer_than_the_budget(
    make_platform: Callable[..., Platform], slack: Any
) -> None:
    off = make_platform("enabled = false", name="off")
    hanging = make_platform(name="hanging")
    _timed_apply(off)  # warm Terraform's plugin cache and the catalog
    baseline = min(_timed_apply(off) for _ in range(2))
    slack.hang_seconds = 10
    slack.fail("hang")
    with_notifications = _timed_apply(hanging)
    budget = hanging.config.notifications.budget_seconds
    assert with_notifications <= baseline + budget + 1.0, (with_notifications, baseline)


def test_a_planted_secret_is_in_no_message(
    make_platform: Callable[..., Platform], slack: Any, smtp: Smtp
) -> None:
    platform = make_platform()
    request = platform.create(
        "alice",
        module="test/plain",
        environment="dev",
        project="shop",
        inputs={"name": "db", "password": SECRET},
    )
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    failing = platform.create(
        "alice",
        module="test/plain",
        environment="dev",
        project="shop",
        inputs={"name": "fail-db", "password": SECRET},
    )
    with pytest.raises(Exception, match="refused by this module"):
        platform.plan("alice", failing.id)
    platform.notifications.wait(10)
    failed = [m for m in smtp.inbox.messages if m["X-Tfpilot-Event"] == "plan_failed"]
    assert failed, "the failure was notified"
    text = failed[0].get_body(("plain",)).get_content()
    assert "https://wiki.example/runbooks/plan?module=test%2Fplain&r=" in text
    assert smtp.inbox.messages and slack.messages
    for message in smtp.inbox.messages:
        assert SECRET not in message.as_string()
    for posted in slack.messages:
        assert SECRET not in json.dumps([posted.text, posted.blocks, posted.metadata])
    outbox = json.dumps(platform.notifications.list())
    assert SECRET not in outbox


def test_a_failed_run_is_explained_in_slack_and_email(
    make_platform: Callable[..., Platform], slack: Any, smtp: Smtp
) -> None:
    """Issue 28: the failure notification says why the run failed and what to do (through
    ``render_failure``), before the raw error, with the configured runbook as its link."""
    platform = make_platform()
    failing = platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "fail-x"}
    )
    with pytest.raises(Exception, match="refused by this module"):
        platform.plan("alice", failing.id)
    platform.notifications.wait(10)
    title = "The configuration or an input is invalid (validation)"
    [mail] = [
        m
        for m in smtp.inbox.messages
        if m["X-Tfpilot-Event"] == "plan_failed" and m["To"] == "alice@example.com"
    ]
    text = mail.get_body(("plain",)).get_content()
    assert title in text and "Fix the input and update the request" in text
    assert text.index(title) < text.index("plan of " + failing.id + " failed")
    assert "Explained by tfpilot's rules." in text
    assert "https://wiki.example/runbooks/plan?module=test%2Fplain&r=" in text
    posted = [m for m in slack.messages if m.metadata["event_payload"]["event"] == "plan_failed"]
    assert {m.channel for m in posted} == {"U0ALICE", "#dev"}
    for message in posted:
        assert title in json.dumps(message.blocks)
