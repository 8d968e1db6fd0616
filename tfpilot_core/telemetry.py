"""Tracing and logging set-up, for applications (the CLI) only.

Library code calls ``opentelemetry.trace.get_tracer(...)`` and ``structlog.get_logger()`` and never
configures either. :func:`setup_tracing` and :func:`setup_logging` are called once by the CLI.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

from tfpilot_core.masking import MASK

_configured_tracing = False
_configured_metrics = False
_otel_logger: Any = None
_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Strings the log masker must never print (resolved secrets, sensitive inputs)."""
    from tfpilot_core import scrub

    found = [v for v in values if isinstance(v, str) and len(v) >= 4]
    _secrets.update(found)
    # The scrubber of other loggers' lines (uvicorn's) knows them too.
    scrub.register(found)


def _mask_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if not _secrets:
        return event_dict
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            for secret in _secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            event_dict[key] = value
    return event_dict


def _add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Correlation: every log line names the trace (and span) it happened in.
    from tfpilot_core.logs.correlation import current_ids

    for key, value in current_ids().items():
        event_dict.setdefault(key, value)
    return event_dict


def _to_otel_logs(
    _: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # After masking: what goes to the log backend is what the console would show.
    if _otel_logger is not None:
        from opentelemetry._logs import LogRecord, SeverityNumber

        level = str(event_dict.get("level", method)).upper()
        severity = getattr(SeverityNumber, level if level != "WARNING" else "WARN", None)
        attributes = {
            f"tfpilot.{k}" if k not in ("trace_id", "span_id") else k: (
                v if isinstance(v, (str, int, float, bool)) else str(v)
            )
            for k, v in event_dict.items()
            if k not in ("event", "level", "timestamp")
        }
        _otel_logger.emit(
            LogRecord(
                body=str(event_dict.get("event", "")),
                severity_text=level,
                severity_number=severity,
                attributes=attributes,
            )
        )
    return event_dict


def setup_logging(*, fmt: str = "console", level: str = "warning") -> None:
    """Configure structlog once: ``console`` (readable) or ``json`` lines on stderr.

    ``TFPILOT_LOG_FORMAT=json`` asks for JSON lines when the caller kept the default
    (``console``): a workflow job sets it for the whole job, whatever its steps' command lines.
    structlog is configured when it is first imported, not here: a command that logs nothing at
    ``level`` then never imports it (see :mod:`tfpilot_core.log`).
    """
    from tfpilot_core import log

    if fmt == "console" and os.environ.get("TFPILOT_LOG_FORMAT") == "json":
        fmt = "json"

    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    log.set_threshold(numeric)
    global _pending_logging
    _pending_logging = (fmt, numeric)
    if "structlog" in sys.modules:
        _configure_structlog()
    elif not any(isinstance(finder, _ConfigureOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ConfigureOnImport())


_pending_logging: tuple[str, int] | None = None


class _ConfigureOnImport:
    """Import finder that configures structlog right after whoever imports it first."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "structlog":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            # The package is complete here; its submodules import normally.
            sys.modules[fullname] = module
            _configure_structlog()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _configure_structlog() -> None:
    if _pending_logging is None:
        return
    import structlog

    from tfpilot_core.log import merge_context
    from tfpilot_core.scrub import scrub_event

    fmt, numeric = _pending_logging
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # NO_COLOR (https://no-color.org): log lines on a terminal are plain too.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            merge_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            _mask_secrets,
            # One scrubber for every line (credentials, secret-named fields, exceptions without
            # frame locals, bounded size), before anything leaves: the log backend included.
            scrub_event,
            _to_otel_logs,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def _attempt_attributes(span: Any) -> None:
    # Every span names the correlation id, and inside an attempt its request id, revision and
    # attempt id (the fields bound by tfpilot_core.logs.correlation).
    from tfpilot_core import log
    from tfpilot_core.logs.correlation import ATTEMPT_FIELDS, correlation_id

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
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from tfpilot_core.errors import ConfigError

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "tfpilot")})
    provider = TracerProvider(resource=resource)
    exporter: Any
    if exporter_name == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
        except ImportError:
            raise ConfigError(
                "OTEL_TRACES_EXPORTER=otlp needs the opentelemetry-exporter-otlp package",
                key="OTEL_TRACES_EXPORTER",
            ) from None
        exporter = OTLPSpanExporter()
    else:
        raise ConfigError(
            f"unsupported exporter {exporter_name!r} (console, otlp, none)",
            key="OTEL_TRACES_EXPORTER",
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


def _otlp_missing(variable: str) -> Exception:
    from tfpilot_core.errors import ConfigError

    return ConfigError(
        f"{variable}=otlp needs the opentelemetry-exporter-otlp-proto-http package",
        key=variable,
    )


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
    from opentelemetry.sdk.resources import Resource

    from tfpilot_core.errors import ConfigError

    exporter: Any
    if name == "console":
        exporter = ConsoleMetricExporter(out=sys.stderr)
    elif name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
        except ImportError:
            raise _otlp_missing("OTEL_METRICS_EXPORTER") from None
        exporter = OTLPMetricExporter()
    else:
        raise ConfigError(
            f"unsupported exporter {name!r} (console, otlp, none)", key="OTEL_METRICS_EXPORTER"
        )
    from opentelemetry.sdk.metrics.view import View

    from tfpilot_core.metrics import live

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "tfpilot")})
    # Series keep only the bounded attributes; the attempt and correlation ids that tfpilot
    # measures beside them go to the exemplars (trace-based: recordings inside a sampled trace).
    views = [View(instrument_name="tfpilot.*", attribute_keys=set(live.SERIES_ATTRIBUTES))]
    metrics.set_meter_provider(
        MeterProvider(
            resource=resource,
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
    global _otel_logger
    name = os.environ.get("OTEL_LOGS_EXPORTER", "none")
    if _otel_logger is not None or name in ("", "none"):
        return False
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter
    from opentelemetry.sdk.resources import Resource

    from tfpilot_core.errors import ConfigError

    exporter: Any
    if name == "console":
        exporter = ConsoleLogExporter(out=sys.stderr)
    elif name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import (
                OTLPLogExporter,
            )
        except ImportError:
            raise _otlp_missing("OTEL_LOGS_EXPORTER") from None
        exporter = OTLPLogExporter()
    else:
        raise ConfigError(
            f"unsupported exporter {name!r} (console, otlp, none)", key="OTEL_LOGS_EXPORTER"
        )
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "tfpilot")})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)
    _otel_logger = provider.get_logger("tfpilot")
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
