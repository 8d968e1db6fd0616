"""With nothing recording spans (no exporter, so no SDK tracer provider), the server and the
plugin host start none: each would be a no-op carrying its parent's ids, at about the cost of a
store read per span (issue 31). Each HTTP request is still its own trace (the ids its log lines
carry), a ``traceparent`` is still continued, and once a provider is installed spans are
recorded again. Run in a fresh interpreter: the global tracer provider can be set only once per
process, and the test session's span fixture may have set it already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tfpilot_web")

CODE = r"""
import json
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tfpilot_core.hookcalls import spans_recorded
from tfpilot_core.platform import Platform
from tfpilot_core.run_logs.correlation import current_ids
from tfpilot_web import create_app
from tfpilot_web.auth import create_token

started = []
for cls in (trace.NoOpTracer, trace.ProxyTracer):
    for name in ("start_span", "start_as_current_span"):
        real = getattr(cls, name)
        def counted(self, *a, _real=real, **k):
            started.append(a[0] if a else k.get("name"))
            return _real(self, *a, **k)
        setattr(cls, name, counted)

platform = Platform.from_config()
made = platform.create(
    "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "b1"}
)
token, _ = create_token(platform, "root", user="alice")
app = create_app(platform)
app.add_api_route("/api/test-ids", lambda: current_ids())
auth = {"Authorization": f"Bearer {token}"}
out = {"recorded_before": spans_recorded(), "session": platform.trace_id}
with TestClient(app) as client:
    started.clear()
    read = client.get(f"/api/requests/{made.id}", headers=auth)
    out["read"] = read.status_code
    out["ids"] = [client.get("/api/test-ids").json()["trace_id"] for _ in range(2)]
    out["continued"] = client.get(
        "/api/test-ids",
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    ).json()["trace_id"]
    out["started_without_provider"] = list(started)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    out["recorded_after"] = spans_recorded()
    assert client.get(f"/api/requests/{made.id}", headers=auth).status_code == 200
    out["spans_after"] = sorted({s.name.split(" ")[0] for s in exporter.get_finished_spans()})
print(json.dumps(out))
"""


def test_no_spans_without_a_provider_and_traces_still_per_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "tfpilot.toml"
    config.write_text('[users.root]\nrole = "admin"\n[users.alice]\nrole = "developer"\n')
    env = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "HOME": str(home),
        "OTEL_TRACES_EXPORTER": "none",
    }
    env.pop("OTEL_PYTHON_TRACER_PROVIDER", None)
    done = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["read"] == 200
    assert out["recorded_before"] is False
    # Not one span started for the requests: neither the server span nor the store calls'.
    assert out["started_without_provider"] == []
    first, second = out["ids"]
    # Still one trace per request (its log lines' ids), never the server's session trace.
    assert first and second and first != second and out["session"] not in (first, second)
    assert out["continued"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    # A provider installed later is used from then on: the server span and the store calls.
    assert out["recorded_after"] is True
    assert "HTTP" in out["spans_after"] and any(
        name.startswith("store.") for name in out["spans_after"]
    ), out["spans_after"]
