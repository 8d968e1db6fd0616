"""``tfpilot serve``: each HTTP request is its own trace, continuing an incoming ``traceparent``.

The server joins one session trace when it starts; every request must still get its own trace
(its server span, the store calls it makes and their log lines), or continue the caller's.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("tfpilot_web")

from fastapi.testclient import TestClient

from tfpilot_core.platform import Platform
from tfpilot_web import create_app

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _trace_of(span: Any) -> str:
    return format(span.context.trace_id, "032x")


def test_each_request_is_its_own_trace(tfpilot_host: Any, span_exporter: Any) -> None:
    platform = Platform(tfpilot_host)
    session = platform.trace_id
    with TestClient(create_app(platform)) as client:
        span_exporter.clear()
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert (
            client.get(
                "/readyz", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
            ).status_code
            == 200
        )
        assert (
            client.get("/readyz", headers={"traceparent": "00-not-a-valid-header-01"}).status_code
            == 200
        )
    spans = span_exporter.get_finished_spans()
    servers = [s for s in spans if s.name == "HTTP GET"]
    assert len(servers) == 4
    traces = [_trace_of(s) for s in servers]
    # Two plain requests: two new traces, neither the server's session trace.
    assert traces[0] != traces[1] and session not in traces[:2]
    # A valid traceparent is continued: same trace, the caller's span as parent.
    assert traces[2] == CALLER_TRACE
    parent = servers[2].parent
    assert parent is not None and format(parent.span_id, "016x") == CALLER_SPAN
    # An invalid one starts a new trace, as if none had been sent.
    assert traces[3] not in (CALLER_TRACE, session, traces[0], traces[1])
    for server in servers:
        assert server.attributes["http.response.status_code"] == 200
        assert server.attributes["url.path"] == "/readyz"
    # What a request does (the store read of /readyz) is inside its trace.
    store_reads = [s for s in spans if s.name.startswith("store.")]
    assert store_reads and all(_trace_of(s) in traces for s in store_reads)
    assert {_trace_of(s) for s in store_reads} <= set(traces)
