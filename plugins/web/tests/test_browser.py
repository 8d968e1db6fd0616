"""The web UI in headless Chromium (Debian's package, driven by Playwright) against a real
uvicorn server on 127.0.0.1, planning with real Terraform and the sandbox provider.

Create a request from the catalog and see it planned; approve it as a second user; see the
timeline; a viewer sees no action buttons and gets 403 when posting anyway. Screenshots go to
``plugins/web/tests/artifacts/`` (ignored by git; ``$TFPILOT_WEB_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONFIG = """
[users.root]
role = "admin"
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.vic]
role = "viewer"
[plugins.local]
timeout_seconds = 300
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TFPILOT_WEB_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A real uvicorn server over a platform in a fresh home, and tokens for each user."""
    import uvicorn

    from tfpilot_core.platform import Platform
    from tfpilot_web import create_app
    from tfpilot_web.auth import create_token

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    config = home / "tfpilot.toml"
    config.write_text(CONFIG)
    platform = Platform.from_config(
        environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
    )
    tokens = {u: create_token(platform, "root", user=u)[0] for u in ("alice", "bob", "vic")}
    uv = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield {"url": f"http://127.0.0.1:{port}", "tokens": tokens, "platform": platform}
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def _log_in(browser: Any, url: str, token: str) -> Any:
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page


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
    alice = _log_in(browser, url, tokens["alice"])
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
    # htmx refreshes the page while the plan runs (the page's CSP forbids evaluating script
    # strings, so the test reads the DOM from here rather than with wait_for_function).
    deadline = time.monotonic() + 240
    status = alice.get_by_test_id("status").inner_text()
    while status not in ("plan_ready", "failed") and time.monotonic() < deadline:
        alice.wait_for_timeout(500)
        status = alice.get_by_test_id("status").inner_text()
    if status != "plan_ready":  # say why Terraform failed, from the request page's logs
        logs = server["platform"].store.list_events(request_id)
        pytest.fail(f"plan failed: {[e.data.get('error') for e in logs if e.data.get('error')]}")
    assert alice.get_by_test_id("summary").is_visible()
    # Alice may plan again but may not approve.
    assert alice.get_by_test_id("approve").count() == 0
    alice.screenshot(path=str(shots / "2-planned.png"), full_page=True)

    # Bob (approver) finds it in his inbox and approves the digest shown.
    bob = _log_in(browser, url, tokens["bob"])
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
    vic = _log_in(browser, url, tokens["vic"])
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
