"""GitHub OAuth login against a local stand-in for GitHub's OAuth and REST endpoints.

The stand-in (stdlib ``http.server`` on 127.0.0.1, port 0) checks what GitHub checks: the client
id and secret and a code it issued (once), ``Accept: application/json`` on the exchange, and the
bearer token on ``GET /user``; it answers a bad code with 200 and ``{"error": ...}`` as GitHub
does, and can fail with a 500 on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tfpilot_core.platform import Platform
from tfpilot_core.testing.http import StandInServer
from tfpilot_web.settings import GithubOAuthSettings, WebSettings

CLIENT_ID = "Iv1.test-client"
CLIENT_SECRET = "s3cret-client-secret"


class FakeGithub:
    """GitHub's token endpoint and ``/user``: codes issued by the test map to logins."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}  # code -> login (each usable once)
        self.tokens: dict[str, str] = {}  # access token -> login
        self.fail_token_endpoint = False
        self.exchanges: list[dict[str, Any]] = []
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                github.exchanges.append({"form": form, "accept": self.headers.get("Accept")})
                if self.path != "/login/oauth/access_token":
                    self._send(404, {"message": "Not Found"})
                    return
                if github.fail_token_endpoint:
                    self._send(500, {"message": "boom"})
                    return
                if self.headers.get("Accept") != "application/json":
                    # GitHub would answer form-encoded; the client must ask for JSON.
                    self._send(406, {"error": "not_acceptable"})
                    return
                if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                    self._send(200, {"error": "incorrect_client_credentials"})
                    return
                login = github.codes.pop(form.get("code", ""), None)
                if login is None:
                    self._send(200, {"error": "bad_verification_code"})
                    return
                token = f"gho_{len(github.tokens)}_{login}"
                github.tokens[token] = login
                self._send(200, {"access_token": token, "token_type": "bearer", "scope": ""})

            def do_GET(self) -> None:
                if self.path != "/api/user":
                    self._send(404, {"message": "Not Found"})
                    return
                scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                login = github.tokens.get(token) if scheme == "Bearer" else None
                if login is None:
                    self._send(401, {"message": "Bad credentials"})
                    return
                self._send(200, {"login": login, "id": 1})

        # The one local HTTP server of the stand-ins (loopback, a free port, a daemon thread).
        self.server = StandInServer(Handler)
        self.url = self.server.url

    def issue(self, code: str, login: str) -> str:
        """A code GitHub would send back to the callback for ``login``."""
        self.codes[code] = login
        return code


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    """The stand-in GitHub, serving for the test."""
    fake = FakeGithub()
    fake.server.start()
    yield fake
    fake.server.stop()


def _settings(github: FakeGithub, **changes: Any) -> WebSettings:
    oauth = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{github.url}/login/oauth/authorize",
        "token_url": f"{github.url}/login/oauth/access_token",
        "api_url": f"{github.url}/api",
        "users": {"Octo-Approver": "appr", "dev-person": "dev"},
        **changes,
    }
    return WebSettings(github_oauth=GithubOAuthSettings(**oauth))


@pytest.fixture
def oauth_client(platform: Platform, github: FakeGithub) -> Iterator[Any]:
    """A TestClient over an app with GitHub login configured against the stand-in."""
    from fastapi.testclient import TestClient

    from tfpilot_web import create_app

    app = create_app(platform, settings=_settings(github))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _start(client: Any, next: str = "/") -> dict[str, str]:
    response = client.get("/login/github", params={"next": next})
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login/oauth/authorize"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_login_with_github_starts_a_session(
    oauth_client: Any, github: FakeGithub, platform: Platform
) -> None:
    assert oauth_client.get("/api/whoami").status_code == 401
    assert 'id="github-login"' in oauth_client.get("/login").text
    query = _start(oauth_client, next="/approvals")
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"].endswith("/login/github/callback")
    assert len(query["state"]) >= 32
    assert CLIENT_SECRET not in json.dumps(query)

    code = github.issue("code-1", "octo-approver")  # logins compare case-insensitively
    done = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"]}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/approvals"
    exchange = github.exchanges[-1]
    assert exchange["accept"] == "application/json"
    assert exchange["form"]["code"] == "code-1"
    assert exchange["form"]["redirect_uri"] == query["redirect_uri"]
    assert "httponly" in done.headers["set-cookie"].lower()

    who = oauth_client.get("/api/whoami")
    assert who.status_code == 200
    assert who.json() == {"actor": "appr", "role": "approver", "via": "session"}
    # The same session rules as token login: an unsafe API call by cookie needs the CSRF token.
    refused = oauth_client.post("/api/ask", json={"question": "how many requests are there?"})
    assert refused.status_code == 403
    # Replaying the callback fails: the state was used up (and GitHub's code too).
    replay = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"]}
    )
    assert replay.status_code == 400


