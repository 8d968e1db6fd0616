"""Traces, metrics and logs exported over OpenTelemetry, per the standard ``OTEL_*`` variables.

For applications only (the CLI loads this module when ``--trace`` or an ``OTEL_*_EXPORTER`` asks
for it); library code uses the OpenTelemetry API and never configures it. Log lines reach the
log backend through :func:`tfpilot_core.telemetry.use_otel_logger`, after the same masking as
the console's.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import tfpilot_core.log as log
import tfpilot_core.telemetry as telemetry
from tfpilot_core.errors import ConfigError
from tfpilot_core.metrics import live
from tfpilot_core.run_logs.correlation import ATTEMPT_FIELDS, correlation_id

__all__ = [
    "setup_metrics",
    "setup_otel_logs",
    "setup_telemetry",
    "setup_tracing",
    "shutdown_tracing",
]

_configured_tracing = False
_configured_metrics = False
_logs_configured = False


def _attempt_attributes(span: Any) -> None:
    # Every span names the correlation id, and inside an attempt its request id, revision and
    # attempt id (the fields bound by tfpilot_core.run_logs.correlation).
    bound = log.fields()
    bound.setdefault("correlation_id", correlation_id())
    existing = span.attributes or {}
    for key in ATTEMPT_FIELDS:
        value = bound.get(key)
        if value is not None and f"tfpilot.{key}" not in existing:
            span.set_attribute(f"tfpilot.{key}", value)


def setup_tracing(*, console: bool = False) -> bool:
    """Install the OpenTelemetry SDK if anything asks for traces; returns whether it did.

    ``console=True`` (``--trace``) prints spans to stderr. Otherwise the standard variables
    decide: ``OTEL_TRACES_EXPORTER`` (``console``, ``otlp``, ``none``) and
    ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` (read by the SDK itself). ``otlp`` needs the
    ``opentelemetry-exporter-otlp`` package.
    """
    global _configured_tracing
    exporter_name = "console" if console else os.environ.get("OTEL_TRACES_EXPORTER", "none")
    if _configured_tracing or exporter_name in ("", "none"):
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=_resource())
    exporter = _exporter(
        "OTEL_TRACES_EXPORTER",
        exporter_name,
        lambda: ConsoleSpanExporter(out=sys.stderr),
        ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter"),
    )
    from opentelemetry.sdk.trace import SpanProcessor

    class AttemptAttributes(SpanProcessor):
        """Adds the bound attempt ids to each span as it starts."""

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            _attempt_attributes(span)

    provider.add_span_processor(AttemptAttributes())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured_tracing = True
    return True


def _exporter(variable: str, name: str, console: Callable[[], Any], otlp: tuple[str, str]) -> Any:
    """The exporter ``variable`` names: ``console``, or ``otlp`` (over HTTP; ``otlp`` is the
    module and class, imported only when chosen). One rule for traces, metrics and logs."""
    if name == "console":
        return console()
    if name == "otlp":
        module, attribute = otlp
        try:
            return getattr(importlib.import_module(module), attribute)()
        except ImportError:
            raise ConfigError(
                f"{variable}=otlp needs the opentelemetry-exporter-otlp-proto-http package",
                key=variable,
            ) from None
    raise ConfigError(f"unsupported exporter {name!r} (console, otlp, none)", key=variable)


def _resource() -> Any:
    """The service's resource (``OTEL_SERVICE_NAME``, default ``tfpilot``)."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "tfpilot")})


def setup_metrics() -> bool:
    """Install the metrics SDK when ``OTEL_METRICS_EXPORTER`` is ``otlp`` or ``console``.

    OTLP over HTTP: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/metrics`` is appended) or
    ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, read by the exporter; the reader exports every
    ``OTEL_METRIC_EXPORT_INTERVAL`` ms and once more at shutdown.
    """
    global _configured_metrics
    name = os.environ.get("OTEL_METRICS_EXPORTER", "none")
    if _configured_metrics or name in ("", "none"):
        return False
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    exporter = _exporter(
        "OTEL_METRICS_EXPORTER",
        name,
        lambda: ConsoleMetricExporter(out=sys.stderr),
        ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "OTLPMetricExporter"),
    )
    from opentelemetry.sdk.metrics.view import View

    # Series keep only the bounded attributes; the attempt and correlation ids that tfpilot
    # measures beside them go to the exemplars (trace-based: recordings inside a sampled trace).
    views = [View(instrument_name="tfpilot.*", attribute_keys=set(live.SERIES_ATTRIBUTES))]
    metrics.set_meter_provider(
        MeterProvider(
            resource=_resource(),
            metric_readers=[PeriodicExportingMetricReader(exporter)],
            views=views,
        )
    )
    live.reset()
    live.ids_in_exemplars = True
    _configured_metrics = True
    return True


def setup_otel_logs() -> bool:
    """Send every log line to OTLP logs when ``OTEL_LOGS_EXPORTER`` is ``otlp`` or ``console``.

    Lines are sent after masking, with the trace and span ids of where they happened.
    """
    global _logs_configured
    name = os.environ.get("OTEL_LOGS_EXPORTER", "none")
    if _logs_configured or name in ("", "none"):
        return False
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    exporter = _exporter(
        "OTEL_LOGS_EXPORTER",
        name,
        lambda: ConsoleLogExporter(out=sys.stderr),
        ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
    )
    provider = LoggerProvider(resource=_resource())
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)
    telemetry.use_otel_logger(provider.get_logger("tfpilot"))
    _logs_configured = True
    return True


def setup_telemetry(*, console: bool = False) -> bool:
    """Traces, metrics and logs export per the ``OTEL_*`` variables; whether any was set up."""
    traced = setup_tracing(console=console)
    measured = setup_metrics()
    logged = setup_otel_logs()
    return traced or measured or logged


def shutdown_tracing() -> None:
    """Flush spans, metrics and logs before the process exits."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    for provider in (
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        get_logger_provider(),
    ):
        shutdown = getattr(provider, "shutdown", None)
        if callable(shutdown):
            shutdown()
