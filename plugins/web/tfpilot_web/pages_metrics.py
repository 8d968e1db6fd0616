"""The metrics dashboard (``/metrics``): the numbers of ``tfpilot metrics`` as SVG charts.

The page computes with the core's own functions (:func:`tfpilot_core.metrics.report.compute`
over the rollup brought up to date by :func:`tfpilot_core.metrics.rollup.update`), so each chart
shows exactly what ``tfpilot metrics --json`` (and ``--by env|module|project``) reports for the
same window and reader. Only requests the caller may read count (the same read decision as every
other read, ``platform.access.may``). Trends over time are the same computation over each time
bucket of the window (hours for a window up to two days, else days, weeks beyond 60 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tfpilot_core.rbac import Action
from tfpilot_web import charts
from tfpilot_web.deps import state_of

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

#: The windows the page offers (the CLI accepts any ``--since``; the page keeps a short list).
WINDOWS = ("24h", "7d", "14d", "30d", "90d")


@dataclass
class Filters:
    """The dashboard's filters (empty: all the caller may read)."""

    since: str = "7d"
    environment: str = ""
    module: str = ""
    project: str = ""

    def where(self) -> Any:
        """``where(module, environment, project)`` for the core's ``compute``, or ``None``."""
        if not (self.environment or self.module or self.project):
            return None

        def where(module: str, environment: str, project: str) -> bool:
            return (
                (not self.module or module == self.module)
                and (not self.environment or environment == self.environment)
                and (not self.project or project == self.project)
            )

        return where


def _buckets(start: datetime, until: datetime) -> tuple[list[tuple[datetime, datetime]], str]:
    span = until - start
    if span <= timedelta(days=2):
        step, fmt = timedelta(hours=1), "%H:00"
        first = start.replace(minute=0, second=0, microsecond=0)
    elif span <= timedelta(days=60):
        step, fmt = timedelta(days=1), "%m-%d"
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        step, fmt = timedelta(days=7), "%m-%d"
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    at = first
    while at < until:
        # The first and last buckets are clipped to the window, so buckets add up to it.
        out.append((max(at, start), min(at + step, until)))
        at += step
    return out, fmt


def dashboard(
    platform: Platform, actor: str, filters: Filters, *, now: datetime | None = None
) -> dict[str, Any]:
    """The dashboard's reports: the window's totals, per env/module/project, and per bucket."""
    from tfpilot_core.metrics import parse_since
    from tfpilot_core.metrics.report import compute, statuses
    from tfpilot_core.metrics.rollup import load_days, update
    from tfpilot_core.models import utcnow

    until = now or utcnow()
    start = until - parse_since(filters.since)
    state, _ = update(platform.store)
    days = load_days(platform.store, state, start.timestamp(), until.timestamp())
    rows = statuses(platform.store, start)

    def visible(project: str, environment: str) -> bool:
        return bool(
            platform.access.may(actor, Action.READ, project=project, environment=environment)
        )

    where = filters.where()
    reports = {
        by: compute(
            state, days, rows, since=start, until=until, by=by, visible=visible, where=where
        )
        for by in ("env", "module", "project")
    }
    buckets, fmt = _buckets(start, until)
    trend = [
        {
            by: compute(state, days, (), since=lo, until=hi, by=by, visible=visible, where=where)
            for by in ("env", "module")
        }
        for lo, hi in buckets
    ]
    choices: dict[str, set[str]] = {"env": set(), "module": set(), "project": set()}
    for module, env, project in state.dims:
        if visible(project, env):
            choices["env"].add(env)
            choices["module"].add(module)
            choices["project"].add(project)
    return {
        "reports": reports,
        "totals": reports["env"]["totals"],
        "window": reports["env"]["window"],
        "labels": [lo.strftime(fmt) for lo, _ in buckets],
        "trend": trend,
        "choices": {k: sorted(v) for k, v in choices.items()},
    }


