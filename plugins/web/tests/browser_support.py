"""What every browser test of the web UI sets up, in one place: a fresh home with a
configuration, a real uvicorn server on a loopback port, Debian's Chromium driven by Playwright
(``executable_path``: no browser download), logging in with an API token, and where screenshots
go (``plugins/web/tests/artifacts/``, ignored by git; ``$TFPILOT_WEB_ARTIFACTS`` overrides).

Used by ``test_browser.py``, ``test_review_browser.py``, ``test_pages_more_browser.py`` and
``test_promotion_browser.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

#: Every browser test module is slow and needs Debian's chromium.
BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def artifacts_dir() -> Path:
    """Where screenshots go (made if missing)."""
    path = Path(os.environ.get("TFPILOT_WEB_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def fresh_home(
    tmp: Path, config: str, patch: pytest.MonkeyPatch, *, sandbox: Path | None = None
) -> dict[str, str]:
    """A home under ``tmp`` with ``config`` as its tfpilot.toml; the environment to use it.

    ``HOME`` points there and Terraform reads no CLI configuration (no registry). With
    ``sandbox``, the sandbox provider keeps its objects there (embedded Terraform's worker
    inherits the environment).
    """
    home = tmp / "home"
    home.mkdir()
    patch.setenv("HOME", str(home))
    patch.setenv("TF_CLI_CONFIG_FILE", str(tmp / "missing.tfrc"))
    if sandbox is not None:
        patch.setenv("TFPILOT_SANDBOX_ROOT", str(sandbox))
    path = home / "tfpilot.toml"
    path.write_text(config)
    return {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(path)}


def platform_and_tokens(
    environ: dict[str, str], users: tuple[str, ...]
) -> tuple[Any, dict[str, str]]:
    """The platform of ``environ`` and an API token for each of ``users`` (made by ``root``)."""
    from tfpilot_core.platform import Platform
    from tfpilot_web.auth import create_token

    platform = Platform.from_config(environ=environ)
    return platform, {u: create_token(platform, "root", user=u)[0] for u in users}


@contextmanager
def running(platform: Any) -> Iterator[str]:
    """``create_app(platform)`` served by a real uvicorn on a free loopback port; its URL.

    The server stops when the block ends.
    """
    import uvicorn

    from tfpilot_web import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, launched by Playwright; closed when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(browser: Any, url: str, token: str) -> Any:
    """A new browser context logged in with ``token`` through the login page; its page."""
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page


def wait_for_status(page: Any, wanted: set[str], *, timeout: float = 240) -> str:
    """Read the request page's status until it is one of ``wanted`` (htmx refreshes it).

    The pages' CSP forbids evaluating script strings, so this reads the DOM from here.
    """
    deadline = time.monotonic() + timeout
    status = str(page.get_by_test_id("status").inner_text())
    while status not in wanted and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        status = str(page.get_by_test_id("status").inner_text())
    return status


def shot(page: Any, name: str) -> None:
    """A full-page screenshot ``name``.png among the test artifacts."""
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)
