"""``[plugins.runner_github]`` as a GitHub App (``app_id`` + ``private_key``) beside a token:
PyGithub's ``Auth.AppAuth`` against the stand-in, which verifies the App's RS256 JWT with its
public key and answers the installation and an installation token, as GitHub does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gh_support import TOKEN, create, github_section
from pydantic import ValidationError

from tfpilot_core.errors import ConfigError
from tfpilot_runner_github.plugin import infra_for
from tfpilot_runner_github.settings import GitHubSettings
from tfpilot_runner_github.testing import GitHubStandIn

APP_ID = 31337


def _key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return _key()


@pytest.fixture
def app_standin(keys: tuple[str, str]) -> Iterator[GitHubStandIn]:
    server = GitHubStandIn(token=TOKEN, app_id=APP_ID, app_public_key=keys[1]).start()
    yield server
    server.stop()


def _section(url: str, key_file: Path, extra: str = "") -> str:
    token_line = f'token = "{TOKEN}"\n'
    section = github_section(url).replace(token_line, "")
    assert section != github_section(url)
    app = f'app_id = {APP_ID}\nprivate_key = {{ "$file" = "{key_file}" }}\n' + extra
    return section.replace("[plugins.runner_github]\n", "[plugins.runner_github]\n" + app, 1)


@pytest.fixture(autouse=True)
def _fresh_installations() -> None:
    from tfpilot_runner_github import client

    client._INSTALLATIONS.clear()


def test_the_app_acts_as_its_installation(
    make_platform: Any, app_standin: GitHubStandIn, keys: tuple[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(keys[0])
    platform = make_platform(github=_section(app_standin.url, key_file))
    infra_for(platform).ensure_pr(create(platform), [])
    calls = [(c.method, c.path, c.status) for c in app_standin.calls()]
    # The installation is asked once per process (the runner and the infra client share it).
    assert calls[0] == ("GET", "/repos/acme/infra/installation", 200)
    assert calls[1] == ("POST", "/app/installations/4242/access_tokens", 201)
    assert [c for c in calls if c[1].endswith("/installation")] == [calls[0]]
    # Everything after runs with the installation token, and the PR exists.
    assert all(status not in (401, 403) for _, _, status in calls[2:])
    assert app_standin.repo.pulls


def test_a_configured_installation_is_not_looked_up(
    make_platform: Any, app_standin: GitHubStandIn, keys: tuple[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(keys[0])
    section = _section(app_standin.url, key_file, "installation_id = 4242\n")
    platform = make_platform(github=section)
    infra_for(platform).ensure_pr(create(platform), [])
    paths = [c.path for c in app_standin.calls()]
    assert "/repos/acme/infra/installation" not in paths
    assert paths[0] == "/app/installations/4242/access_tokens"


def test_a_key_github_does_not_know_is_a_clear_error(
    make_platform: Any, app_standin: GitHubStandIn, tmp_path: Path
) -> None:
    key_file = tmp_path / "other.pem"
    key_file.write_text(_key()[0])  # not the App's key
    platform = make_platform(github=_section(app_standin.url, key_file))
    with pytest.raises(ConfigError) as caught:
        infra_for(platform).ensure_pr(create(platform), [])
    assert f"GitHub App {APP_ID}" in caught.value.message
    assert "private_key" in caught.value.message
    assert app_standin.calls()[0].status == 401


def test_token_or_app_never_both_never_neither() -> None:
    base = {"repository": "acme/infra"}
    GitHubSettings(**base, token="t")
    GitHubSettings(**base, app_id=1, private_key="pem")
    with pytest.raises(ValidationError, match="not both"):
        GitHubSettings(**base, token="t", app_id=1, private_key="pem")
    with pytest.raises(ValidationError, match="set token, or app_id and private_key"):
        GitHubSettings(**base)
    with pytest.raises(ValidationError, match="set token, or app_id and private_key"):
        GitHubSettings(**base, app_id=1)
    assert "pem" not in repr(GitHubSettings(**base, app_id=1, private_key="pem"))
