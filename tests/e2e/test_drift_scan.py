"""`tfpilot drift scan`: every applied request checked, a summary, and an exit code that says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow


def test_drift_scan(
    make_platform: Callable[..., Platform],
    sandbox_objects: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = make_platform()
    objects = sandbox_objects(platform)
    applied = []
    for name in ("one", "two"):
        request = platform.create(
            "alice", module="sandbox/bucket", environment="dev", project="p1", inputs={"name": name}
        )
        platform.plan("alice", request.id)
        platform.approve("bob", request.id)
        applied.append(platform.apply("bob", request.id))
    # Not applied: never checked.
    platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="p1", inputs={"name": "three"}
    )
    monkeypatch.setenv("TFPILOT_HOME", str(platform.config.home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(platform.config.source))
    runner = CliRunner()

    clean = runner.invoke(cli, ["--as", "alice", "drift", "scan", "--json"], obj=App())
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.output)
    assert report["checked"] == 2 and report["counts"] == {"none": 2, "drifted": 0, "error": 0}

    objects.update("sandbox_bucket", applied[1].inputs["name"], {"encryption": False})
    drifted = runner.invoke(
        cli, ["--as", "alice", "drift", "scan", "--json", "--parallel", "2"], obj=App()
    )
    assert drifted.exit_code == ExitCode.FOUND, drifted.output
    report = json.loads(drifted.output)
    assert report["counts"] == {"none": 1, "drifted": 1, "error": 0}
    [row] = [r for r in report["results"] if r["result"] == "drifted"]
    assert row["request_id"] == applied[1].id
    assert row["addresses"] == ["module.this.sandbox_bucket.this"]

    table = runner.invoke(cli, ["--as", "alice", "drift", "scan", "--env", "dev"], obj=App())
    assert table.exit_code == ExitCode.FOUND
    assert "2 applied request(s): 1 drifted, 0 error(s)" in table.output
