"""Correlation ids: one trace per tfpilot session, carried by events, attempts, logs and spans.

A *session* is one process using one :class:`~tfpilot_core.platform.Platform` (a CLI command,
a server worker). :func:`join_session` makes every span of the session a child of one trace
context: the W3C ``TRACEPARENT`` (or ``traceparent``) given in the environment, so that a second
process (a runner started by a dispatcher, a CI job) continues the trace of the first; otherwise
a fresh random trace id. The parent is a *remote* span context, so nothing needs to be exported
for it and it works whether or not an OpenTelemetry SDK is installed.

The correlation id of an event is that trace id (32 hex digits): the event, the run attempt
(``details["trace_id"]``, ``details["correlation_id"]``), the captured log's header and every
span of the action share it. A process that runs an attempt for another one (``tfpilot run ...``
in a GitHub Actions job) binds the dispatcher's ids with :func:`attempt_context`: its events,
log lines and spans then carry the same correlation id and attempt id, even when no
``traceparent`` reached it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tfpilot_core.log as log

_propagator = TraceContextTextMapPropagator()
#: A correlation id handed over by another process (see :func:`attempt_context`).
_bound: ContextVar[str | None] = ContextVar("tfpilot_correlation_id", default=None)
#: The fields every log line and span of an attempt carries.
ATTEMPT_FIELDS = ("request_id", "revision", "attempt_id", "correlation_id")


def _from_environment(environ: Mapping[str, str]) -> SpanContext | None:
    header = environ.get("TRACEPARENT") or environ.get("traceparent")
    if not header:
        return None
    ctx = _propagator.extract({"traceparent": header})
    span_context = trace.get_current_span(ctx).get_span_context()
    return span_context if span_context.is_valid else None


def _fresh_parent() -> SpanContext:
    """A remote parent with a new random trace id (the start of a new trace)."""
    return SpanContext(
        trace_id=int.from_bytes(secrets.token_bytes(16), "big") or 1,
        span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def join_session(environ: Mapping[str, str] | None = None) -> str:
    """Make the current context a child of the session's trace; returns its trace id (hex).

    When a valid span is already current (an embedding application traces its own requests),
    that trace is kept and nothing is attached.
    """
    current = trace.get_current_span().get_span_context()
    if current.is_valid:
        return format(current.trace_id, "032x")
    span_context = _from_environment(os.environ if environ is None else environ)
    if span_context is None:
        span_context = _fresh_parent()
    context.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))
    return format(span_context.trace_id, "032x")


def current_ids() -> dict[str, str]:
    """The trace id (and span id, inside a span) of the current context, as hex strings."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {
        "trace_id": format(span_context.trace_id, "032x"),
        "span_id": format(span_context.span_id, "016x"),
    }


def correlation_id() -> str | None:
    """The correlation id of what happens now: the bound one, else the current trace id."""
    return _bound.get() or current_ids().get("trace_id")


def attempt_fields(
    request_id: str, revision: int, attempt_id: str, correlation: str | None
) -> dict[str, Any]:
    """The log fields of an attempt (:data:`ATTEMPT_FIELDS`)."""
    return {
        "request_id": request_id,
        "revision": revision,
        "attempt_id": attempt_id,
        "correlation_id": correlation or correlation_id(),
    }


@contextmanager
def attempt_context(
    request_id: str, revision: int, attempt_id: str, correlation: str | None
) -> Iterator[dict[str, Any]]:
    """Inside the block, events, log lines and spans carry the attempt's ids.

    ``correlation`` (the dispatcher's correlation id) is used for every event stored inside the
    block; ``None`` keeps the current trace id.
    """

    fields = attempt_fields(request_id, revision, attempt_id, correlation)
    token = _bound.set(fields["correlation_id"])
    try:
        with log.bound(**fields):
            yield fields
    finally:
        _bound.reset(token)


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current context (to hand to another process)."""
    carrier: dict[str, Any] = {}
    _propagator.inject(carrier)
    value = carrier.get("traceparent")
    return str(value) if value else None


def child_trace_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a child process started with ``environ`` needs to continue the current trace.

    ``TRACEPARENT`` (and ``TRACESTATE``) of the current span, the W3C environment carriers that
    OpenTofu (1.10 and later) and Terraform releases with parent trace support read, so that
    the child's own spans become children of the span that started it. Only when the child
    exports traces itself (``OTEL_TRACES_EXPORTER=otlp``, the one exporter Terraform has):
    otherwise the variable would only reach the child's providers, to no use. Empty when there
    is no current span.
    """
    if environ.get("OTEL_TRACES_EXPORTER") != "otlp":
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    found = {key.upper(): str(value) for key, value in carrier.items() if value}
    return found if "TRACEPARENT" in found else {}


def request_context(headers: Mapping[str, str]) -> context.Context:
    """The context of one incoming request: its own trace, whatever the process's session.

    A valid W3C ``traceparent`` header is continued (the caller's trace); otherwise a fresh
    random trace id is the request's (never the server's session trace, so that every request
    is one trace). Like :func:`join_session`, the parent is a remote span context: spans started
    under it are real with an SDK and carry its trace id without one.
    """
    header = headers.get("traceparent")
    if header:
        extracted = _propagator.extract({"traceparent": header})
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
    return trace.set_span_in_context(NonRecordingSpan(_fresh_parent()), context.Context())
