"""The governance examples of the hardening issue, through the command line, with real Terraform.

Each example is a bypass that used to work; here each is refused with the documented exit code.
The Platform-level versions (and the rest of the items) are in tests/platform/test_hardening.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode

pytestmark = pytest.mark.slow

CONFIG = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.dora]
role = "approver"
[users.carol]
role = "admin"
[users.shopviewer]
[[users.shopviewer.grants]]
role = "viewer"
projects = ["shop"]

[plugins.policy_builtin]
required_tags = ["tfpilot:request_id", "owner"]

[[core.environments]]
key = "dev"
auto_apply = true
[[core.environments]]
key = "prod"
protected = true
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(CONFIG)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    monkeypatch.delenv("TFPILOT_USER", raising=False)
    return home


def run(user: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--as", user, "--json", *args], obj=App())


def _id(result: Result) -> str:
    assert result.exit_code == 0, result.output
    data, _ = json.JSONDecoder().raw_decode(result.output)
    return str(data["id"])


def _plan(request_id: str) -> str:
    """The digest of the request's latest plan, as `requests show` gives it to a reviewer."""
    data, _ = json.JSONDecoder().raw_decode(run("carol", "requests", "show", request_id).output)
    return str([a for a in data["runs"]["plan"] if a.get("plan_digest")][-1]["plan_digest"])


def _create(user: str, env: str, project: str, **inputs: str) -> str:
    sets = [a for k, v in {"name": "logs", **inputs}.items() for a in ("--set", f"{k}={v}")]
    args = ["requests", "create", "--module", "sandbox/bucket", "--env", env, "--project", project]
    return _id(run(user, *args, *sets))


def test_governance_examples_through_the_cli(home: Path) -> None:
    # 1. Four eyes: bob updates alice's prod request, plans it, and may not approve it alone.
    prod = _create("alice", "prod", "shop", tags='{"owner": "alice"}')
    updated = run("bob", "requests", "update", prod, "--set", 'tags={"owner": "alice", "x": "b"}')
    assert updated.exit_code == 0, updated.output
    assert run("bob", "plan", prod).exit_code == 0
    refused = run("bob", "approve", prod)
    assert refused.exit_code == ExitCode.FORBIDDEN and "four eyes" in refused.output
    assert run("dora", "approve", prod).exit_code == ExitCode.VALIDATION  # name the plan
    assert run("dora", "approve", prod, "--plan", _plan(prod)).exit_code == 0
    assert run("dora", "apply", prod).exit_code == 0

    # 2. auto_apply stays inside policy: a plan with a mandatory finding (no owner tag) in an
    # auto_apply dev is not applied without an approver's override.
    public = _create("alice", "dev", "shop")
    planned = run("alice", "plan", public)
    assert planned.exit_code == 0, planned.output
    applied = run("alice", "apply", public)
    assert applied.exit_code == ExitCode.FORBIDDEN, applied.output
    assert "auto_apply stays inside policy" in applied.output

    # 3. Reads are scoped: a viewer of project shop sees none of project bank.
    bank = _create("alice", "dev", "bank", tags='{"owner": "alice"}')
    listed = run("shopviewer", "requests", "list")
    ids = [r["id"] for r in json.JSONDecoder().raw_decode(listed.output)[0]["items"]]
    assert bank not in ids and prod in ids
    for args in (("requests", "show", bank), ("timeline", bank), ("audit", "export", bank)):
        assert run("shopviewer", *args).exit_code == ExitCode.FORBIDDEN, args

    # 8. Destroy is a reviewed change in prod: carol asks, may not approve, dora approves.
    # --yes is no bypass in prod: refused (exit 3) rather than quietly only planning.
    assert run("carol", "destroy", prod, "--yes").exit_code == ExitCode.VALIDATION
    assert run("carol", "destroy", prod).exit_code == 0
    assert run("carol", "approve", prod).exit_code == ExitCode.FORBIDDEN
    approved = run(
        "dora", "approve", prod, "--plan", _plan(prod),
        "--override", "destroy.protected=decommissioned",
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    assert run("bob", "apply", prod).exit_code == ExitCode.FORBIDDEN  # applying it is a destroy
    destroyed = run("carol", "apply", prod)
    assert destroyed.exit_code == 0, destroyed.output
    assert json.JSONDecoder().raw_decode(destroyed.output)[0]["status"] == "destroyed"

    # 10. The history verifies, and the export carries its head.
    verified = run("carol", "audit", "verify", prod)
    assert verified.exit_code == 0 and json.loads(verified.output)["ok"] is True
    export = json.loads(run("carol", "audit", "export", prod).output)
    assert export["event_chain"]["head"] == json.loads(verified.output)["head"]
