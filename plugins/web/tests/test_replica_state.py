"""What a replica may not keep to itself (issue 32, issue 27 items 5 and 6).

Sessions end on the server at logout; login attempts are counted in the store, so two app
instances over one store (two replicas) share the limit; ``X-Forwarded-For`` is believed only
from configured proxies; tokens record when they were last used; /healthz and /readyz answer.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tfpilot_core.platform import Platform
from tfpilot_web import create_app
from tfpilot_web.auth import client_address, list_tokens
from tfpilot_web.settings import WebSettings

from .conftest import bearer
from .test_pages import HTML, csrf_of, log_in


def test_logout_ends_the_session_on_the_server(platform: Platform, tokens: dict[str, str]) -> None:
    with TestClient(create_app(platform)) as alice, TestClient(create_app(platform)) as thief:
        log_in(alice, tokens["dev"])
        assert "dev (developer)" in alice.get("/", headers=HTML).text
        copied = dict(alice.cookies)
        # The copied cookie works on another replica while the session lasts...
        thief.cookies.update(copied)
        assert "dev (developer)" in thief.get("/", headers=HTML).text
        csrf = csrf_of(alice.get("/", headers=HTML).text)
        out = alice.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        # ...and not after the logout, on any replica.
        thief.cookies.clear()
        thief.cookies.update(copied)
        refused = thief.get("/", headers=HTML, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")


def test_two_replicas_share_the_login_limit(platform: Platform) -> None:
    settings = WebSettings(login_attempts_per_minute=4)
    with (
        TestClient(create_app(platform, settings=settings)) as one,
        TestClient(create_app(platform, settings=settings)) as two,
    ):
        forms = [(c, csrf_of(c.get("/login", headers=HTML).text)) for c in (one, two)]
        codes = [
            forms[i % 2][0]
            .post("/login", data={"token": "tfp_guess", "csrf_token": forms[i % 2][1]})
            .status_code
            for i in range(6)
        ]
        assert codes == [401, 401, 401, 401, 429, 429]


def test_a_new_forwarded_for_per_attempt_does_not_reset_the_limit(platform: Platform) -> None:
    app = create_app(platform, settings=WebSettings(login_attempts_per_minute=3))
    with TestClient(app) as client:
        csrf = csrf_of(client.get("/login", headers=HTML).text)
        codes = [
            client.post(
                "/login",
                data={"token": "tfp_guess", "csrf_token": csrf},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        ("198.51.100.7", "1.2.3.4", [], "198.51.100.7"),  # no proxy configured
        ("198.51.100.7", "1.2.3.4", ["10.0.0.0/8"], "198.51.100.7"),  # peer is no proxy
        ("10.0.0.5", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        # A client's own invented entries come first; the proxy appended the real address.
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        ("10.0.0.5", "1.2.3.4, 10.0.0.9", ["10.0.0.0/8"], "1.2.3.4"),  # two proxies
        ("10.0.0.5", None, ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.5", "not-an-ip, 10.0.0.9", ["10.0.0.0/8"], "not-an-ip"),
    ],
)
def test_client_address(peer: str, header: str | None, trusted: list[str], expected: str) -> None:
    assert client_address(peer, header, trusted) == expected


def test_trusted_proxies_are_checked() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        WebSettings(trusted_proxies=["proxy.example"])


def test_tokens_record_their_last_use(client: TestClient, platform: Platform) -> None:
    from tfpilot_web.auth import create_token

    token, token_id = create_token(platform, "admin", user="dev")
    [view] = [t for t in list_tokens(platform, "admin") if t["id"] == token_id]
    assert view["last_used_at"] is None
    assert client.get("/api/requests", headers=bearer(token)).status_code == 200
    [view] = [t for t in list_tokens(platform, "admin") if t["id"] == token_id]
    assert view["last_used_at"] is not None


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_not_ready_when_the_store_fails(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, namespace: str, key: str) -> None:
        raise OSError("disk gone")

    with TestClient(create_app(platform)) as client:
        store = platform.store
        while hasattr(store, "wrapped"):  # the platform hands out wrappers of the one store
            store = store.wrapped
        monkeypatch.setattr(type(store), "get_record", broken)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["detail"].startswith("the store does not answer")
        assert client.get("/healthz").status_code == 200
