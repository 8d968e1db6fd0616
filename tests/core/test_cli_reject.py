"""`tfpilot reject` and `tfpilot runs cancel`: output, --json and exit codes by meaning.

Real Terraform on the sandbox provider plans the request (the local runner).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "approver"\n'
        '[users.carol]\nrole = "admin"\n'
        f'[plugins.sandbox]\nroot = "{tmp_path / "sandbox"}"\n'
    )
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return home


def first_json(output: str) -> dict:
    data, _ = json.JSONDecoder().raw_decode(output)
    return dict(data)


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), obj=App(), catch_exceptions=False)


def planned(name: str) -> tuple[str, str]:
    created = run(
        "--as", "alice", "--json", "requests", "create", "--module", "sandbox/bucket",
        "--env", "dev", "--project", "shop", "--set", f"name={name}",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    request_id = json.loads(created.output)["id"]
    plan = run("--as", "alice", "--json", "plan", request_id)
    assert plan.exit_code == 0, plan.output
    shown = json.loads(run("--json", "--as", "bob", "requests", "show", request_id).output)
    digest = next(r for r in shown["runs"]["plan"])["plan_digest"]
    return request_id, digest


def test_reject_and_request_changes(home: Path) -> None:
    request_id, digest = planned("rej")
    # Exit 3: no reason (click: the option is required; the core: an empty one).
    missing = run("--as", "bob", "reject", request_id, "--plan", digest)
    assert missing.exit_code == ExitCode.USAGE and "--reason" in missing.output
    empty = run("--as", "bob", "--json", "reject", request_id, "--plan", digest, "--reason", " ")
    assert empty.exit_code == ExitCode.VALIDATION
    assert first_json(empty.output)["problems"][0]["field"] == "reason"
    # Exit 6: a developer may not reject.
    dev = run("--as", "alice", "reject", request_id, "--plan", digest, "--reason", "no")
    assert dev.exit_code == ExitCode.FORBIDDEN
    # Exit 8: a digest that is not the current plan's, naming the current one.
    stale = run("--as", "bob", "reject", request_id, "--plan", "0" * 64, "--reason", "no")
    assert stale.exit_code == ExitCode.CONFLICT and digest[:12] in stale.output
    asked = run(
        "--as", "bob", "--json", "reject", request_id, "--plan", digest[:12],
        "--reason", "add a cost-center tag", "--request-changes",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.output)
    assert data["status"] == "changes_requested"
    assert data["rejections"][0]["reason"] == "add a cost-center tag"
    # A refused plan cannot be approved (exit 8), and the text output names the status.
    approve = run("--as", "bob", "approve", request_id, "--plan", digest)
    assert approve.exit_code == ExitCode.CONFLICT and "asked for changes" in approve.output
    shown = run("--as", "bob", "requests", "show", request_id)
    assert "[changes_requested]" in shown.output


def test_runs_cancel_needs_a_queued_run(home: Path) -> None:
    request_id, _ = planned("cancel")
    nothing = run("--as", "alice", "--json", "runs", "cancel", request_id)
    assert nothing.exit_code == ExitCode.CONFLICT
    assert "no queued run" in first_json(nothing.output)["message"]
