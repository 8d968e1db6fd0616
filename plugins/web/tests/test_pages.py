"""The server-rendered pages in process: login, CSRF, the generated form, buttons by role."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tfpilot_core.platform import Platform
from tfpilot_web import create_app
from tfpilot_web.settings import WebSettings

HTML = {"accept": "text/html"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: Any, token: str) -> None:
    page = client.get("/login", headers=HTML).text
    response = client.post(
        "/login",
        data={"token": token, "csrf_token": csrf_of(page), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_catalog_is_public_html(client: Any) -> None:
    page = client.get("/catalog", headers=HTML)
    assert page.status_code == 200 and "<html" in page.text and "test/bucket" in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_pages_need_login(client: Any) -> None:
    response = client.get("/", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"


def test_login_sets_a_secure_session(client: Any, tokens: dict[str, str]) -> None:
    page = client.get("/login", headers=HTML).text
    # Without the CSRF token the login form is refused.
    refused = client.post("/login", data={"token": tokens["dev"]}, headers=HTML)
    assert refused.status_code == 403
    wrong = client.post(
        "/login", data={"token": "tfp_wrong", "csrf_token": csrf_of(page)}, headers=HTML
    )
    assert wrong.status_code == 401 and "not valid" in wrong.text
    response = client.post(
        "/login",
        data={"token": tokens["dev"], "csrf_token": csrf_of(page), "next": "//evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert tokens["dev"] not in response.headers["set-cookie"]
    assert "dev (developer)" in client.get("/", headers=HTML).text
    # A cookie-authenticated API write needs the CSRF header too.
    assert client.post("/api/requests/x/plan").status_code == 403


def test_secure_flag_when_served_over_https(platform: Platform) -> None:
    app = create_app(platform, settings=WebSettings(public_url="https://tfpilot.example"))
    with TestClient(app) as client:
        response = client.get("/login", headers=HTML)
        assert "secure" in response.headers["set-cookie"].lower()


def test_login_is_rate_limited(platform: Platform) -> None:
    app = create_app(platform, settings=WebSettings(login_attempts_per_minute=3))
    with TestClient(app) as client:
        csrf = csrf_of(client.get("/login", headers=HTML).text)
        codes = [
            client.post("/login", data={"token": "tfp_guess", "csrf_token": csrf}).status_code
            for _ in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]


def test_request_form_from_the_json_schema(client: Any, tokens: dict[str, str]) -> None:
    log_in(client, tokens["dev"])
    page = client.get("/catalog/test/bucket", headers=HTML).text
    assert '<select id="f-region" name="input.region"' in page
    assert 'type="password"' in page and 'name="input.password"' in page
    assert '<label for="f-name">' in page
    csrf = csrf_of(page)
    bad = client.post(
        "/catalog/test/bucket",
        data={
            "csrf_token": csrf,
            "project": "shop",
            "environment": "dev",
            "input.name": "Bad Name!",
            "input.password": "s3cret-value",
        },
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'data-testid="error-name"' in bad.text and 'aria-invalid="true"' in bad.text
    # A sensitive value is never echoed back into the page.
    assert "s3cret-value" not in bad.text
    created = client.post(
        "/catalog/test/bucket",
        data={
            "csrf_token": csrf,
            "project": "shop",
            "environment": "dev",
            "input.name": "logs",
            "input.region": "local-2",
            "plan_now": "yes",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    request_page = client.get(created.headers["location"], headers=HTML).text
    assert "plan_ready" in request_page or "planning" in request_page


def test_viewer_sees_no_buttons_and_gets_403(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "b"}
    )
    platform.plan("dev", request.id)
    log_in(client, tokens["viv"])
    page = client.get(f"/requests/{request.id}", headers=HTML).text
    assert 'data-testid="no-actions"' in page and 'data-testid="approve"' not in page
    csrf = csrf_of(page)
    digest = platform.get(request.id).latest(next(iter(platform.get(request.id).runs)))
    assert digest is not None
    for action in ("approve", "plan", "apply", "destroy", "check-drift"):
        response = client.post(
            f"/requests/{request.id}/{action}",
            data={"csrf_token": csrf, "plan_digest": digest.plan_digest or ""},
            headers=HTML,
        )
        assert response.status_code == 403, action
    assert platform.get(request.id).approvals == []


def test_approver_approves_from_the_inbox(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "c"}
    )
    platform.plan("dev", request.id)
    log_in(client, tokens["appr"])
    inbox = client.get("/approvals", headers=HTML).text
    assert request.id in inbox
    page = client.get(f"/requests/{request.id}", headers=HTML).text
    assert 'data-testid="approve"' in page
    digest = re.search(r'name="plan_digest" value="([0-9a-f]+)"', page)
    assert digest
    done = client.post(
        f"/requests/{request.id}/approve",
        data={"csrf_token": csrf_of(page), "plan_digest": digest.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert [a.actor for a in platform.get(request.id).approvals] == ["appr"]
    assert request.id not in client.get("/approvals", headers=HTML).text


def test_requests_page_filters_pages_and_drift_overview(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    ids = [
        platform.create(
            "dev",
            module="test/bucket",
            environment="dev",
            project="shop" if i % 2 else "blog",
            inputs={"name": f"p{i}"},
        ).id
        for i in range(27)
    ]
    log_in(client, tokens["viv"])
    first = client.get("/", headers=HTML).text
    assert 'rel="next"' in first and first.count("/requests/req_") == 25
    next_url = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_url
    second = client.get(next_url.group(1).replace("&amp;", "&"), headers=HTML).text
    assert second.count("/requests/req_") == 2
    shop = client.get("/?project=shop", headers=HTML).text
    assert shop.count("/requests/req_") == 13
    assert all(i in first + second for i in ids)
    platform.plan("dev", ids[0])
    platform.approve("appr", ids[0])
    platform.apply("appr", ids[0])
    drift = client.get("/drift", headers=HTML).text
    assert ids[0] in drift and "never checked" in drift


def test_user_input_is_escaped(client: Any, platform: Platform, tokens: dict[str, str]) -> None:
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "x", "tags": {"team": "<script>alert(1)</script>"}},
    )
    log_in(client, tokens["viv"])
    page = client.get(f"/requests/{request.id}", headers=HTML)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text or "\\u003cscript" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
