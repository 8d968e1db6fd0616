"""Logging set-up and the secrets every log line is masked of, for applications (the CLI) only.

Library code calls ``structlog.get_logger()`` (through :mod:`tfpilot_core.log`) and never
configures it; :func:`setup_logging` is called once by the CLI. Exporting traces, metrics and
logs over OpenTelemetry is :mod:`tfpilot_core.otel`, which the CLI loads only when asked to
(``--trace`` or an ``OTEL_*_EXPORTER``): the OpenTelemetry API costs a small command a good part
of its start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import tfpilot_core.log as log
import tfpilot_core.scrub as scrub
from tfpilot_core.log import merge_context
from tfpilot_core.masking import MASK
from tfpilot_core.scrub import scrub_event

_otel_logger: Any = None
_secrets: set[str] = set()


#: The level of an unknown level name (``logging.WARNING``).
_WARNING = 30


def register_secrets(values: Iterable[str]) -> None:
    """Strings the log masker must never print (resolved secrets, sensitive inputs)."""
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
    # Correlation: every log line names the trace (and span) it happened in. Those ids exist
    # only once tfpilot_core.run_logs.correlation has joined a session (every lifecycle action
    # does): a command that never loaded it has none, and need not pay for the OpenTelemetry API.
    correlation = sys.modules.get("tfpilot_core.run_logs.correlation")
    if correlation is not None:
        for key, value in correlation.current_ids().items():
            event_dict.setdefault(key, value)
    return event_dict


def telemetry_wanted(*, console: bool = False) -> bool:
    """Whether anything asks for OpenTelemetry export: ``--trace`` (``console``), or an
    ``OTEL_TRACES_EXPORTER``/``OTEL_METRICS_EXPORTER``/``OTEL_LOGS_EXPORTER`` other than ``none``
    (then the CLI loads :mod:`tfpilot_core.otel`)."""
    return console or any(
        os.environ.get(f"OTEL_{signal}_EXPORTER", "none") not in ("", "none")
        for signal in ("TRACES", "METRICS", "LOGS")
    )


def use_otel_logger(logger: Any) -> None:
    """Send every log line (after masking) to ``logger`` too (``otel.setup_otel_logs``)."""
    global _otel_logger
    _otel_logger = logger


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
        found = _record_context(event_dict)
        # ``context=`` only when needed: the API reads the current context itself otherwise.
        extra = {"context": found} if found is not None else {}
        _otel_logger.emit(
            LogRecord(
                body=str(event_dict.get("event", "")),
                severity_text=level,
                severity_number=severity,
                attributes=attributes,
                **extra,
            )
        )
    return event_dict


def _record_context(event_dict: MutableMapping[str, Any]) -> Any:
    """The trace context a log record belongs to: the current span's, else the line's ids.

    A line logged where no span is current (a thread that did not copy its caller's context)
    still names the trace through its bound ``correlation_id``, the trace id of the attempt or
    session; without a context its record would go out with an empty trace id.
    """
    from opentelemetry import trace

    if trace.get_current_span().get_span_context().is_valid:
        return None  # the record reads the current context itself
    found = str(event_dict.get("trace_id") or event_dict.get("correlation_id") or "")
    try:
        trace_id = int(found, 16) if len(found) == 32 else 0
        span_id = int(str(event_dict.get("span_id") or "0"), 16)
    except ValueError:
        return None
    if not trace_id:
        return None
    parent = trace.SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True)
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def setup_logging(*, fmt: str = "console", level: str = "warning") -> None:
    """Configure structlog once: ``console`` (readable) or ``json`` lines on stderr.

    ``TFPILOT_LOG_FORMAT=json`` asks for JSON lines when the caller kept the default
    (``console``): a workflow job sets it for the whole job, whatever its steps' command lines.
    structlog is configured when it is first imported, not here: a command that logs nothing at
    ``level`` then never imports it (see :mod:`tfpilot_core.log`).
    """
    if fmt == "console" and os.environ.get("TFPILOT_LOG_FORMAT") == "json":
        fmt = "json"

    numeric = log.level_number(level)
    if numeric is None:
        numeric = _WARNING
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
