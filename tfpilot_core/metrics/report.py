"""Metrics over a time window, from the rollup, with an optional breakdown.

Percentiles use the **nearest-rank** method: the p-th percentile of n values sorted ascending is
the value at 1-based rank ``ceil(p / 100 * n)``. It is always one of the observed values (no
interpolation), so p95 of ``[1 .. 20]`` is 19 and p50 of ``[1, 2, 3, 4]`` is 2.

Durations are of *successful* runs, from the ``*_started`` event to the ``*_succeeded`` event.
Lead time is from ``request_created`` to the request's first ``apply_succeeded``; approval wait
from ``approval_required`` to ``approved``; time to remediate from ``drift_detected`` to
``drift_cleared``. A fact belongs to the window when the event that completes it does. Open
drifts and requests by status are the state now (requests created in the window).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_core.lifecycle import derive_status
from tfpilot_core.metrics.feed import ScanFeed, connect, sqlite_path
from tfpilot_core.metrics.rollup import CODES, Series, State, load_days, update
from tfpilot_core.models import utcnow
from tfpilot_core.stores.sqlite import _to_us

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store

BREAKDOWNS = ("module", "env", "project")
PERCENTILE_METHOD = "nearest-rank: the value at rank ceil(p/100*n) of the sorted values"
_DIM_FIELD = {"module": 0, "env": 1, "project": 2}


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile of ``values`` (``None`` for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """Count, p50/p95/p99, mean and max of ``values`` (seconds)."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return round(ordered[max(1, math.ceil(p / 100 * n)) - 1], 3)

    return {
        "count": n,
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "mean": round(sum(ordered) / n, 3),
        "max": round(ordered[-1], 3),
    }


