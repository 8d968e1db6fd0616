"""The web UI in headless Chromium (Debian's package, driven by Playwright) against a real
uvicorn server on 127.0.0.1, planning with real Terraform and the sandbox provider.

Create a request from the catalog and see it planned; approve it as a second user; see the
timeline; a viewer sees no action buttons and gets 403 when posting anyway. Screenshots go to
``plugins/web/tests/artifacts/`` (ignored by git; ``$TFPILOT_WEB_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import (
    BROWSER_MARKS,
    artifacts_dir,
    chromium,
    fresh_home,
    log_in,
    platform_and_tokens,
    running,
    wait_for_status,
)

CONFIG = """
[users.root]
role = "admin"
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.vic]
role = "viewer"
[plugins.runner_local]
timeout_seconds = 300
"""

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A real uvicorn server over a platform in a fresh home, and tokens for each user."""
    environ = fresh_home(tmp_path, CONFIG, monkeypatch)
    platform, tokens = platform_and_tokens(environ, ("alice", "bob", "vic"))
    with running(platform) as url:
        yield {"url": url, "tokens": tokens, "platform": platform}


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_request_plan_approve_and_viewer_in_a_browser(server: dict[str, Any], browser: Any) -> None:
    url, tokens = server["url"], server["tokens"]
    shots = artifacts_dir()

    # The catalog is public, and the first Tab stop is the skip link (keyboard users).
    anonymous = browser.new_page()
    anonymous.goto(f"{url}/catalog")
    assert anonymous.get_by_role("link", name="sandbox/bucket").is_visible()
    anonymous.keyboard.press("Tab")
    assert anonymous.evaluate("document.activeElement.textContent") == "Skip to content"
    anonymous.close()

    # Alice (developer) requests a bucket from the catalog; it is planned with real Terraform.
    alice = log_in(browser, url, tokens["alice"])
    alice.get_by_role("link", name="Catalog", exact=True).click()
    alice.get_by_role("link", name="sandbox/bucket").click()
    assert alice.get_by_role("heading", name="sandbox/bucket").is_visible()
    assert alice.locator("select#f-region").count() == 1  # an enum is a select
    alice.get_by_label("Project").fill("shop")
    alice.get_by_label("Bucket name").fill("Not Valid!")
    alice.get_by_role("button", name="Create request").click()
    assert alice.get_by_test_id("error-name").is_visible()  # shown at the field
    alice.screenshot(path=str(shots / "1-form-error.png"), full_page=True)
    alice.get_by_label("Bucket name").fill("logs")
    alice.get_by_role("button", name="Create request").click()
    alice.wait_for_url(re.compile(r".*/requests/req_dev_"))
    request_id = alice.url.rsplit("/", 1)[-1]
    # htmx refreshes the page while the plan runs.
    status = wait_for_status(alice, {"plan_ready", "failed"})
    if status != "plan_ready":  # say why Terraform failed, from the request page's logs
        logs = server["platform"].store.list_events(request_id)
        pytest.fail(f"plan failed: {[e.data.get('error') for e in logs if e.data.get('error')]}")
    assert alice.get_by_test_id("summary").is_visible()
    # Alice may plan again but may not approve.
    assert alice.get_by_test_id("approve").count() == 0
    alice.screenshot(path=str(shots / "2-planned.png"), full_page=True)

    # Bob (approver) finds it in his inbox and approves the digest shown.
    bob = log_in(browser, url, tokens["bob"])
    bob.get_by_role("link", name="Approvals", exact=True).click()
    bob.get_by_role("link", name=request_id).click()
    digest = bob.get_by_test_id("digest").inner_text()
    bob.get_by_test_id("approve").click()
    bob.get_by_test_id("status").filter(has_text="approved").wait_for()
    assert f"bob approved plan {digest}" in bob.get_by_test_id("approval").inner_text()
    timeline = bob.get_by_test_id("timeline").inner_text()
    for event in ("request_created", "plan_succeeded", "approval_required", "approved"):
        assert event in timeline
    bob.screenshot(path=str(shots / "3-approved.png"), full_page=True)

    # Vic (viewer) sees the request without any action, and posting anyway is refused.
    vic = log_in(browser, url, tokens["vic"])
    vic.goto(f"{url}/requests/{request_id}")
    assert vic.get_by_test_id("no-actions").is_visible()
    assert vic.locator("[data-testid=actions] button").count() == 0
    csrf = vic.locator("input[name=csrf_token]").first.get_attribute("value")
    for action in ("apply", "plan", "destroy"):
        answer = vic.request.post(
            f"{url}/requests/{request_id}/{action}",
            form={"csrf_token": csrf or ""},
            headers={"accept": "text/html"},
            max_redirects=0,
        )
        assert answer.status == 403, (action, answer.status)
    vic.screenshot(path=str(shots / "4-viewer.png"), full_page=True)
    status = server["platform"].status(server["platform"].get(request_id)).value
    assert status == "approved"
    print(f"screenshots in {shots}")
