"""Fixtures: plan documents, the stand-in ``infracost``, and a platform whose runner returns a
given plan (what the local runner returns after ``show -json``)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The helpers beside this file (tests run with --import-mode=importlib, which adds no paths).
sys.path.insert(0, str(Path(__file__).parent))

from infracost_standin import KEY, StandIn, install, plan_doc

from tfpilot_core.config import UserSettings
from tfpilot_core.interfaces import RunResult, RunSpec
from tfpilot_core.models import Role
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import module_source_plugin, plugin_with
from tfpilot_cost_infracost import plugin as cost_plugin
from tfpilot_policy_builtin import plugin as policy_plugin


@pytest.fixture
def standin(tmp_path: Path) -> StandIn:
    """The stand-in ``infracost``, expecting :data:`KEY`, pricing instances and queues."""
    return install(
        tmp_path / "bin",
        key=KEY,
        prices={"test_vm": "73.00", "test_db": "200.00"},
        subresources=["test_vm"],
        usage_based=["test_fn"],
    )


class PlanRunner:
    """Plans return ``self.document``; applies and destroys succeed."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = plan_doc({})

    def plan(self, spec: RunSpec, *, refresh_only: bool = False, **_: Any) -> RunResult:
        data = json.dumps(self.document, sort_keys=True).encode()
        return RunResult(
            success=True,
            plan_json=self.document,
            plan_file=b"PLAN" + data,
            rendered_digest=hashlib.sha256(data).hexdigest(),
        )

    def apply(self, spec: RunSpec, plan_file: bytes, **_: Any) -> RunResult:
        return RunResult(success=True, state=b"{}")

    def destroy(self, spec: RunSpec, **_: Any) -> RunResult:
        return RunResult(success=True, state=b"{}")


@pytest.fixture
def runner() -> PlanRunner:
    return PlanRunner()


@pytest.fixture
def make_platform(
    tfpilot_host: PluginHost,
    register_plugin: Callable[..., str],
    tmp_path: Path,
    runner: PlanRunner,
    standin: StandIn,
) -> Callable[..., Platform]:
    """``make_platform(budget=..., levels=..., **infracost_settings)``: a platform with the
    embedded store, a test module, this plugin (estimator + budget pack) and policy_builtin."""

    def make(
        *,
        budget: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Platform:
        module = tmp_path / "modules" / "app"
        module.mkdir(parents=True, exist_ok=True)
        (module / "variables.tf").write_text('variable "name" {\n  type = string\n}\n')
        (module / "tfpilot.module.toml").write_text(
            'description = "An app"\ncategory = "compute"\nrisk = "low"\nname_input = "name"\n'
        )
        register_plugin(module_source_plugin({"test/app": module}), name="test_modules")
        register_plugin(
            plugin_with(
                "tfpilot_register_runners",
                lambda: [Registration(name="plan_runner", factory=lambda s, c: runner)],
            ),
            name="plan_runner",
        )
        register_plugin(policy_plugin, name="policy_builtin")
        register_plugin(cost_plugin, name="cost_infracost")
        config = tfpilot_host.config
        config.users = {
            "dev": UserSettings(role=Role.DEVELOPER),
            "appr": UserSettings(role=Role.APPROVER),
        }
        config.core.runner = "plan_runner"
        config.core.cost_estimators = ["infracost"]
        config.plugins["cost_infracost"] = {
            "binary": str(standin.path),
            "api_key": KEY,
            **settings,
        }
        policy_settings: dict[str, Any] = {"required_tags": [], **(policy or {})}
        if budget is not None:
            policy_settings.setdefault("rule_params", {})["cost.budget"] = budget
        config.plugins["policy_builtin"] = policy_settings
        return Platform(tfpilot_host)

    return make