def parse_since(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` as a duration; a clear error otherwise."""

    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not (number.isascii() and number.isdigit()) or int(number) <= 0:
        raise ValidationError(
            [FieldProblem("since", "duration", "use a number and m, h, d or w, e.g. 7d")]
        )
    # Bounded, so that no window overflows a datetime (issue 27 item 7): 100 years at most.
    seconds = int(number) * units[unit] if len(number) <= 9 else None
    if seconds is None or seconds > 36_500 * 86400:
        raise ValidationError([FieldProblem("since", "duration", "at most 36500d (100 years)")])
    return timedelta(seconds=seconds)


class _Group:
    def __init__(self) -> None:
        self.counts = [0] * len(CODES)
        self.values: dict[int, list[float]] = {}
        self.blocks: dict[str, int] = {}
        self.overrides: dict[str, int] = {}
        self.cost = 0.0
        self.open_drifts = 0
        self.statuses: dict[str, int] = {}


def _rate(succeeded: int, failed: int) -> float | None:
    total = succeeded + failed
    return round(succeeded / total, 4) if total else None


def _render(group: _Group) -> dict[str, Any]:
    c = {name: group.counts[i] for i, name in enumerate(CODES)}

    def values(name: str) -> list[float]:
        return [v for v in group.values.get(CODES.index(name), []) if v >= 0]

    runs = {
        kind: {
            "succeeded": c[f"{kind}.succeeded"],
            "failed": c[f"{kind}.failed"],
            "success_rate": _rate(c[f"{kind}.succeeded"], c[f"{kind}.failed"]),
        }
        for kind in ("plan", "apply", "destroy")
    }
    return {
        "requests": {
            "created": c["request.created"],
            "by_status": dict(sorted(group.statuses.items())),
        },
        "runs": runs,
        "durations_seconds": {
            "plan": distribution(values("plan.succeeded")),
            "apply": distribution(values("apply.succeeded")),
        },
        "lead_time_seconds": distribution(values("lead_time")),
        "approval_wait_seconds": distribution(values("approval_wait")),
        "drift": {
            "checks": c["drift.checked"],
            "detected": c["drift.detected"],
            "cleared": c["drift.cleared"],
            "open": group.open_drifts,
            "time_to_remediate_seconds": distribution(values("drift.cleared")),
        },
        "policy": {
            "blocks": dict(sorted(group.blocks.items())),
            "overrides": dict(sorted(group.overrides.items())),
        },
        "cost": {
            "estimates": c["cost.delta"] + c["cost.unknown"],
            "monthly_delta_total": round(group.cost, 2),
            "unknown": c["cost.unknown"],
        },
        "notifications": {
            "failed": c["notification.failed"],
            "dead_letters": c["notification.dead_letter"],
        },
    }


def statuses(store: Store, since: datetime) -> list[tuple[str, str, str, str, int]]:
    """(status, module, environment, project, count) of requests created since ``since``.

    The embedded store answers from its request index (the status cached at the last write;
    time alone can only turn a run that went stale into ``failed``); other stores are listed
    page by page and each status derived now.
    """

    path = sqlite_path(store)
    if path is not None:
        conn = connect(path)
        try:
            rows = conn.execute(
                "SELECT status, module, environment, project, count(*) FROM requests"
                " WHERE created_us >= ? GROUP BY status, module, environment, project",
                (_to_us(since),),
            ).fetchall()
        finally:
            conn.close()
        return [(str(a), str(b), str(c), str(d), int(n)) for a, b, c, d, n in rows]

    counted: dict[tuple[str, str, str, str], int] = {}
    now = utcnow()
    for request in ScanFeed(store).requests():
        if request.created_at < since:
            continue
        p = request.placement
        key = (derive_status(request, now=now).value, p.module, p.environment, p.project)
        counted[key] = counted.get(key, 0) + 1
    return [(*k, n) for k, n in counted.items()]


def compute(
    state: State,
    days: Sequence[dict[str, Series]],
    status_rows: Sequence[tuple[str, str, str, str, int]],
    *,
    since: datetime,
    until: datetime,
    by: str | None = None,
    visible: Callable[[str, str], bool] | None = None,
    where: Callable[[str, str, str], bool] | None = None,
) -> dict[str, Any]:
    """The report of the rollup's ``days`` for ``[since, until]``, optionally broken down ``by``.

    ``visible(project, environment)`` limits the report to what a user may read;
    ``where(module, environment, project)`` to a filter's choice (a dashboard's filters).
    """
    field = _DIM_FIELD.get(by) if by else None
    start, end = since.timestamp(), until.timestamp()
    start_ms, end_ms = start * 1000, end * 1000
    total = _Group()
    groups: dict[str, _Group] = {}
    allowed = [
        (visible(d[2], d[1]) if visible else True) and (where(d[0], d[1], d[2]) if where else True)
        for d in state.dims
    ]
    cache: dict[int, list[_Group]] = {}

    def groups_of(dim: int) -> list[_Group]:
        found = cache.get(dim)
        if found is None:
            if field is None:
                found = [total]
            else:
                found = [total, groups.setdefault(state.dims[dim][field], _Group())]
            cache[dim] = found
        return found

    block, override = CODES.index("policy.block"), CODES.index("policy.override")
    cost = CODES.index("cost.delta")
    for series in days:
        for key, (times, values) in series.items():
            code_text, _, dim_text = key.partition(":")
            code, dim = int(code_text), int(dim_text)
            if dim >= len(allowed) or not allowed[dim]:
                continue
            lo, hi = bisect.bisect_left(times, start_ms), bisect.bisect_right(times, end_ms)
            if lo >= hi:
                continue
            chosen = values[lo:hi]
            for g in groups_of(dim):
                g.counts[code] += hi - lo
                if code in (block, override):
                    target = g.blocks if code == block else g.overrides
                    for rule_index, n in Counter(chosen).items():
                        rule = state.rules[int(rule_index)]
                        target[rule] = target.get(rule, 0) + n
                elif code == cost:
                    g.cost += math.fsum(chosen)
                else:
                    g.values.setdefault(code, []).extend(chosen)
    for _at, drifted_dim in state.drifted.values():
        dim = int(drifted_dim)
        if dim < len(allowed) and allowed[dim]:
            for g in groups_of(dim):
                g.open_drifts += 1
    for status, module, env, project, n in status_rows:
        if visible and not visible(project, env):
            continue
        if where and not where(module, env, project):
            continue
        names = {"module": module, "env": env, "project": project}
        targets = [total] if by is None else [total, groups.setdefault(names[by], _Group())]
        for g in targets:
            g.statuses[status] = g.statuses.get(status, 0) + n
    report: dict[str, Any] = {
        "window": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "seconds": int(end - start),
        },
        "percentile_method": PERCENTILE_METHOD,
        "events_in_rollup": state.events,
        "totals": _render(total),
    }
    if by:
        report["by"] = by
        report["groups"] = {name: _render(g) for name, g in sorted(groups.items())}
    return report


def metrics(
    store: Store,
    *,
    since: timedelta = timedelta(days=7),
    by: str | None = None,
    visible: Callable[[str, str], bool] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Update the rollup from the events since its cursor, then report on the window."""
    until = now or utcnow()
    start = until - since
    state, folded = update(store)
    days = load_days(store, state, start.timestamp(), until.timestamp())
    report = compute(
        state, days, statuses(store, start), since=start, until=until, by=by, visible=visible
    )
    report["events_folded_now"] = folded
    return report
