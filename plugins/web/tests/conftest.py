"""Unit-level fixtures: a platform over the embedded store with a small module and a fake runner.

The fake runner stands in for Terraform in the API and UI unit tests only; the browser test
(``test_browser.py``) plans with real Terraform and the sandbox provider.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.config import UserSettings
from tfpilot_core.interfaces import RunResult, RunSpec
from tfpilot_core.models import Role
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import module_source_plugin, plugin_with

MODULE_TF = """
variable "name" {
  type = string
}
variable "region" {
  type    = string
  default = "local-1"
}
variable "versioning" {
  type    = bool
  default = true
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
"""

MODULE_TOML = """
description = "A test bucket"
category = "storage"
risk = "low"
name_input = "name"
tags_input = "tags"
[inputs.region]
allowed = ["local-1", "local-2"]
[inputs.password]
sensitive = true
"""

USERS = {
    "viv": Role.VIEWER,
    "dev": Role.DEVELOPER,
    "appr": Role.APPROVER,
    "admin": Role.ADMIN,
}


class FakeRunner:
    """Plans one bucket from the request's inputs; applies and destroys successfully."""

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        action = "delete" if destroy else "create"
        document = {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "sandbox_bucket.this",
                    "mode": "managed",
                    "type": "sandbox_bucket",
                    "name": "this",
                    "change": {"actions": [action], "before": None, "after": {"n": 1}},
                }
            ],
        }
        data = json.dumps(document, sort_keys=True).encode()
        return RunResult(
            success=True,
            plan_json=document,
            plan_file=b"PLAN" + data,
            rendered_digest=hashlib.sha256(data).hexdigest(),
        )

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        return RunResult(success=True, state=b'{"version": 4}')

    def destroy(self, spec: RunSpec) -> RunResult:
        return RunResult(success=True, state=b'{"version": 4}')


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    """The test module on disk."""
    path = tmp_path / "modules" / "test" / "bucket"
    path.mkdir(parents=True)
    (path / "variables.tf").write_text(MODULE_TF)
    (path / "tfpilot.module.toml").write_text(MODULE_TOML)
    return path


@pytest.fixture
def platform(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str], module_dir: Path
) -> Platform:
    """A platform with the test module, the fake runner and a user of every role."""
    register_plugin(module_source_plugin({"test/bucket": module_dir}), name="test_modules")
    runner = FakeRunner()
    register_plugin(
        plugin_with(
            "tfpilot_register_runners",
            lambda: [Registration(name="fake", factory=lambda s, c: runner)],
        ),
        name="fake_runner",
    )
    config = tfpilot_host.config
    config.users = {name: UserSettings(role=role) for name, role in USERS.items()}
    config.core.runner = "fake"
    return Platform(tfpilot_host)


@pytest.fixture
def tokens(platform: Platform) -> dict[str, str]:
    """An API token for every user, made the way ``tokens create`` makes them."""
    from tfpilot_web.auth import create_token

    return {user: create_token(platform, "admin", user=user)[0] for user in USERS}


@pytest.fixture
def client(platform: Platform) -> Any:
    """A TestClient over ``create_app(platform)``."""
    from fastapi.testclient import TestClient

    from tfpilot_web import create_app

    with TestClient(create_app(platform)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


# The browser tests' Chromium (``*_browser.py``), defined with the rest of their set-up.
from .browser_support import browser as browser  # noqa: E402
