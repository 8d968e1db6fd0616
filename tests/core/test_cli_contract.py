"""The command line's contract, walked over every command (core and installed plugins).

docs/cli.md promises: every command's help shows an example and every option has help text;
every command but the long-running servers takes ``--json``, and the root ``--json`` means the
same; lists come in one envelope (``{"items": [...], "next_cursor": ...}``); exit codes say what
happened (3 input, 4 configuration, 6 forbidden, 7 not found, 8 state conflict, 9 policy); a
closed pipe ends a command quietly. These tests fail when a new command or option breaks it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli, main
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode

#: Commands that serve until stopped (or narrate a run): no single document to print as JSON.
NO_JSON = {
    "demo": "narrates a whole lifecycle; its records are read with the other commands",
    "serve": "an HTTP server",
    "webhook serve": "an HTTP server",
    "mcp serve": "an MCP server on stdio",
    "sandbox edit": "changes the sandbox out of band (a test tool); sandbox ls has --json",
}

#: Lists whose JSON is not the envelope yet, with the reason (docs/cli.md says so too).
BARE_LISTS = {
    "modules list": "scripts read it as a list (the domain acceptance check among them)",
    "sandbox ls": "the sandbox plugin's own test tool prints a JSON array",
}


@pytest.fixture(scope="module", autouse=True)
def plugin_commands() -> None:
    """The installed plugins' commands on the CLI: main() adds them, as `tfpilot` does."""
    with pytest.raises(SystemExit):
        main(["--help"])


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    """Every command of the real CLI, plugins' included, by its path ("requests list")."""
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        if path:
            found[" ".join(path)] = command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name])

    walk(cli, [])
    return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "approver"\n'
        '[users.vic]\nrole = "viewer"\n[users.carol]\nrole = "admin"\n'
    )
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("TFPILOT_USER", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), obj=App())


def options(command: click.Command) -> Iterator[click.Option]:
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and "--help" not in param.opts:
            yield param


def test_the_walk_finds_core_and_plugin_commands(commands: dict[str, click.Command]) -> None:
    # A walk that found nothing would let every check below pass.
    for path in ("requests list", "drift status", "notify worker", "policy check", "version"):
        assert path in commands, path
    assert len(commands) >= 60


def test_every_help_page_shows_an_example(commands: dict[str, click.Command]) -> None:
    missing = []
    for path in commands:
        result = run(*path.split(), "--help")
        assert result.exit_code == 0, (path, result.output)
        if "example" not in result.output.lower():
            missing.append(path)
    assert not missing, f"help without an example: {missing}"


def test_every_option_has_help_text(commands: dict[str, click.Command]) -> None:
    bare = [
        f"{path} {'/'.join(option.opts)}"
        for path, command in commands.items()
        for option in options(command)
        if not option.help
    ]
    assert not bare, f"options without help: {bare}"
    assert all(o.help for o in options(cli)), "a root option without help"


def test_every_command_but_servers_takes_json(commands: dict[str, click.Command]) -> None:
    lacking = [
        path
        for path, command in commands.items()
        if not isinstance(command, click.Group)
        and path not in NO_JSON
        and not any("--json" in o.opts for o in options(command))
    ]
    assert not lacking, f"commands without --json: {lacking}"


#: Read commands that run on an empty home, and whether they print a list (the envelope).
READS = [
    (("requests", "list"), True),
    (("templates", "list"), True),
    (("notify", "list"), True),
    (("drift", "status"), True),
    (("plugins",), True),
    (("schema",), True),
    (("version",), False),
    (("config", "show"), False),
    (("metrics",), False),
    (("policy", "show"), False),
    (("notify", "prefs", "show"), False),
    (("schema", "request"), False),
]


