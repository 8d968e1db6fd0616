"""A plugin author's failure paths, through the real ``tfpilot`` entry point (in process).

Plugins are modules written to ``tmp_path`` and offered as entry points of named distributions
(``tfpilot_core.entrypoints.scan`` answers with them), as installed plugins would be.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tfpilot_core.cli import main
from tfpilot_core.entrypoints import EntryPointInfo
from tfpilot_core.errors import ExitCode

Run = Callable[..., tuple[int, str, str]]

RAISING_HOOK = """
from tfpilot_core import hookimpl
@hookimpl
def tfpilot_register_notifiers():
    raise RuntimeError("the chat client is misconfigured")
"""

NOTIFIER = """
from tfpilot_core import hookimpl
@hookimpl
def tfpilot_register_notifiers():
    return []
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, str]]:
    """``plugins[module] = (entry-point name, code)``; each module is its own distribution."""
    offered: dict[str, tuple[str, str]] = {}
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    monkeypatch.syspath_prepend(str(code_dir))

    def scan() -> list[EntryPointInfo]:
        found = []
        for module, (name, code) in offered.items():
            (code_dir / f"{module}.py").write_text(textwrap.dedent(code))
            dist = f"tfpilot-{module.replace('_', '-')}"
            found.append(EntryPointInfo(name, module, dist, "1.0"))
        return found

    monkeypatch.setattr("tfpilot_core.entrypoints.scan", scan)
    monkeypatch.setattr("tfpilot_core.entrypoints.cached_scan", scan)
    return offered


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text('[users.dev]\nrole = "developer"\n')
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TFPILOT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("TFPILOT_LOAD_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], home: Path) -> Run:
    import structlog

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        # The CLI configures logging to this call's (captured) stderr: undo it after each call.
        previous = structlog.get_config()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            structlog.configure(**previous)
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


def modules_dir(home: Path) -> Path:
    module = home / "modules" / "test" / "plain"
    module.mkdir(parents=True)
    (module / "main.tf").write_text('variable "name" {\n  type = string\n}\n')
    return home / "modules"


def test_a_selected_notifier_whose_hook_raised_is_exit_5_and_nothing_is_stored(
    plugins: dict[str, tuple[str, str]], run: Run, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins["chat_plugin"] = ("chat", RAISING_HOOK)
    root = modules_dir(home)
    (home / "tfpilot.toml").write_text(
        '[users.dev]\nrole = "developer"\n[core]\nnotifiers = ["chat"]\n'
        f'[plugins.modules_dir]\npaths = ["{root}"]\n'
    )
    create = ("--as", "dev", "requests", "create", "--module", "test/plain", "--env", "dev")
    for _ in range(2):  # a retry leaves no orphan either
        code, out, err = run(*create, "--project", "shop", "--set", "name=x")
        assert code == ExitCode.PLUGIN, (out, err)
        [error] = [line for line in err.splitlines() if line.startswith("Error:")]
        assert "'chat'" in error and "tfpilot-chat-plugin" in error
        assert "core.notifiers" in error and "the chat client is misconfigured" in error
        assert "is installed" not in err
    code, out, err = run("--as", "dev", "--json", "requests", "list")
    assert code == 0, err
    assert "req_" not in out
    monkeypatch.setenv("TFPILOT_DISABLE_PLUGINS", "chat")
    # The control: without the broken selection the same create stores a request, and lists it.
    (home / "tfpilot.toml").write_text(
        f'[users.dev]\nrole = "developer"\n[plugins.modules_dir]\npaths = ["{root}"]\n'
    )
    code, out, err = run(*create, "--project", "shop", "--set", "name=x")
    assert code == 0, (out, err)
    code, out, err = run("--as", "dev", "--json", "requests", "list")
    assert out.count("req_") >= 1, out


def test_duplicate_names_are_reported_by_the_diagnostic_commands(
    plugins: dict[str, tuple[str, str]], run: Run
) -> None:
    plugins["first_chat"] = ("chat", NOTIFIER)
    plugins["second_chat"] = ("chat", NOTIFIER)
    for args in (("--help",), ("plugins",), ("version",), ("config", "show")):
        code, out, err = run(*args)
        assert code == 0, (args, out, err)
        if args != ("--help",):
            assert "tfpilot-first-chat" in out + err and "tfpilot-second-chat" in out + err
    code, out, _ = run("--json", "plugins")
    assert code == 0
    conflicting = [p for p in json.loads(out)["items"] if p["status"] == "conflict"]
    assert {p["distribution"] for p in conflicting} == {"tfpilot-first-chat", "tfpilot-second-chat"}
    assert all("TFPILOT_DISABLE_PLUGINS" in p["error"] for p in conflicting)
    code, out, _ = run("--json", "version")
    assert len(json.loads(out)["conflicts"]) == 1


def test_duplicate_names_stop_other_commands_and_one_can_be_disabled(
    plugins: dict[str, tuple[str, str]], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins["first_chat"] = ("chat", NOTIFIER)
    plugins["second_chat"] = ("chat", NOTIFIER)
    code, out, err = run("--as", "dev", "requests", "list")
    assert code == ExitCode.PLUGIN, (out, err)
    assert "tfpilot-first-chat" in err and "tfpilot-second-chat" in err
    assert "TFPILOT_DISABLE_PLUGINS=tfpilot-second-chat" in err
    monkeypatch.setenv("TFPILOT_DISABLE_PLUGINS", "tfpilot-second-chat")
    code, out, err = run("--as", "dev", "requests", "list")
    assert code == 0, err
    code, out, _ = run("--json", "plugins")
    statuses = {
        (p["distribution"], p["status"]) for p in json.loads(out)["items"] if "chat" in p["name"]
    }
    assert statuses == {("tfpilot-first-chat", "loaded"), ("tfpilot-second-chat", "blocked")}


def test_config_show_validates_plugin_sections(run: Run, home: Path) -> None:
    (home / "tfpilot.toml").write_text("[plugins.store_embedded]\nsynchronous = 3\n")
    code, out, err = run("config", "show")
    assert code == ExitCode.CONFIG, (out, err)
    assert "plugins.store_embedded.synchronous" in err


def test_the_plugins_table_fits_80_columns_without_cutting_names(
    plugins: dict[str, tuple[str, str]], run: Run
) -> None:
    long_name = "a_plugin_with_a_really_quite_long_name_indeed"
    plugins["long_one"] = (long_name, NOTIFIER)
    code, out, _ = run("plugins")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert long_name in out
    code, out, _ = run("--json", "plugins")
    [info] = [p for p in json.loads(out)["items"] if p["name"] == long_name]
    assert info["hooks"] == ["tfpilot_register_notifiers"] and info["module"] == "long_one"


def test_an_invalid_plan_is_a_one_line_error(run: Run, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format_version": "2.0"}))
    code, out, err = run("policy", "check", str(plan))
    assert code == ExitCode.VALIDATION, (out, err)
    [error] = [line for line in err.splitlines() if line.strip()]
    assert error.startswith("Error:")
    assert "format_version" in err and "newer major version" in err
