"""Metrics computed from the event stream, incrementally, and recorded live through OpenTelemetry.

* :func:`metrics` -- the report of a window (``tfpilot metrics``), from a stored rollup that
  each call brings up to date with only the events appended since its cursor
  (:mod:`tfpilot_core.metrics.rollup`, :mod:`tfpilot_core.metrics.feed`).
* :mod:`tfpilot_core.metrics.formats` -- the report as text, JSON or OpenMetrics.
* :mod:`tfpilot_core.metrics.live` -- the same numbers as OTel counters and histograms, recorded
  as events happen (exported per the standard ``OTEL_*`` settings by the CLI).

See ``docs/observability.md``.
"""

from __future__ import annotations

from tfpilot_core.metrics.report import (
    BREAKDOWNS,
    PERCENTILE_METHOD,
    compute,
    distribution,
    metrics,
    parse_since,
    percentile,
)

__all__ = [
    "BREAKDOWNS",
    "PERCENTILE_METHOD",
    "compute",
    "distribution",
    "metrics",
    "parse_since",
    "percentile",
]