@pytest.mark.parametrize(("args", "is_list"), READS, ids=[" ".join(a) for a, _ in READS])
def test_read_commands_print_json_root_or_command_flag(
    home: Path, args: tuple[str, ...], is_list: bool
) -> None:
    for argv in (["--as", "alice", "--json", *args], ["--as", "alice", *args, "--json"]):
        result = run(*argv)
        assert result.exit_code == 0, (argv, result.output)
        data = json.loads(result.stdout)
        if is_list:
            assert set(data) >= {"items", "next_cursor"}, (argv, sorted(data))
            assert isinstance(data["items"], list) and data["next_cursor"] is None


def test_policy_check_takes_json(home: Path, tmp_path: Path) -> None:
    plan = tmp_path / "p.json"
    plan.write_text('{"format_version":"1.2","terraform_version":"1.9.0","resource_changes":[]}')
    for argv in (
        ["policy", "check", str(plan), "--json"],
        ["--json", "policy", "check", str(plan)],
    ):
        result = run(*argv)
        assert result.exit_code == 0, result.output
        assert isinstance(json.loads(result.stdout), dict)


CREATE = ("requests", "create", "--module", "sandbox/bucket", "--project", "shop")


def _request(home: Path) -> str:
    result = run("--as", "alice", "--json", *CREATE, "--env", "dev", "--set", "name=contract")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["id"])


def test_exit_codes_by_meaning(home: Path) -> None:
    # 3: an unknown environment is the caller's input, with a did-you-mean.
    unknown = run("--as", "alice", *CREATE, "--env", "production", "--set", "name=x")
    assert unknown.exit_code == ExitCode.VALIDATION, unknown.output
    assert "unknown environment 'production'" in unknown.output and "'prod'?" in unknown.output
    # 6: a viewer may not create; 7: no such request.
    assert run("--as", "vic", *CREATE, "--env", "dev", "--set", "name=x").exit_code == 6
    missing = run("--as", "alice", "requests", "show", "req_dev_bucket_abcdef")
    assert missing.exit_code == ExitCode.NOT_FOUND, missing.output
    # 2: usage, with tfpilot's did-you-mean.
    typo = run("reqests", "list")
    assert typo.exit_code == ExitCode.USAGE and "did you mean 'requests'?" in typo.output
    # 4: the configuration itself, in tfpilot's words.
    (home / "tfpilot.toml").write_text('[core]\nstroe = "x"\n')
    broken = run("--as", "alice", "requests", "list")
    assert broken.exit_code == ExitCode.CONFIG
    assert "unknown key 'stroe' (did you mean 'store'?)" in broken.output


def test_apply_without_an_approved_plan_is_a_state_conflict(home: Path) -> None:
    request_id = _request(home)
    result = run("--as", "bob", "apply", request_id)
    assert result.exit_code == ExitCode.CONFLICT, result.output


def test_json_errors_carry_the_hint(home: Path) -> None:
    result = run("--as", "bobb", "--json", *CREATE, "--env", "dev", "--set", "name=x")
    assert result.exit_code == ExitCode.FORBIDDEN
    data = json.loads(result.stdout)
    assert data["exit_code"] == 6 and "unknown user" in data["hint"]
    assert "did you mean 'bob'?" in data["hint"]


def test_identity_hint_says_how_to_name_the_user(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "root")
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    result = run(*CREATE, "--env", "dev", "--set", "name=x")
    assert result.exit_code == ExitCode.FORBIDDEN
    assert "--as NAME or $TFPILOT_USER" in result.output and "[users.root]" in result.output
    # A configured user who is refused gets no such hint: the refusal is about rights.
    refused = run("--as", "vic", *CREATE, "--env", "dev", "--set", "name=x")
    assert "Hint:" not in refused.output


def test_a_missing_plugin_command_names_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfpilot_core.cli.hints import missing_command_text

    text = missing_command_text("serve")
    assert text is not None and "pip install tfpilot-web" in text and "web plugin" in text
    assert missing_command_text("requests") is None


def _entry(*args: str, env: dict[str, str]) -> list[str]:
    return [sys.executable, "-c", "from tfpilot_core.cli import main; main()", *args]


