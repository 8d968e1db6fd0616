"""Fixtures of the observability tests: a local OTLP/HTTP receiver (see :class:`Receiver`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.testing.http import StandInHandler, StandInServer


class Receiver:
    """A local OTLP/HTTP endpoint that decodes what it receives, by signal."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        self.received: dict[str, list[Any]] = {"traces": [], "metrics": [], "logs": []}
        parsers = {
            "/v1/traces": ("traces", trace_service_pb2.ExportTraceServiceRequest),
            "/v1/metrics": ("metrics", metrics_service_pb2.ExportMetricsServiceRequest),
            "/v1/logs": ("logs", logs_service_pb2.ExportLogsServiceRequest),
        }
        outer = self

        class Handler(StandInHandler):
            def do_POST(self) -> None:
                body = self.body()
                found = parsers.get(self.path)
                if found is None or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404)
                    self.end_headers()
                    return
                signal, message = found
                parsed = message()
                parsed.ParseFromString(body)  # a payload that is not protobuf fails the test
                outer.received[signal].append(parsed)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"")

        self.server = StandInServer(Handler).start()
        self.url = self.server.url

    def spans(self) -> list[Any]:
        return [
            s
            for r in self.received["traces"]
            for rs in r.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        ]

    def metric_points(self) -> dict[str, list[dict[str, str]]]:
        found: dict[str, list[dict[str, str]]] = {}
        for r in self.received["metrics"]:
            for rm in r.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        points = list(m.sum.data_points) + list(m.histogram.data_points)
                        for p in points:
                            found.setdefault(m.name, []).append(
                                {a.key: a.value.string_value for a in p.attributes}
                            )
        return found

    def sums(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The data points of counter ``name`` in the last export: (attributes, value)."""
        found: list[tuple[dict[str, str], float]] = []
        for r in self.received["metrics"][-1:]:
            for rm in r.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name:
                            for p in m.sum.data_points:
                                attrs = {a.key: a.value.string_value for a in p.attributes}
                                found.append((attrs, p.as_int or p.as_double))
        return found

    def exemplars(self, name: str, *, last: bool = False) -> list[Any]:
        """The exemplars of counter ``name`` (in the last export only, with ``last``)."""
        exports = self.received["metrics"][-1:] if last else self.received["metrics"]
        return [
            x
            for r in exports
            for rm in r.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
            for p in m.sum.data_points
            for x in p.exemplars
        ]

    def log_records(self) -> list[Any]:
        return [
            lr
            for r in self.received["logs"]
            for rl in r.resource_logs
            for sl in rl.scope_logs
            for lr in sl.log_records
        ]


#: A one-resource module (``terraform_data``): what the observability tests plan and apply.
PLAIN_MODULE = {
    "variables.tf": 'variable "name" {\n  type = string\n}\n',
    "main.tf": 'resource "terraform_data" "this" {\n  input = { name = var.name }\n}\n',
    "tfpilot.module.toml": 'description = "plain"\ncategory = "test"\nrisk = "low"\n'
    'name_input = "name"\n',
}


@pytest.fixture
def plain_modules(tmp_path: Path) -> Path:
    """A modules root holding ``test/plain`` (:data:`PLAIN_MODULE`)."""
    module = tmp_path / "modules" / "test" / "plain"
    module.mkdir(parents=True)
    for name, text in PLAIN_MODULE.items():
        (module / name).write_text(text)
    return tmp_path / "modules"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.stop()
