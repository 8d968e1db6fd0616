"""Plans made elsewhere on the real command line: ``tfpilot plan show FILE`` and ``tfpilot cost
estimate FILE`` (with the stand-in ``infracost``), text and ``--json``; ``tfpilot plan
REQUEST_ID`` still plans a request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infracost_standin import KEY, StandIn, plan_doc

pytestmark = pytest.mark.slow

SECRET = "hunter2-very-secret"


def tfpilot(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "TFPILOT_HOME": str(home / "tfpilot"),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
        "CHECKPOINT_DISABLE": "1",
    }
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=home,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path, standin: StandIn) -> Path:
    (tmp_path / "tfpilot").mkdir()
    (tmp_path / "tfpilot.toml").write_text(
        '[core]\ncost_estimators = ["infracost"]\n'
        f'[plugins.cost_infracost]\nbinary = "{standin.path}"\napi_key = "{KEY}"\n'
    )
    document = plan_doc({"test_vm.web": "test_vm", "test_fn.api": "test_fn"})
    # A sensitive attribute and a sensitive root variable: neither may be printed.
    change = document["resource_changes"][0]["change"]
    change["after"]["password"] = SECRET
    change["after_sensitive"] = {"password": True}
    # Copied by a module into an attribute Terraform does not mark: --sensitive-input scrubs it.
    change["after"]["connection"] = f"db://app@db?password={SECRET}"
    document["variables"] = {"db_password": {"value": SECRET}}
    document["planned_values"] = {"root_module": {"resources": []}}
    (tmp_path / "plan.json").write_text(json.dumps(document))
    return tmp_path


def test_plan_show_prints_a_masked_summary_and_diff(home: Path) -> None:
    text = tfpilot(home, "plan", "show", "plan.json", "--sensitive-input", "db_password")
    assert text.returncode == 0, text.stderr
    assert "Summary: 2 to create." in text.stdout
    assert (
        "test_vm.web (create)" in text.stdout and "password: (none) -> (sensitive)" in text.stdout
    )
    assert SECRET not in text.stdout + text.stderr and "connection:" in text.stdout
    data = json.loads(
        tfpilot(
            home, "--json", "plan", "show", "plan.json", "--sensitive-input", "db_password"
        ).stdout
    )
    assert data["counts"] == {"create": 2} and data["operations"] == {}
    assert data["errored"] is False and data["incomplete"] is None
    assert {r["address"] for r in data["resources"]} == {"test_vm.web", "test_fn.api"}
    assert SECRET not in json.dumps(data)


def test_plan_show_refuses_a_broken_file_naming_it(home: Path) -> None:
    (home / "broken.json").write_text('{"format_version": "1.2", "resource_changes": 5}')
    result = tfpilot(home, "plan", "show", "broken.json")
    assert result.returncode == 3
    assert (
        "plan file broken.json is invalid" in result.stderr and "resource_changes" in result.stderr
    )
    missing = tfpilot(home, "plan", "show", "nowhere.json")
    assert missing.returncode == 3 and "nowhere.json" in missing.stderr


def test_plan_request_form_is_unchanged(home: Path) -> None:
    result = tfpilot(home, "plan", "req_dev_bucket_abcdef")
    assert result.returncode == 7 and "req_dev_bucket_abcdef" in result.stderr
    verbose = tfpilot(home, "plan", "--verbose", "req_dev_bucket_abcdef")
    assert verbose.returncode == 7 and "req_dev_bucket_abcdef" in verbose.stderr


def test_cost_estimate_prices_a_plan_file(home: Path, standin: StandIn) -> None:
    text = tfpilot(home, "cost", "estimate", "plan.json")
    assert text.returncode == 0, text.stderr
    assert "monthly    78.00 USD" in text.stdout
    assert "unknown    usage-based costs of 1 resource(s): test_fn.api" in text.stdout
    data = json.loads(tfpilot(home, "--json", "cost", "estimate", "plan.json").stdout)
    assert data["file"] == "plan.json" and data["monthly"] == "78.00"
    assert data["status"] == "estimated"
    # Infracost sees the masked plan only.
    assert standin.calls()[-1]["argv"][0] == "breakdown"


def test_cost_estimate_of_an_errored_infracost_project_fails(home: Path, standin: StandIn) -> None:
    quota = {"code": 401, "message": "You have exceeded your monthly run quota"}
    standin.configure(**{**standin.config, "project_errors": {"0": [quota]}})
    result = tfpilot(home, "--json", "cost", "estimate", "plan.json")
    assert result.returncode == 10, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "failed" and data["monthly"] is None
    assert "exceeded your monthly run quota (code 401)" in data["error"]
