"""One correlation id from the dispatcher, through the dispatch input, into the Actions job and
back: the dispatcher's events, the payload, the job's JSON log lines, its spans and the events it
stores, and ``tfpilot trace REQ`` linking the attempt to its workflow run.

The same harness as ``test_flow``: the plan workflow's steps run locally (``actions_local``) in
their own processes against the shared store (S3 on moto's server), the GitHub stand-in and real
Terraform with the sandbox provider.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_flow import job, world  # noqa: F401  (the fixture and the job runner of test_flow)

from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform
from tfpilot_runner_github.testing import GitHubStandIn

pytestmark = pytest.mark.slow


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = []
    for line in stderr.splitlines():
        if line.startswith('{"'):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines


def test_one_correlation_id_across_dispatcher_and_job(
    world: dict[str, Any],  # noqa: F811
    standin: GitHubStandIn,
) -> None:
    platform: Platform = world["platform"]
    world["actions"].env.update(
        {
            "TFPILOT_LOG_FORMAT": "json",
            "TFPILOT_LOG_LEVEL": "info",
            "OTEL_METRICS_EXPORTER": "console",
        }
    )
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "c1"}
    )
    rid = request.id
    attempt = platform.plan("alice", rid).latest(RunKind.PLAN)
    assert attempt is not None
    correlation = attempt.details["correlation_id"]
    assert correlation == platform.trace_id and len(correlation) == 32

    # The dispatcher's events and the dispatch input.
    dispatched = [e for e in platform.store.list_events(rid) if e.type == "plan_dispatched"]
    assert [e.correlation_id for e in dispatched] == [correlation]
    payload = standin.dispatches[-1]["request"]
    assert payload["correlation_id"] == correlation
    assert payload["attempt_id"] == attempt.id
    assert payload["traceparent"].split("-")[1] == correlation
    before = len(platform.store.list_events(rid))

    # The job (another process): its log lines and spans carry the dispatcher's ids.
    result = job(world, standin, "plan")
    stderr = result.own_steps[0]["stderr"]
    lines = _json_lines(stderr)
    events = [line for line in lines if line.get("event") == "event"]
    assert events, stderr[-3000:]
    for line in events:
        assert line["correlation_id"] == correlation, line
        assert line["attempt_id"] == attempt.id, line
        assert line["request_id"] == rid and line["revision"] == 1, line
    assert {"plan_succeeded"} <= {line["type"] for line in events}
    # Spans (printed by the console exporter): the plan span names the same attempt.
    assert f'"tfpilot.correlation_id": "{correlation}"' in stderr
    assert f'"tfpilot.attempt_id": "{attempt.id}"' in stderr

    # Metric recordings (console exporter): the ids are in the exemplars, never on a series.
    exemplar = re.compile(
        r'"filtered_attributes": \{[^}]*"tfpilot.attempt_id": "' + re.escape(attempt.id) + '"'
        r'[^}]*"tfpilot.correlation_id": "' + correlation + '"'
    )
    assert exemplar.search(stderr), stderr[-3000:]
    series = re.findall(r'"attributes": \{[^}]*\}', stderr)
    assert series and not [a for a in series if "tfpilot.module" in a and attempt.id in a]

    # The events the job stored carry the same correlation id.
    written = platform.store.list_events(rid)[before:]
    assert {"plan_succeeded", "cost_estimated"} <= {e.type for e in written}
    assert {e.correlation_id for e in written} == {correlation}
    ended = [e for e in written if e.type == "plan_succeeded"]
    assert [e.data["run"] for e in ended] == [attempt.id]

    # `tfpilot trace REQ`: the attempt, its trace and correlation ids, and its workflow run.
    run_id = str(standin.dispatches[-1]["run_id"])
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tfpilot"), "--json", "trace", rid],
        env={
            **os.environ,
            **world["actions"].env,
            "TFPILOT_LOG_FORMAT": "console",
            "OTEL_TRACES_EXPORTER": "none",
            "TFPILOT_USER": "alice",
            "TFPILOT_HOME": str(world["tmp"] / "dispatcher" / ".tfpilot"),
            "TFPILOT_CONFIG": str(world["dispatcher_config"]),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["attempts"]
    assert row["attempt"] == attempt.id
    assert row["trace_id"] == row["correlation_id"] == correlation
    assert row["run_id"] == run_id
    assert row["run_url"] and row["run_url"].endswith(f"/actions/runs/{run_id}")
