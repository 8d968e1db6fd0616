"""Fixtures: the GitHub stand-in over real HTTP, and platforms whose runner is ``github``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The helpers beside this file (tests run with --import-mode=importlib, which adds no paths).
sys.path.insert(0, str(Path(__file__).parent))

from gh_support import TOKEN, USERS, github_section

from tfpilot_core.platform import Platform
from tfpilot_core.testing.fixtures import PlatformFactory
from tfpilot_runner_github.testing import GitHubStandIn


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    """A fresh GitHub stand-in (repository ``acme/infra``) for one test."""
    server = GitHubStandIn(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def make_platform(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch, standin: GitHubStandIn
) -> Callable[..., Platform]:
    """``make_platform(runner="github", extra="")``: a platform in a fresh home."""
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)

    def build(runner: str = "github", extra: str = "", github: str | None = None) -> Platform:
        return tfpilot_platform(
            f'[core]\nrunner = "{runner}"\n'
            + USERS
            + "[plugins.runner_local]\ntimeout_seconds = 300\n"
            + (github if github is not None else github_section(standin.url))
            + extra,
            users="",
        )

    return build


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (the shared store of the workflow tests): its endpoint."""
    from tfpilot_store_s3.testing import MotoS3Server

    server = MotoS3Server().start()
    yield server.endpoint_url
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake AWS credentials through the standard chain; no config files, no real account."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return values


@pytest.fixture(scope="session")
def actions_install(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheelhouse of this checkout and the job virtualenv the workflows install it into
    (built once per session: the install steps themselves run in every job)."""
    from actions_local import build_wheelhouse, job_virtualenv

    root = tmp_path_factory.mktemp("actions-install")
    return {"wheelhouse": build_wheelhouse(root / "wheelhouse"), "bin": job_virtualenv(root)}


@pytest.fixture(scope="session")
def oidc() -> Iterator[Any]:
    """GitHub Actions' OIDC token service (and its JWKS) for the jobs the harness runs."""
    from actions_local import OidcStandIn

    server = OidcStandIn().start()
    yield server
    server.stop()
