"""What every browser test of the web UI sets up, in one place: a fresh home with a
configuration, a real uvicorn server on a loopback port, Debian's Chromium driven by Playwright
(``executable_path``: no browser download), logging in with an API token, and where screenshots
go (``plugins/web/tests/artifacts/``, ignored by git; ``$TFPILOT_WEB_ARTIFACTS`` overrides).

Used by every ``*_browser.py`` module; the ``browser`` fixture reaches them through
``conftest.py``.
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


#: The role of each user the browser tests log in as.
ROLES = {
    "root": "admin",
    "alice": "developer",
    "bob": "approver",
    "carol": "admin",
    "vic": "viewer",
}


def config_text(
    users: tuple[str, ...],
    *,
    sandbox: Path | None = None,
    protected_prod: bool = False,
    extra: str = "",
) -> str:
    """tfpilot.toml text: ``root`` and ``users`` with their ``ROLES``, the local runner's timeout.

    ``protected_prod`` declares the environments dev and prod (protected); ``sandbox`` points
    the sandbox provider's objects there; ``extra`` (TOML) ends the text.
    """
    lines = []
    if protected_prod:
        lines += ["[core]", 'environments = [{ key = "dev" }, { key = "prod", protected = true }]']
    for user in dict.fromkeys(("root", *users)):
        lines += [f"[users.{user}]", f'role = "{ROLES[user]}"']
    lines += ["[plugins.runner_local]", "timeout_seconds = 300"]
    if sandbox is not None:
        lines += ["[plugins.sandbox]", f'root = "{sandbox}"']
    return "\n".join(lines) + "\n" + extra


def sandbox_platform(
    tmp: Path,
    patch: pytest.MonkeyPatch,
    users: tuple[str, ...],
    *,
    sandbox: bool = True,
    protected_prod: bool = False,
    extra: str = "",
) -> tuple[Any, dict[str, str]]:
    """A platform in a fresh home under ``tmp`` (``config_text``) and a token for each of ``users``.

    With ``sandbox`` (the default) the sandbox provider keeps its objects in ``tmp/sandbox``.
    """
    root = tmp / "sandbox" if sandbox else None
    text = config_text(users, sandbox=root, protected_prod=protected_prod, extra=extra)
    return platform_and_tokens(fresh_home(tmp, text, patch, sandbox=root), users)


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
def serving(platform: Any, tokens: dict[str, str], **more: Any) -> Iterator[dict[str, Any]]:
    """``running(platform)``, as the dict the tests' server fixtures yield.

    Its keys: ``url``, ``tokens``, ``platform`` and any of ``more``.
    """
    with running(platform) as url:
        yield {"url": url, "tokens": tokens, "platform": platform, **more}


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


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium for one test (``conftest.py`` makes it a fixture of all)."""
    with chromium() as launched:
        yield launched


def plan_digest(platform: Any, request_id: str) -> str:
    """The digest of the request's current plan (asserting there is one)."""
    from tfpilot_core.lifecycle import current_plan

    plan = current_plan(platform.get(request_id))
    assert plan is not None and plan.plan_digest, platform.get(request_id).runs
    return str(plan.plan_digest)


def planned(
    platform: Any,
    inputs: dict[str, Any],
    *,
    environment: str = "dev",
    project: str = "shop",
    author: str = "alice",
    **create: Any,
) -> str:
    """A ``sandbox/bucket`` request created and planned (real Terraform); its id.

    Asserts the plan is ready; ``create`` goes to ``platform.create`` (``opt_outs=``, say).
    """
    created = platform.create(
        author,
        module="sandbox/bucket",
        environment=environment,
        project=project,
        inputs=inputs,
        **create,
    )
    platform.plan(author, created.id)
    status = platform.status(platform.get(created.id)).value
    assert status == "plan_ready", platform.get(created.id).runs
    return str(created.id)


def applied(
    platform: Any, inputs: dict[str, Any], *, approver: str = "bob", **planning: Any
) -> str:
    """``planned``, then approved by ``approver`` and applied (real Terraform); its id."""
    request_id = planned(platform, inputs, **planning)
    platform.approve(approver, request_id, plan_digest=plan_digest(platform, request_id))
    platform.apply(approver, request_id)
    assert platform.status(platform.get(request_id)).value == "applied"
    return request_id


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


def audit(page: Any, label: str, name: str) -> None:
    """axe-core on ``page`` (no serious or critical violation, ``label`` in the message), then
    ``shot(page, name)``."""
    from .axe_support import check_page

    check_page(page, label)
    shot(page, name)
