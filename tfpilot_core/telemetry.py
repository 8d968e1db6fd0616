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

import structlog

from tfpilot_core.masking import MASK

_configured_tracing = False
_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Strings the log masker must never print (resolved secrets, sensitive inputs)."""
    _secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)


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


def setup_logging(*, fmt: str = "console", level: str = "warning") -> None:
    """Configure structlog once: ``console`` (readable) or ``json`` lines on stderr."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


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
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
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
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured_tracing = True
    return True


def shutdown_tracing() -> None:
    """Flush spans before the process exits."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()
