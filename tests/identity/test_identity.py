"""Identity providers: ``local`` as given, ``github_actions`` from a verified OIDC token.

The GitHub side is real cryptography: an RSA key made here, its public half served as a JWKS by a
local HTTP server, and tokens signed with PyJWT the way Actions signs them. Nothing is stubbed
between the token and the verdict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tfpilot_core.errors import ForbiddenError
from tfpilot_core.identity import IdentityRequest
from tfpilot_core.identity.github_actions import GitHubActionsIdentity, GitHubActionsSettings
from tfpilot_core.identity.local import LocalIdentity
from tfpilot_core.testing.http import StandInHandler, StandInServer

ISSUER = "https://token.actions.githubusercontent.com"


class _Keys:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        public.update(kid="k1", use="sig", alg="RS256")
        return {"keys": [public]}


@pytest.fixture(scope="module")
def keys() -> _Keys:
    return _Keys()


@pytest.fixture
def jwks_server(keys: _Keys) -> Iterator[dict[str, Any]]:
    """A JWKS endpoint and an Actions-like token endpoint on 127.0.0.1."""
    state: dict[str, Any] = {"token": None, "asked": []}

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/jwks"):
                self.send_json(200, keys.jwks())
            elif self.path.startswith("/token"):
                state["asked"].append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != "Bearer request-token":
                    self.send_json(401, {"message": "Bad credentials"})
                    return
                self.send_json(200, {"value": state["token"]})
            else:
                self.send_json(404, {"message": "Not Found"})

    server = StandInServer(Handler).start()
    state["url"] = server.url
    yield state
    server.stop()


def _token(keys: _Keys, *, key: Any = None, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "tfpilot",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "repository": "acme/infra",
        "ref": "refs/heads/main",
        "actor": "octocat",
        "workflow": "tfpilot-apply",
        "run_id": "42",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key or keys.private, algorithm="RS256", headers={"kid": "k1"})


def _provider(server: dict[str, Any], **settings: Any) -> GitHubActionsIdentity:
    return GitHubActionsIdentity(
        GitHubActionsSettings(
            repositories=["acme/infra"], jwks_url=f"{server['url']}/jwks", **settings
        )
    )


def test_local_takes_the_name_as_given() -> None:
    local = LocalIdentity()
    assert local.identify(IdentityRequest("ann", {"TFPILOT_USER": "bob"})).actor == "ann"
    assert local.identify(IdentityRequest(None, {"TFPILOT_USER": "bob"})).actor == "bob"
    assert local.identify(IdentityRequest(None, {"USER": "root"})).actor == "root"


def test_github_actions_accepts_a_verified_token(keys: _Keys, jwks_server: dict[str, Any]) -> None:
    identity = _provider(jwks_server).identify(
        IdentityRequest(None, {"TFPILOT_OIDC_TOKEN": _token(keys)})
    )
    assert identity.actor == "octocat" and identity.verified
    assert identity.claims["repository"] == "acme/infra"


def test_github_actions_asks_actions_for_a_token(keys: _Keys, jwks_server: dict[str, Any]) -> None:
    jwks_server["token"] = _token(keys, actor="hubot")
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{jwks_server['url']}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
    }
    assert _provider(jwks_server).identify(IdentityRequest(None, env)).actor == "hubot"
    path, auth = jwks_server["asked"][-1]
    assert "audience=tfpilot" in path and auth == "Bearer request-token"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"aud": "someone-else"}, "Audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"repository": "acme/other"}, "repository 'acme/other'"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"repository": None}, "repository"),
        ({"actor": None}, "actor"),
    ],
)
def test_github_actions_refuses_bad_claims(
    keys: _Keys, jwks_server: dict[str, Any], overrides: dict[str, Any], match: str
) -> None:
    token = _token(keys, **overrides)
    with pytest.raises(ForbiddenError, match=match):
        _provider(jwks_server).identify(IdentityRequest(None, {"TFPILOT_OIDC_TOKEN": token}))


def test_github_actions_refuses_a_token_signed_by_another_key(
    keys: _Keys, jwks_server: dict[str, Any]
) -> None:
    forged = _token(keys, key=keys.other)
    with pytest.raises(ForbiddenError, match="refused"):
        _provider(jwks_server).identify(IdentityRequest(None, {"TFPILOT_OIDC_TOKEN": forged}))


def test_github_actions_refs(keys: _Keys, jwks_server: dict[str, Any]) -> None:
    provider = _provider(jwks_server, refs=["refs/heads/release"])
    with pytest.raises(ForbiddenError, match="ref 'refs/heads/main'"):
        provider.identify(IdentityRequest(None, {"TFPILOT_OIDC_TOKEN": _token(keys)}))


def test_cli_refuses_claimed_names_with_a_verified_provider(
    keys: _Keys, jwks_server: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfpilot_core.cli import main

    config = tmp_path / "tfpilot.toml"
    config.write_text(
        '[core]\nidentity = "github_actions"\n[plugins.github_actions]\n'
        f'repositories = ["acme/infra"]\njwks_url = "{jwks_server["url"]}/jwks"\n'
        '[users.octocat]\nrole = "viewer"\n'
    )
    monkeypatch.setenv("TFPILOT_CONFIG", str(config))
    monkeypatch.setenv("TFPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TFPILOT_USER", raising=False)

    def run(*args: str) -> int:
        try:
            main(list(args))
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0

    assert run("--as", "admin", "requests", "list") == 6
    monkeypatch.setenv("TFPILOT_USER", "admin")
    assert run("requests", "list") == 6
    monkeypatch.delenv("TFPILOT_USER")
    assert run("requests", "list") == 6  # no token at all: refused, never "unknown"
    monkeypatch.setenv("TFPILOT_OIDC_TOKEN", _token(keys))
    assert run("--json", "requests", "list") == 0
