"""The webhook receiver reaches `tfpilot serve` through the route hook, only when it can verify."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tfpilot_core.platform import Platform


def _platform(tmp_path: Path, github: str) -> Platform:
    config = tmp_path / "tfpilot.toml"
    config.write_text(github)
    return Platform.from_config(
        config, environ={"TFPILOT_HOME": str(tmp_path / "home"), "TFPILOT_CONFIG": str(config)}
    )


def test_nothing_is_mounted_without_a_webhook_secret(tmp_path: Path) -> None:
    platform = _platform(tmp_path, "")
    assert [r.prefix for _, r in platform.host.routes()] == []


def test_the_receiver_is_mounted_and_verifies(tmp_path: Path) -> None:
    pytest.importorskip("tfpilot_web")
    from fastapi.testclient import TestClient

    from tfpilot_web.app import create_app
    from tfpilot_web.testing import check_routes

    platform = _platform(
        tmp_path,
        '[plugins.runner_github]\nrepository = "acme/infra"\ntoken = "t0ken-value"\n'
        'webhook_secret = "s3cret-hook"\n',
    )
    [(plugin, routes)] = platform.host.routes()
    assert plugin == "runner_github" and routes.prefix == "/hooks/github"
    check_routes(platform)
    client = TestClient(create_app(platform))
    body = json.dumps({"zen": "hi"}).encode()
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1"}
    unsigned = client.post("/hooks/github/github", content=body, headers=headers)
    assert unsigned.status_code == 401
    signature = "sha256=" + hmac.new(b"s3cret-hook", body, hashlib.sha256).hexdigest()
    signed = client.post(
        "/hooks/github/github",
        content=body,
        headers={**headers, "X-Hub-Signature-256": signature},
    )
    assert signed.status_code < 300, signed.text
