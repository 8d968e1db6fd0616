"""Exit codes hold for hostile input: every path, no traceback, the documented classes only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode

#: What a hostile argument may end in: anything documented except 1 (an internal error is a bug).
ALLOWED = {0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text('[users.dev]\nrole = "developer"\n')
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.delenv("TFPILOT_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, ["--as", "dev", *args], obj=App())


def _check(result: click.testing.Result) -> None:
    # CliRunner catches what the CLI let through: anything but SystemExit is an unhandled bug.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in ALLOWED, (result.exit_code, result.output)
    assert "Traceback" not in result.output


def test_a_traversal_project_is_invalid_input(home: Path) -> None:
    result = run(
        "requests", "create", "--module", "sandbox/bucket", "--env", "dev",
        "--project", "../../x", "--set", "name=a",
    )  # fmt: skip
    assert result.exit_code == ExitCode.VALIDATION, result.output
    assert "project" in result.output


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe[core]\n", "not UTF-8"),
        (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"[core\n", "not valid TOML"),
    ],
    ids=["undecodable", "too-deep", "broken"],
)
def test_a_bad_config_file_exits_4_naming_it(home: Path, content: bytes, match: str) -> None:
    (home / "tfpilot.toml").write_bytes(content)
    result = run("requests", "list")
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "tfpilot.toml" in result.output and match in result.output


def test_a_corrupted_artifact_is_a_conflict(home: Path) -> None:
    from tfpilot_core.stores.sqlite import SQLiteStore, StoreCorruptionError

    store = SQLiteStore(home / "tfpilot.db")
    store.put_artifact("req_dev_bucket_abcdef", "plan-1.tfplan", b"the plan")
    with sqlite3.connect(home / "tfpilot.db") as conn:
        conn.execute("UPDATE artifacts SET bytes = ?", (b"another plan",))
    with pytest.raises(StoreCorruptionError) as info:
        store.get_artifact("req_dev_bucket_abcdef", "plan-1.tfplan")
    assert info.value.exit_code == ExitCode.CONFLICT
    assert hashlib.sha256(b"the plan").hexdigest()  # the digest the bytes are checked against


ids = st.text(max_size=40) | st.sampled_from(["../../etc/passwd", "req_dev_x_abcdef", "", "-"])
values = st.text(max_size=60) | st.sampled_from(["[" * 300, '{"a": ' * 50, "\x00", "${x}"])


@settings(
    max_examples=40,
    deadline=None,
    # The home fixture is shared by the examples on purpose (one store, many hostile calls), and
    # a loaded CI machine must not turn slowness into a failure: only the assertions count.
    suppress_health_check=list(HealthCheck),
)
@given(
    request_id=ids,
    project=st.text(max_size=30),
    env=st.text(max_size=12),
    key=st.text(max_size=20),
    value=values,
    status=st.text(max_size=15),
)
def test_arbitrary_strings_never_crash_the_cli(
    home: Path, request_id: str, project: str, env: str, key: str, value: str, status: str
) -> None:
    if "\x00" in request_id + project + env + key + status:
        return  # the OS refuses NUL in argv: a CLI can never receive it
    for args in (
        ["requests", "show", request_id],
        ["--json", "requests", "show", request_id],
        ["timeline", request_id],
        ["audit", "export", request_id],
        ["audit", "verify", request_id],
        ["plan", request_id],
        ["approve", request_id, "--plan", value[:20]],
        ["requests", "list", "--status", status, "--env", env, "--project", project],
        [
            "requests", "create", "--module", "sandbox/bucket", "--env", env or "dev",
            "--project", project or "shop", "--set", f"{key}={value}",
        ],
        ["requests", "update", request_id, "--set", f"name={value}"],
    ):  # fmt: skip
        if any("\x00" in a for a in args):
            continue
        _check(run(*args))


def test_json_errors_are_one_object(home: Path) -> None:
    result = run("--json", "requests", "show", "../../x")
    assert result.exit_code == ExitCode.VALIDATION
    data, _ = json.JSONDecoder().raw_decode(result.output)
    assert data["exit_code"] == ExitCode.VALIDATION and data["problems"][0]["field"]
