"""The CLI end to end with real Terraform: a failed plan's log found by a word of its error, only
by those who may read it; runbooks in the error output, the timeline and ``requests show``;
``tfpilot metrics`` in every format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfpilot_core.config import load_config
from tfpilot_core.run_logs.runbooks import runbook_for

pytestmark = pytest.mark.slow

SECRET = "pa55-w0rd-never-shown"
MODULE = {
    "variables.tf": """
variable "name" {
  type = string
  validation {
    condition     = !startswith(var.name, "fail")
    error_message = "Names starting with fail are refused by this module."
  }
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
""",
    "main.tf": 'resource "terraform_data" "this" {\n  input = { name = var.name }\n}\n',
    "tfpilot.module.toml": 'description = "plain"\ncategory = "test"\nrisk = "low"\n'
    'name_input = "name"\n[inputs.password]\nsensitive = true\n',
}
CONFIG = """
[users.alice]
role = "developer"
[users.carol]
role = "admin"
[users.scoped]
grants = [{ role = "viewer", projects = ["shop"] }]
[notifications.runbooks]
apply_failed = "https://wiki.example/runbooks/apply?request={request}"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    plain = tmp_path / "modules" / "test" / "plain"
    plain.mkdir(parents=True)
    for name, text in MODULE.items():
        (plain / name).write_text(text)
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        CONFIG + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
    )
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "HOME": str(home),
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"),
        "TFPILOT_USER": "alice",
    }


def tfpilot(
    env: dict[str, str], *args: str, user: str = "alice"
) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tfpilot")
    return subprocess.run(
        [exe, "--as", user, *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_failed_plan_log_search_runbooks_and_metrics(env: dict[str, str]) -> None:
    created = {}
    for project in ("shop", "bank"):
        out = tfpilot(
            env,
            "--json",
            "requests",
            "create",
            "--module",
            "test/plain",
            "--env",
            "dev",
            "--project",
            project,
            "--set",
            "name=failing",
            "--set",
            f"password={SECRET}",
        )
        assert out.returncode == 0, out.stderr
        created[project] = json.loads(out.stdout)["id"]
    shop = created["shop"]

    failed = tfpilot(env, "plan", shop)
    assert failed.returncode == 10, failed.stderr
    assert "Runbook: " in failed.stderr and "runbooks/plan-failed.md" in failed.stderr
    assert tfpilot(env, "plan", created["bank"]).returncode == 10

    timeline = tfpilot(env, "timeline", shop)
    assert "plan_failed" in timeline.stdout and "runbooks/plan-failed.md" in timeline.stdout
    shown = tfpilot(env, "requests", "show", shop)
    assert "runbook     /" in shown.stdout and "runbooks/plan-failed.md" in shown.stdout

    logs = tfpilot(env, "logs", shop)
    assert logs.returncode == 0, logs.stderr
    assert "$ terraform init" in logs.stdout and "Names starting with fail" in logs.stdout

    # A word of Terraform's error finds both logs for an admin, only shop's for a scoped viewer.
    admin = json.loads(tfpilot(env, "--json", "logs", "search", "refused", user="carol").stdout)
    assert {h["request_id"] for h in admin["hits"] if h["source"] == "log"} == set(created.values())
    scoped = tfpilot(env, "--json", "logs", "search", "refused", user="scoped")
    assert scoped.returncode == 0, scoped.stderr
    hits = json.loads(scoped.stdout)["hits"]
    assert hits and {h["request_id"] for h in hits} == {shop}
    for text in (
        failed.stderr,
        timeline.stdout,
        shown.stdout,
        logs.stdout,
        scoped.stdout,
        json.dumps(admin),
    ):
        assert SECRET not in text

    report = json.loads(tfpilot(env, "--json", "metrics", "--by", "project", user="carol").stdout)
    assert report["groups"]["shop"]["runs"]["plan"]["failed"] == 1
    assert report["totals"]["runs"]["plan"] == {"succeeded": 0, "failed": 2, "success_rate": 0.0}
    scoped_report = json.loads(
        tfpilot(env, "--json", "metrics", "--by", "project", user="scoped").stdout
    )
    assert set(scoped_report["groups"]) == {"shop"}
    om = tfpilot(env, "metrics", "--format", "openmetrics", user="carol").stdout
    assert om.endswith("# EOF\n") and 'outcome="failed"' in om
    assert "Window:" in tfpilot(env, "metrics", user="carol").stdout


def test_configured_runbook_wins(env: dict[str, str]) -> None:
    config = load_config(Path(env["TFPILOT_CONFIG"]), environ={})
    configured = runbook_for(config, "apply_failed")
    assert configured is not None and configured.startswith("https://wiki.example/runbooks/apply")
    # The shipped runbooks, as absolute paths that exist (docs/runbooks, or the wheel's copy).
    for kind, name in (("plan_failed", "plan-failed.md"), ("state_locked", "state-lock.md")):
        found = runbook_for(config if kind == "plan_failed" else None, kind)
        assert found is not None and found.endswith(f"runbooks/{name}")
        assert Path(found).is_absolute() and Path(found).is_file()
