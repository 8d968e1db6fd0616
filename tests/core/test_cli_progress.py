"""Progress while long commands work, the notification worker loop, and drift status."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import click
import pytest

from tfpilot_core.cli.app import App
from tfpilot_core.cli.progress import Spinner, progress, step_of
from tfpilot_core.cli.worker import run_worker
from tfpilot_core.log import get_logger


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_steps_come_from_log_lines() -> None:
    assert step_of("terraform_started", {"command": "plan"}) == "terraform plan"
    assert step_of("event", {"type": "plan_succeeded"}) == "policy, cost and summary"
    assert step_of("event", {"type": "request_created"}) is None
    assert step_of("something_else", {}) is None


def test_spinner_shows_step_and_time_and_streams_output_when_verbose() -> None:
    stream = Terminal()
    log = get_logger("tfpilot.test").bind(command="plan")
    from tfpilot_core.log import listening

    spinner = Spinner("planning req", stream, animate=True, verbose=True)
    with spinner, listening(spinner.listen):
        log.info("terraform_started", args=["plan"])
        log.info("terraform_output", stream="stdout", line="Plan: 1 to add (masked)")
        time.sleep(0.25)
    text = stream.getvalue()
    assert "planning req: terraform plan (0s)" in text
    assert "Plan: 1 to add (masked)\n" in text
    # The status line is cleared at the end: the next output starts on a clean line.
    assert text.endswith("\r\033[2K")


def test_progress_adds_nothing_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = threading.active_count()
    with click.Context(click.Command("x"), obj=App()), progress("planning"):
        assert threading.active_count() == before  # no spinner thread
        time.sleep(0.15)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_stays_quiet_with_json_even_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    with click.Context(click.Command("x"), obj=App(json=True)), progress("planning"):
        time.sleep(0.15)
    assert stream.getvalue() == ""


def test_worker_runs_rounds_and_survives_a_failing_job() -> None:
    calls: list[str] = []
    reports: list[tuple[int, dict[str, Any]]] = []

    def deliver() -> dict[str, int]:
        calls.append("deliver")
        return {"delivered": 2}

    def digest() -> dict[str, int]:
        calls.append("digest")
        raise RuntimeError("smtp down")

    done = run_worker(
        [("deliver", deliver), ("digest", digest)],
        interval=0.01,
        rounds=3,
        report=lambda n, counts: reports.append((n, counts)),
    )
    assert done == 3 and calls == ["deliver", "digest"] * 3
    assert reports[-1] == (3, {"deliver": {"delivered": 2}, "digest": {"errors": 1}})


def test_worker_stops_when_asked() -> None:
    stop = threading.Event()
    rounds: list[int] = []

    def job() -> dict[str, int]:
        if len(rounds) == 1:
            stop.set()
        return {}

    done = run_worker(
        [("job", job)], interval=0.01, report=lambda n, _: rounds.append(n), stop=stop
    )
    assert done == 2