def test_a_closed_pipe_ends_quietly(home: Path) -> None:
    env = {**os.environ}
    # The reader closes at once; the writer's first large write meets a closed pipe.
    writer = subprocess.Popen(
        _entry("--json", "schema", "request", env=env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.close()
    err = writer.stderr.read().decode()
    assert writer.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Error" not in err


def test_version_lists_plugins_in_text(home: Path) -> None:
    result = run("version")
    assert result.exit_code == 0
    assert "tfpilot-policy-builtin" in result.output


def test_the_cli_reference_covers_every_command_and_option(
    commands: dict[str, click.Command],
) -> None:
    # docs/cli-reference.md is generated (python -m tfpilot_core.cli.reference); regenerate it
    # when a command or option is added.
    reference = (Path(__file__).parents[2] / "docs" / "cli-reference.md").read_text()
    stale = [
        f"{path} {option}"
        for path, command in commands.items()
        for option in ["", *(o.opts[0] for o in options(command))]
        if f"## `tfpilot {path}`" not in reference
        or (option and f"`{option}`" not in reference.split(f"## `tfpilot {path}`")[1])
    ]
    assert not stale, f"not in docs/cli-reference.md (regenerate it): {stale[:10]}"


def test_a_bad_request_id_is_described_by_its_real_alphabet(home: Path) -> None:
    result = run("--as", "alice", "requests", "show", "req_dev_bucket_ABC10o")
    assert result.exit_code == ExitCode.VALIDATION
    # The suffix alphabet has no look-alikes (0/o, 1/l/i): the message says which characters.
    assert "abcdefghjkmnpqrstuvwxyz23456789" in result.output


def test_runbooks_are_files_wherever_tfpilot_is_installed() -> None:
    from tfpilot_core.run_logs.runbooks import DEFAULT_RUNBOOKS, runbook_for

    for kind in DEFAULT_RUNBOOKS:
        found = runbook_for(None, kind)
        assert found is not None and Path(found).is_absolute() and Path(found).is_file(), kind


def test_a_runbook_template_is_never_printed_raw() -> None:
    from tfpilot_core.notifications.runbooks import fill

    # Outside a request (an error before one is read) the unknown placeholders are left empty.
    filled = fill("https://wiki/rb?module={module}&env={environment}&req={request}", None)
    assert "{" not in filled and filled == "https://wiki/rb?module=&env=&req="


def test_a_blocked_plan_exits_9_naming_the_rule_and_suggests_no_approval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tfpilot_core.cli.requests import _next_step, exit_if_blocked
    from tfpilot_core.models import PolicyFinding, PolicyLevel
    from tfpilot_core.testing import make_request

    request = make_request("req_prod_bucket_k3x9pq", environment="prod")
    request.policy_findings = [
        PolicyFinding(
            rule_id="s3.public_access",
            level=PolicyLevel.BLOCKING,
            message="the bucket is public",
            address="aws_s3_bucket.this",
        )
    ]
    hint = _next_step(request, "plan_ready")
    assert hint is not None and "approve" not in hint.split(";")[0] and "suggest" in hint
    with (
        click.Context(click.Command("plan"), obj=App()),
        pytest.raises(click.exceptions.Exit) as ended,
    ):
        exit_if_blocked(request)
    assert ended.value.exit_code == ExitCode.POLICY
    err = capsys.readouterr().err
    assert "blocked by policy: s3.public_access on aws_s3_bucket.this: the bucket is public" in err


def _complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash completion offers for the last word of ``words`` (click's bash protocol)."""
    result = subprocess.run(
        _entry(env=env),
        env={
            **env,
            "_TFPILOT_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


def test_completion_of_environments_modules_and_request_ids(home: Path) -> None:
    request_id = _request(home)
    env = {**os.environ, "TFPILOT_USER": "alice"}
    assert _complete("tfpilot requests create --env ", env) == ["dev", "stage", "prod"]
    assert _complete("tfpilot modules show sandbox/bu", env) == ["sandbox/bucket"]
    assert _complete("tfpilot timeline req_dev_", env) == [request_id]
    assert _complete("tfpilot timeline req_prod_", env) == []
