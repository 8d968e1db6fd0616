"""Live metrics through the OpenTelemetry metrics API, recorded as events are stored.

Library code: only the API is used (``metrics.get_meter``); without an SDK every instrument is a
no-op. The CLI installs the SDK and an exporter when ``OTEL_METRICS_EXPORTER`` asks for one
(:func:`tfpilot_core.telemetry.setup_metrics`).

Attributes are ``tfpilot.module``, ``tfpilot.environment`` and ``tfpilot.project`` (plus the
run kind, outcome, event type or policy rule where it applies), never a request or run id: the
number of series stays bounded by the catalog and the configuration.

Every stored event is recorded once, where it is appended: :class:`LiveMetricsStore` wraps the
store the platform hands out (``Platform.store``), so events written outside
``Platform._emit`` (the notification outbox's ``notification_failed`` and dead letters, the
GitHub webhook's records) reach the instruments too.

Instruments
    ``tfpilot.events`` (counter), ``tfpilot.runs`` (counter: kind, outcome),
    ``tfpilot.run.duration`` (histogram, s: kind), ``tfpilot.lead_time`` (histogram, s),
    ``tfpilot.drift.detected`` (counter), ``tfpilot.policy.blocks`` and
    ``tfpilot.policy.overrides`` (counters: rule), ``tfpilot.notifications.failed`` and
    ``tfpilot.notifications.dead_letters`` (counters), ``tfpilot.cost.monthly_delta``
    (histogram, currency units: one record per applied plan, from the estimate stored with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import metrics

import tfpilot_core.log as log

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Event, Request

_instruments: dict[str, Any] = {}
#: The attributes that make a series (bounded by the catalog and the configuration).
SERIES_ATTRIBUTES = frozenset(
    {
        "tfpilot.module",
        "tfpilot.environment",
        "tfpilot.project",
        "tfpilot.event",
        "tfpilot.run.kind",
        "tfpilot.run.outcome",
        "tfpilot.policy.rule",
    }
)
#: Set by :func:`tfpilot_core.telemetry.setup_metrics` once its views keep only
#: :data:`SERIES_ATTRIBUTES` on a series: the attempt and correlation ids are then measured too,
#: and reach only the exemplars (their ``filtered_attributes``), never a series.
ids_in_exemplars = False


def _get(kind: str, name: str, unit: str, description: str) -> Any:
    # Created on first use (not at import) so that an SDK installed later is the one used.
    found = _instruments.get(name)
    if found is None:
        meter = metrics.get_meter("tfpilot")
        make = meter.create_counter if kind == "counter" else meter.create_histogram
        found = _instruments[name] = make(name, unit=unit, description=description)
    return found


def reset() -> None:
    """Forget the instruments (after a new meter provider is installed, in tests).

    Ids are measured again only once :func:`~tfpilot_core.telemetry.setup_metrics` installs its
    views: a provider without them would make a series of every attempt.
    """
    global ids_in_exemplars
    _instruments.clear()
    ids_in_exemplars = False


def attributes(request: Request) -> dict[str, str]:
    """The bounded attributes of a request: module, environment, project."""
    p = request.placement
    return {
        "tfpilot.module": p.module,
        "tfpilot.environment": p.environment,
        "tfpilot.project": p.project,
    }


class LiveMetricsStore:
    """The platform's store: every event appended through it is recorded live, once.

    Everything else is the wrapped store's own. ``request`` (the writer's copy, when it has one)
    saves a read; without it the request is read back for its placement and attempts.
    """

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def wrapped(self) -> Any:
        """The store object itself (under the platform's tracing proxy)."""
        return getattr(self._inner, "wrapped", self._inner)

    def append_event(self, event: Event, request: Request | None = None) -> Event:
        """Append ``event`` (as the store does), then record it on the live instruments."""
        stored = self._inner.append_event(event)
        try:
            if request is None or request.id != stored.request_id:
                request = self._inner.get_request(stored.request_id)
        except Exception:  # metrics must never change what an action does
            return stored
        record_event(stored, request)
        return stored


def record_event(event: Event, request: Request) -> None:
    """Record ``event`` of ``request`` on the live instruments (never raises)."""
    try:
        _record(event, request)
    except Exception:  # metrics must never change what an action does
        import structlog

        structlog.get_logger("tfpilot.metrics").warning("live_metrics_failed", type=event.type)


def _record(event: Event, request: Request) -> None:
    attrs: dict[str, str] = attributes(request)
    if ids_in_exemplars:
        attempt = event.data.get("run") or log.fields().get("attempt_id")
        if isinstance(attempt, str):
            attrs["tfpilot.attempt_id"] = attempt
        if event.correlation_id:
            attrs["tfpilot.correlation_id"] = event.correlation_id
    _get("counter", "tfpilot.events", "1", "Lifecycle events stored").add(
        1, {**attrs, "tfpilot.event": event.type}
    )
    kind, _, outcome = event.type.partition("_")
    if kind in ("plan", "apply", "destroy") and outcome in ("succeeded", "failed"):
        run_attrs = {**attrs, "tfpilot.run.kind": kind, "tfpilot.run.outcome": outcome}
        _get("counter", "tfpilot.runs", "1", "Runs finished").add(1, run_attrs)
        attempt = next(
            (
                a
                for attempts in request.runs.values()
                for a in attempts
                if a.id == event.data.get("run")
            ),
            None,
        )
        if attempt is not None and attempt.started_at is not None:
            seconds = (event.at - attempt.started_at).total_seconds()
            _get("histogram", "tfpilot.run.duration", "s", "Run durations").record(
                max(0.0, seconds), {**attrs, "tfpilot.run.kind": kind}
            )
        if outcome == "succeeded" and kind != "plan" and request.cost is not None:
            # Once per applied plan (the estimate stored with it), not at every re-plan.
            cost = request.cost
            if cost.monthly is not None:
                delta = float(cost.monthly) - float(cost.previous or 0)
                _get("histogram", "tfpilot.cost.monthly_delta", "1", "Monthly cost deltas").record(
                    delta, attrs
                )
        if event.type == "apply_succeeded":
            lead = (event.at - request.created_at).total_seconds()
            _get("histogram", "tfpilot.lead_time", "s", "Request to apply").record(
                max(0.0, lead), attrs
            )
    elif event.type == "drift_detected":
        _get("counter", "tfpilot.drift.detected", "1", "Drifts detected").add(1, attrs)
    elif event.type == "policy_blocked":
        for finding in event.data.get("findings") or []:
            rule = finding.get("rule_id") if isinstance(finding, dict) else None
            if rule:
                _get("counter", "tfpilot.policy.blocks", "1", "Policy blocks").add(
                    1, {**attrs, "tfpilot.policy.rule": str(rule)}
                )
    elif event.type == "policy_overridden" and event.data.get("rule_id"):
        _get("counter", "tfpilot.policy.overrides", "1", "Policy overrides").add(
            1, {**attrs, "tfpilot.policy.rule": str(event.data["rule_id"])}
        )
    elif event.type == "notification_failed":
        _get("counter", "tfpilot.notifications.failed", "1", "Failed notifications").add(1, attrs)
    elif event.type == "notification_dead_lettered":
        _get("counter", "tfpilot.notifications.dead_letters", "1", "Dead letters").add(1, attrs)
