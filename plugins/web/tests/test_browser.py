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
    log_in,
    sandbox_platform,
    serving,
    shot,
    wait_for_status,
)

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A real uvicorn server over a platform in a fresh home, and tokens for each user."""
    platform, tokens = sandbox_platform(
        tmp_path, monkeypatch, ("alice", "bob", "vic"), sandbox=False
    )
    with serving(platform, tokens) as served:
        yield served


def test_request_plan_approve_and_viewer_in_a_browser(server: dict[str, Any], browser: Any) -> None:
    url, tokens = server["url"], server["tokens"]

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
    shot(alice, "1-form-error")
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
    shot(alice, "2-planned")

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
    shot(bob, "3-approved")

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
    shot(vic, "4-viewer")
    status = server["platform"].status(server["platform"].get(request_id)).value
    assert status == "approved"
    print(f"screenshots in {artifacts_dir()}")
