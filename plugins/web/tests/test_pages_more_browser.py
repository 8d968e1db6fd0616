"""The second part of the UI in headless Chromium against a real uvicorn server, with real
Terraform (the sandbox provider) for the seeded history:

every new page reached from the navigation (axe-core: no serious or critical violation; a
screenshot each, on a phone too); the metrics page's chart numbers equal ``tfpilot metrics
--json`` on the same store; quiet hours set on the preferences page hold a notification (seen in
the admin's outbox, the Slack stand-in got nothing for that user); a request created through the
chat page with the offline assistant, and a question asked with its structured query shown.
Screenshots go to ``plugins/web/tests/artifacts/`` (``$TFPILOT_WEB_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .axe_support import check_page
from .browser_support import (
    BROWSER_MARKS,
    applied,
    audit,
    fresh_home,
    log_in,
    platform_and_tokens,
    serving,
    shot,
)

CONFIG = """
[users.root]
role = "admin"
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
"""

pytestmark = BROWSER_MARKS


@pytest.fixture
def slack() -> Iterator[Any]:
    from tfpilot_notify_slack.testing import SlackStandIn

    with SlackStandIn(channels={"U0ALICE", "U0BOB", "#dev"}) as stand_in:
        yield stand_in


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: Any) -> Iterator[dict[str, Any]]:
    """A real uvicorn server over a platform in a fresh home, and tokens for each user."""
    environ = fresh_home(tmp_path, CONFIG.format(slack=slack.base_url), monkeypatch)
    platform, tokens = platform_and_tokens(environ, ("root", "alice", "bob"))
    home = {**os.environ, **environ, "HOME": str(tmp_path / "home")}
    with serving(platform, tokens, environ=home) as served:
        yield served


def _seed(platform: Any) -> str:
    """One bucket planned with real Terraform, approved and applied; one more only created."""
    applied(platform, {"name": "m1"})
    waiting = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="web", inputs={"name": "m2"}
    )
    return str(waiting.id)


def _chart_values(page: Any, series: str) -> dict[str, float]:
    found = page.eval_on_selector_all(
        f'[data-series="{series}"]',
        "els => els.map(e => [e.dataset.label, parseFloat(e.dataset.value)])",
    )
    return {label: value for label, value in found}


def test_second_part_pages_in_a_browser(server: dict[str, Any], browser: Any, slack: Any) -> None:
    url, tokens, platform = server["url"], server["tokens"], server["platform"]
    waiting = _seed(platform)

    # -- every new page from the navigation, with axe and a screenshot ------------------------
    root = log_in(browser, url, tokens["root"])
    for name in ("Templates", "Metrics", "Chat", "Notifications", "Admin"):
        root.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
        root.wait_for_load_state()
        assert root.get_by_role("heading", level=1).first.is_visible()
        audit(root, name, f"more-{name.lower()}")

    # -- the metrics page draws what `tfpilot metrics --json` reports ----------------------------
    root.goto(f"{url}/metrics")
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "tfpilot"), "--as", "root", "metrics", "--json"],
        env=server["environ"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    report = json.loads(cli.stdout)["totals"]
    drawn = _chart_values(root, "status")
    assert drawn == {k: float(v) for k, v in report["requests"]["by_status"].items()}
    assert drawn.get("applied") == 1.0
    kpi = root.locator('[data-key="durations_seconds.apply.p95"]').inner_text()
    assert kpi.startswith(str(report["durations_seconds"]["apply"]["p95"])), kpi
    assert root.locator('[data-key="requests.created"]').inner_text() == str(
        report["requests"]["created"]
    )
    apply_points = _chart_values(root, "apply dev p95")
    assert list(apply_points.values())[-1] == report["durations_seconds"]["apply"]["p95"]
    shot(root, "more-metrics-seeded")

    # -- quiet hours set on the page hold bob's approval request -------------------------------
    bob = log_in(browser, url, tokens["bob"])
    bob.goto(f"{url}/notifications")
    now = datetime.now(UTC)
    bob.get_by_label("From (HH:MM)").fill((now - timedelta(hours=1)).strftime("%H:%M"))
    bob.get_by_label("Until (HH:MM)").fill((now + timedelta(hours=2)).strftime("%H:%M"))
    bob.get_by_role("button", name="Save preferences").click()
    assert bob.get_by_test_id("saved").is_visible()
    audit(bob, "preferences saved", "more-preferences")
    before = len([m for m in slack.messages if m.channel == "U0BOB"])
    platform.plan("alice", waiting)  # approval_required goes to bob: held, not sent
    root.goto(f"{url}/notifications/outbox?view=pending")
    row = root.locator("tr", has_text="approval_required").filter(has_text="bob")
    assert row.count() >= 1, root.content()[:3000]
    assert len([m for m in slack.messages if m.channel == "U0BOB"]) == before
    audit(root, "outbox", "more-outbox-held")

    # -- the catalog's search, and a request from a template with a locked field -------------
    from tfpilot_core.templates import Templates

    Templates(platform).create(
        "root",
        "logs-l2",
        module="sandbox/bucket",
        description="Log bucket in local-2",
        defaults={"region": "local-2"},
        locked=["region"],
    )
    alice = log_in(browser, url, tokens["alice"])
    alice.goto(f"{url}/catalog")
    alice.get_by_role("searchbox", name="Search").fill("sandbox bucket")
    alice.get_by_role("button", name="Search").click()
    alice.get_by_role("link", name="sandbox/bucket").click()
    check_page(alice, "module form")
    alice.get_by_label("Template", exact=True).select_option("logs-l2")
    alice.get_by_role("button", name="Use template").click()
    assert alice.locator("#f-region").is_disabled()
    assert alice.locator("#f-region").input_value() == "local-2"
    alice.get_by_label("Project").fill("shop")
    # The policy preview follows the typing (debounced): a bad name is shown under "name".
    alice.get_by_label("Bucket name").fill("Bad Name!")
    preview = alice.get_by_test_id("policy-preview")
    preview.locator("dt", has_text="name").wait_for()
    alice.get_by_label("Bucket name").fill("tmpl")
    alice.wait_for_function(
        "() => !document.querySelector('[data-testid=policy-preview]').innerText.includes('Bad')"
        " && !/^name$/m.test(document.querySelector('[data-testid=policy-preview]').innerText)"
    )
    # The suffix note is rendered with the page (no script): it names the input, not the value.
    assert "-xxxxxx" in alice.get_by_test_id("name-suffix").inner_text()
    audit(alice, "module form with a template", "more-form-template")
    alice.get_by_role("button", name="Create request").click()
    alice.wait_for_url(f"{url}/requests/*")
    made = platform.get(alice.url.rsplit("/", 1)[1])
    assert made.placement.template_id == "logs-l2" and made.inputs["region"] == "local-2"

    # -- a request through the chat page (offline assistant), then a question -----------------
    alice.goto(f"{url}/chat")
    alice.get_by_role("button", name="Start a new request").click()
    answers = {
        "describe": "a bucket for logs",
        "module": "sandbox/bucket",
        "environment": "dev",
        "project": "chat",
        "input:name": "fromchat",
        "input:region": "local-2",
        "confirm": "yes",
    }
    asked = []
    for _ in range(20):
        if alice.get_by_test_id("created").count():
            break
        key = alice.locator('input[name="key"]').get_attribute("value")
        assert key
        asked.append(key)
        field = alice.locator("#answer")
        if key == "confirm":
            assert "policy" in alice.get_by_test_id("chat-log").inner_text()
            audit(alice, "chat confirm", "more-chat-confirm")
        value = answers.get(key, "")
        if field.evaluate("e => e.tagName") == "SELECT":
            if value:
                field.select_option(value)
        else:
            field.fill(value)
        alice.get_by_role("button", name="Answer").click()
        alice.wait_for_load_state()
    assert "confirm" in asked and "input:name" in asked
    created = alice.get_by_test_id("created").get_by_role("link").inner_text()
    request = platform.get(created)
    assert request.inputs["name"].startswith("fromchat") and request.inputs["region"] == "local-2"
    alice.goto(f"{url}/chat")
    alice.get_by_role("textbox", name="Question").fill("how many requests in dev")
    alice.get_by_role("button", name="Ask").click()
    answer = alice.get_by_test_id("answer").first.inner_text()
    assert "requests match" in answer, answer
    query = alice.get_by_test_id("query").first.inner_text()
    assert '"environment"' in query or "dev" in query
    audit(alice, "chat", "more-chat-ask")

    # -- on a phone: the navigation wraps and reaches every page -------------------------------
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("API token").fill(tokens["root"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Templates", "Metrics", "Chat", "Notifications", "Admin"):
        assert nav.get_by_role("link", name=name).is_visible()
    # The navigation wraps within the screen (the requests table may scroll on its own).
    assert page.evaluate(
        "() => document.querySelector('header nav').scrollWidth <= window.innerWidth + 1"
    )
    shot(page, "more-phone-nav")
    page.goto(f"{url}/metrics")
    shot(page, "more-phone-metrics")
