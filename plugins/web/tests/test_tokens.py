"""``tfpilot tokens create|list|revoke`` and ``tfpilot serve``'s help, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import main

CONFIG = """
[users.root]
role = "admin"
[users.dev]
role = "developer"
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(CONFIG)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Any:
        result = CliRunner().invoke(_entry, list(args), catch_exceptions=False)
        return result

    return run


def _entry_main(args: list[str]) -> None:
    main(args)


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))


def test_tokens_lifecycle(cli: Any, tmp_path: Path) -> None:
    created = cli("--as", "root", "tokens", "create", "--user", "dev", "--name", "ci", "--json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["token"].startswith("tfp_") and data["user"] == "dev"
    # Stored only as a hash: the token itself is nowhere under the home.
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert data["token"].encode() not in path.read_bytes(), path
    listed = json.loads(cli("--as", "root", "tokens", "list", "--json").output)["items"]
    assert [(t["id"], t["user"], t["name"]) for t in listed] == [(data["id"], "dev", "ci")]
    assert "token" not in listed[0]
    denied = cli("--as", "dev", "tokens", "list")
    assert denied.exit_code == 6 and "needs role admin" in denied.output
    revoked = cli("--as", "root", "tokens", "revoke", data["id"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(cli("--as", "root", "tokens", "list", "--json").output)["items"] == []
    assert cli("--as", "root", "tokens", "revoke", data["id"]).exit_code == 7


def test_serve_help_does_not_import_the_web_stack(cli: Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from tfpilot_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('fastapi', 'uvicorn', 'starlette', 'jinja2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "serve" in out.stdout and "tokens" in out.stdout


def test_api_token_identity_provider_for_the_cli(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = json.loads(cli("--as", "root", "tokens", "create", "--user", "dev", "--json").output)
    config = tmp_path / "home" / "tfpilot.toml"
    config.write_text(CONFIG + '[core]\nidentity = "api_token"\n')
    monkeypatch.delenv("TFPILOT_USER", raising=False)
    # No token: refused (fail closed), never a fallback to $USER.
    assert cli("tokens", "list").exit_code == 6
    monkeypatch.setenv("TFPILOT_TOKEN", token["token"])
    denied = cli("tokens", "list")
    # The token proves "dev", who is not an admin: the core's role decides.
    assert denied.exit_code == 6 and "dev (developer)" in denied.output
    monkeypatch.setenv("TFPILOT_TOKEN", "tfp_revoked-or-made-up")
    assert "not a valid API token" in cli("tokens", "list").output
