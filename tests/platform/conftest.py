"""A platform over the embedded store, a small module and a fake runner (unit level).

The fake runner stands in for Terraform here only; the end-to-end suites in tests/e2e use real
Terraform through the local runner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.config import Config, UserSettings
from tfpilot_core.interfaces import RunResult, RunSpec
from tfpilot_core.models import Role
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import PluginContext, Registration
from tfpilot_core.testing import module_source_plugin, plugin_with

MODULE_TF = """
variable "name" {
  type = string
}
variable "region" {
  type    = string
  default = "local-1"
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
immutable = true
"""

USERS = {
    "viv": Role.VIEWER,
    "dev": Role.DEVELOPER,
    "dana": Role.DEVELOPER,
    "appr": Role.APPROVER,
    "anna": Role.APPROVER,
    "admin": Role.ADMIN,
}


class FakeRunner:
    """Returns a plan of one bucket; records calls. Fails on demand."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_next: str | None = None
        self.drifted = False
        #: Called at the start of apply (a test may block here to stall a run).
        self.stall: Callable[[], None] | None = None

    def _plan_json(self, spec: RunSpec) -> dict[str, Any]:
        return {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "module.this.sandbox_bucket.this",
                    "module_address": "module.this",
                    "mode": "managed",
                    "type": "sandbox_bucket",
                    "name": "this",
                    "change": {
                        "actions": ["create"],
                        "before": None,
                        "after": dict(spec.request.inputs),
                    },
                }
            ],
            "resource_drift": [
                {
                    "address": "module.this.sandbox_bucket.this",
                    "mode": "managed",
                    "type": "sandbox_bucket",
                    "name": "this",
                    "change": {
                        "actions": ["update"],
                        "before": {"public": False},
                        "after": {"public": True},
                    },
                }
            ]
            if self.drifted
            else [],
        }

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        self.calls.append("refresh" if refresh_only else "destroy-plan" if destroy else "plan")
        if self.fail_next == "plan":
            self.fail_next = None
            return RunResult(success=False, error="Error: invalid region")
        document = self._plan_json(spec)
        if destroy:
            change = document["resource_changes"][0]["change"]
            change.update(actions=["delete"], before=change["after"], after=None)
        data = json.dumps(document, sort_keys=True).encode()
        return RunResult(
            success=True,
            plan_json=document,
            plan_file=b"PLAN" + data,
            exit_code=2 if (refresh_only and self.drifted) else 0,
            rendered_digest=hashlib.sha256(data).hexdigest(),
        )

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        self.calls.append("apply")
        if self.stall is not None:
            self.stall()
        if self.fail_next == "apply":
            self.fail_next = None
            return RunResult(success=False, error="Error: name taken")
        return RunResult(
            success=True,
            state=b'{"version": 4}',
            outputs={"id": {"value": "b-1", "sensitive": False}},
        )

    def destroy(self, spec: RunSpec) -> RunResult:
        self.calls.append("destroy")
        return RunResult(success=True, state=b'{"version": 4, "final": true}')


class FakeDrift:
    """Reads drift from the runner's refresh-only plan, like the real detector."""

    def check(self, spec: RunSpec, runner: Any) -> Any:
        from tfpilot_core.models import DriftReport, DriftResult
        from tfpilot_core.plan import Plan

        result = runner.plan(spec, refresh_only=True)
        plan = Plan.parse(result.plan_json)
        if result.exit_code == 2:
            return DriftReport(
                result=DriftResult.DRIFTED,
                addresses=plan.drifted_addresses,
                paths=plan.drifted_paths(),
            )
        return DriftReport(result=DriftResult.NONE)


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    """A catalog module on disk."""
    path = tmp_path / "modules" / "test" / "bucket"
    path.mkdir(parents=True)
    (path / "variables.tf").write_text(MODULE_TF)
    (path / "tfpilot.module.toml").write_text(MODULE_TOML)
    return path


@pytest.fixture
def runner() -> FakeRunner:
    """The fake runner the platform uses."""
    return FakeRunner()


def configure(config: Config) -> None:
    """Users with every role, the fake runner and detector selected."""
    config.users = {name: UserSettings(role=role) for name, role in USERS.items()}
    config.core.runner = "fake"
    config.core.drift_detector = "fake"


@pytest.fixture
def platform(
    tfpilot_host: PluginHost,
    register_plugin: Callable[..., str],
    module_dir: Path,
    runner: FakeRunner,
) -> Platform:
    """A platform with the test module, the fake runner and users of every role."""
    register_plugin(module_source_plugin({"test/bucket": module_dir}), name="test_modules")
    register_plugin(
        plugin_with(
            "tfpilot_register_runners",
            lambda: [Registration(name="fake", factory=lambda s, c: runner)],
        ),
        name="fake_runner",
    )
    register_plugin(
        plugin_with(
            "tfpilot_register_drift_detectors",
            lambda: [Registration(name="fake", factory=lambda s, c: FakeDrift())],
        ),
        name="fake_drift",
    )
    configure(tfpilot_host.config)
    return Platform(tfpilot_host)


def context_of(config: Config) -> PluginContext:
    """The plugin context for a config."""
    return PluginContext.for_config(config)