def test_a_wrong_or_missing_state_is_refused(oauth_client: Any, github: FakeGithub) -> None:
    query = _start(oauth_client)
    code = github.issue("code-2", "dev-person")
    wrong = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"][:-1] + "x"}
    )
    assert wrong.status_code == 400
    assert "state mismatch" in wrong.text
    assert github.exchanges == []  # the code was never sent to GitHub
    assert oauth_client.get("/api/whoami").status_code == 401
    # The state is single use: after a mismatch, even the right one no longer works.
    again = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"]}
    )
    assert again.status_code == 400
    # A callback with no login started at all.
    fresh = oauth_client.get("/login/github/callback", params={"code": code, "state": "abc"})
    assert fresh.status_code == 400


def test_an_unmapped_github_user_is_refused_with_a_clear_page(
    oauth_client: Any, github: FakeGithub
) -> None:
    query = _start(oauth_client)
    code = github.issue("code-3", "mallory")
    response = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"]}
    )
    assert response.status_code == 403
    assert "GitHub user mallory is not mapped to a tfpilot user" in response.text
    assert len(github.exchanges) == 1  # GitHub was asked, and proved the login
    assert oauth_client.get("/api/whoami").status_code == 401


def test_github_refusing_or_failing_is_no_login(oauth_client: Any, github: FakeGithub) -> None:
    # A code GitHub never issued (or already used): GitHub answers 200 with an error.
    query = _start(oauth_client)
    bad = oauth_client.get(
        "/login/github/callback", params={"code": "forged", "state": query["state"]}
    )
    assert bad.status_code == 401
    assert "bad_verification_code" in bad.text
    # GitHub down: 502, still no session.
    github.fail_token_endpoint = True
    query = _start(oauth_client)
    code = github.issue("code-4", "dev-person")
    down = oauth_client.get(
        "/login/github/callback", params={"code": code, "state": query["state"]}
    )
    assert down.status_code == 502
    # The user denied access on GitHub.
    query = _start(oauth_client)
    denied = oauth_client.get(
        "/login/github/callback", params={"error": "access_denied", "state": query["state"]}
    )
    assert denied.status_code == 401
    assert oauth_client.get("/api/whoami").status_code == 401


def test_a_wrong_client_secret_is_refused_by_github(platform: Platform, github: FakeGithub) -> None:
    from fastapi.testclient import TestClient

    from tfpilot_web import create_app

    app = create_app(platform, settings=_settings(github, client_secret="wrong"))
    with TestClient(app, follow_redirects=False) as client:
        query = _start(client)
        code = github.issue("code-5", "dev-person")
        response = client.get(
            "/login/github/callback", params={"code": code, "state": query["state"]}
        )
        assert response.status_code == 401
        assert "incorrect_client_credentials" in response.text


def test_unmapping_a_login_ends_its_sessions(platform: Platform, github: FakeGithub) -> None:
    from tfpilot_web.auth import end_session, resolve_actor, start_session

    settings = _settings(github)
    assert settings.github_oauth is not None
    fields = {"user": "dev", "github_login": "dev-person"}
    session = {**fields, "sid": start_session(platform.store, fields, max_age=600)}
    # Without a server-side session (a cookie from before them, or a forged one): nobody.
    assert resolve_actor(platform, session=fields, github=settings.github_oauth) is None
    found = resolve_actor(platform, session=session, github=settings.github_oauth)
    assert found is not None and found.actor == "dev"
    unmapped = _settings(github, users={}).github_oauth
    assert resolve_actor(platform, session=session, github=unmapped) is None
    assert resolve_actor(platform, session=session, github=None) is None
    forged = {"user": "admin", "github_login": "dev-person", "sid": session["sid"]}
    assert resolve_actor(platform, session=forged, github=settings.github_oauth) is None
    end_session(platform.store, session)
    assert resolve_actor(platform, session=session, github=settings.github_oauth) is None


def test_github_login_is_off_unless_configured(client: Any) -> None:
    assert client.get("/login/github", follow_redirects=False).status_code == 404
    assert 'id="github-login"' not in client.get("/login").text


def test_configured_from_plugins_web_with_an_env_secret(
    platform: Platform, register_plugin: Any, github: FakeGithub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The way an operator configures it: [plugins.web.github_oauth], the secret from $env.
    from fastapi.testclient import TestClient

    import tfpilot_web.plugin
    from tfpilot_web import create_app

    register_plugin(tfpilot_web.plugin, name="web")
    monkeypatch.setenv("TEST_GITHUB_OAUTH_SECRET", CLIENT_SECRET)
    oauth = _settings(github).github_oauth
    assert oauth is not None
    section = oauth.model_dump()
    section["client_secret"] = {"$env": "TEST_GITHUB_OAUTH_SECRET"}
    platform.config.plugins["web"] = {"github_oauth": section}
    with TestClient(create_app(platform), follow_redirects=False) as client:
        query = _start(client)
        code = github.issue("code-6", "Dev-Person")
        done = client.get("/login/github/callback", params={"code": code, "state": query["state"]})
        assert done.status_code == 303, done.text
        assert client.get("/api/whoami").json()["actor"] == "dev"