def _duration_series(trend: list[dict[str, Any]], by: str, kind: str) -> list[charts.Series]:
    names = sorted({name for bucket in trend for name in bucket[by].get("groups", {})})
    out = []
    for name in names:
        for p in ("p50", "p95"):
            values = [
                bucket[by]
                .get("groups", {})
                .get(name, {})
                .get("durations_seconds", {})
                .get(kind, {})
                .get(p)
                for bucket in trend
            ]
            if any(v is not None for v in values):
                out.append(charts.Series(f"{kind} {name} {p}", values, dashed=p == "p95"))
    return out


def render_charts(data: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the page, as SVG figures."""
    totals, labels, trend = data["totals"], data["labels"], data["trend"]
    reports = data["reports"]
    by_status = sorted(totals["requests"]["by_status"].items())
    out: dict[str, Markup] = {
        "status": charts.bars("Requests by status", by_status, series="status"),
    }
    for kind in ("plan", "apply"):
        for by, name in (("env", "environment"), ("module", "module")):
            out[f"{kind}_{by}"] = charts.lines(
                f"{kind.capitalize()} time per {name}, p50 (solid) and p95 (dashed)",
                labels,
                _duration_series(trend, by, kind),
                unit="s",
            )

    def over_time(path: tuple[str, ...]) -> list[float | None]:
        values: list[float | None] = []
        for bucket in trend:
            node: Any = bucket["env"]["totals"]
            for key in path:
                node = node[key]
            values.append(node)
        return values

    out["drift"] = charts.columns(
        "Drift detected and cleared over time",
        labels,
        [
            charts.Series("detected", over_time(("drift", "detected"))),
            charts.Series("cleared", over_time(("drift", "cleared"))),
        ],
        note=f"Open now: {totals['drift']['open']}.",
    )
    policy = totals["policy"]
    rules = sorted(set(policy["blocks"]) | set(policy["overrides"]))
    out["policy"] = charts.bars(
        "Policy blocks and overrides by rule",
        [
            *((f"{r} blocks", float(policy["blocks"].get(r, 0))) for r in rules),
            *((f"{r} overrides", float(policy["overrides"].get(r, 0))) for r in rules),
        ],
        series="policy",
    )
    projects = reports["project"].get("groups", {})
    out["cost"] = charts.bars(
        "Monthly cost delta by project (USD)",
        [(name, g["cost"]["monthly_delta_total"]) for name, g in projects.items()],
        series="cost",
    )
    out["notifications"] = charts.columns(
        "Notification failures over time",
        labels,
        [
            charts.Series("failed", over_time(("notifications", "failed"))),
            charts.Series("dead-lettered", over_time(("notifications", "dead_letters"))),
        ],
        note=(
            f"In the window: {totals['notifications']['failed']} failed, "
            f"{totals['notifications']['dead_letters']} dead-lettered."
        ),
    )
    return out


def build_metrics_pages() -> APIRouter:
    """``GET /metrics``: the dashboard."""
    from tfpilot_web.pages import page_actor, render

    router = APIRouter(include_in_schema=False)

    @router.get("/metrics", response_class=HTMLResponse)
    def metrics_page(
        request: Request,
        actor: str = Depends(page_actor),
        since: str = "7d",
        environment: str = "",
        module: str = "",
        project: str = "",
    ) -> HTMLResponse:
        platform = state_of(request).platform
        if since not in WINDOWS:
            from tfpilot_core.metrics import parse_since

            parse_since(since[:12])  # a clear 422 for nonsense; any valid window is accepted
        filters = Filters(since[:12], environment[:64], module[:200], project[:64])
        data = dashboard(platform, actor, filters)
        return render(
            request,
            "metrics.html",
            {
                "filters": filters,
                "windows": WINDOWS,
                "data": data,
                "totals": data["totals"],
                "charts": render_charts(data),
                "environments": [e.key for e in platform.config.core.environments],
            },
        )

    return router
