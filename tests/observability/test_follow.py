"""``tfpilot logs REQ --follow`` waits for a running attempt and prints its log when it ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tfpilot_core.catalog.ids import new_request_id
from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.models import Conclusion, Placement, Request, RunAttempt, RunKind, RunStatus
from tfpilot_core.run_logs import capture
from tfpilot_core.stores.sqlite import SQLiteStore


def test_follow_prints_the_log_of_an_attempt_that_finishes_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TFPILOT_HOME", str(tmp_path))
    (tmp_path / "tfpilot.toml").write_text('[users.carol]\nrole = "admin"\n')
    store = SQLiteStore(tmp_path / "tfpilot.db")
    attempt = RunAttempt(
        id="plan-1-0000abcd",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor="carol",
        status=RunStatus.IN_PROGRESS,
    )
    request = store.create_request(
        Request(
            id=new_request_id("dev", "sandbox/bucket"),
            placement=Placement(
                project="shop", environment="dev", module="sandbox/bucket", module_version="v1"
            ),
            inputs={},
            created_by="carol",
            runs={RunKind.PLAN: [attempt]},
        )
    )

    def finish() -> None:
        time.sleep(1.5)
        capture(store, request, attempt, "$ terraform plan\nPlan: 1 to add", [])
        current = store.get_request(request.id)
        done = attempt.advanced(status=RunStatus.COMPLETED, conclusion=Conclusion.SUCCESS)
        current.runs[RunKind.PLAN] = [done]
        store.put_request(current, expected_version=current.version)

    worker = threading.Thread(target=finish)
    started = time.monotonic()
    worker.start()
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(tmp_path / "tfpilot.toml"),
            "--as",
            "carol",
            "logs",
            request.id,
            "--follow",
        ],
        obj=App(),
    )
    worker.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.5  # it waited for the run to end
    assert "Plan: 1 to add" in result.output and "=== plan-1-0000abcd (plan" in result.output
