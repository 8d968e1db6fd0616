"""The metrics report rendered as text or as OpenMetrics (JSON is the report itself)."""

from __future__ import annotations

from typing import Any


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


def openmetrics(report: dict[str, Any]) -> str:
    """OpenMetrics text exposition of ``report``: gauges of the window, ending with ``# EOF``.

    Values are of the window stated in ``tfpilot_metrics_window_seconds`` (a gauge, not a
    counter since process start), so every family is a gauge; quantiles use nearest rank.
    """
    by = report.get("by")
    label = {"module": "module", "env": "environment", "project": "project"}.get(by or "", "")
    sections: list[tuple[dict[str, str], dict[str, Any]]] = [({}, report["totals"])]
    for name, group in (report.get("groups") or {}).items():
        sections.append(({label: name}, group))
    families: dict[str, tuple[str, list[str]]] = {}

    def add(name: str, help_: str, labels: dict[str, str], value: Any) -> None:
        if value is None:
            return
        families.setdefault(name, (help_, []))[1].append(f"{name}{_labels(labels)} {value}")

    add(
        "tfpilot_metrics_window_seconds",
        "Length of the reported window.",
        {},
        report["window"]["seconds"],
    )
    for labels, m in sections:
        for status, n in m["requests"]["by_status"].items():
            add(
                "tfpilot_requests",
                "Requests created in the window, by status now.",
                {**labels, "status": status},
                n,
            )
        for kind, runs in m["runs"].items():
            for outcome in ("succeeded", "failed"):
                add(
                    "tfpilot_runs",
                    "Runs finished in the window.",
                    {**labels, "kind": kind, "outcome": outcome},
                    runs[outcome],
                )
            add(
                "tfpilot_run_success_ratio",
                "Succeeded / finished runs.",
                {**labels, "kind": kind},
                runs["success_rate"],
            )
        dists = {
            **{f"run_duration_{k}": v for k, v in m["durations_seconds"].items()},
            "lead_time": m["lead_time_seconds"],
            "approval_wait": m["approval_wait_seconds"],
            "drift_time_to_remediate": m["drift"]["time_to_remediate_seconds"],
        }
        for what, d in dists.items():
            name = f"tfpilot_{what}_seconds"
            for q in ("p50", "p95", "p99"):
                add(
                    name,
                    f"Nearest-rank quantiles of {what.replace('_', ' ')}.",
                    {**labels, "quantile": f"0.{q[1:]}"},
                    d[q],
                )
            add(
                f"{name}_observations",
                f"Observations of {what.replace('_', ' ')}.",
                labels,
                d["count"],
            )
        for what in ("checks", "detected", "cleared", "open"):
            add(f"tfpilot_drift_{what}", f"Drift {what}.", labels, m["drift"][what])
        for kind in ("blocks", "overrides"):
            for rule, n in m["policy"][kind].items():
                add(
                    f"tfpilot_policy_{kind}", f"Policy {kind} by rule.", {**labels, "rule": rule}, n
                )
        add(
            "tfpilot_cost_monthly_delta",
            "Sum of estimated monthly cost deltas.",
            labels,
            m["cost"]["monthly_delta_total"],
        )
        add(
            "tfpilot_notification_failures",
            "Failed notification deliveries.",
            labels,
            m["notifications"]["failed"],
        )
        add(
            "tfpilot_notification_dead_letters",
            "Dead-lettered notifications.",
            labels,
            m["notifications"]["dead_letters"],
        )
    lines: list[str] = []
    for name, (help_, samples) in families.items():
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"# HELP {name} {help_}")
        lines += samples
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def text(report: dict[str, Any]) -> str:
    """A readable summary of ``report`` (one block for the totals and one per group)."""
    w = report["window"]
    out = [
        f"Window: {w['since']} .. {w['until']} ({w['seconds'] // 3600} h)",
        f"Percentiles: {report['percentile_method']}",
    ]
    sections = [("all", report["totals"]), *(report.get("groups") or {}).items()]
    for name, m in sections:
        title = name if name == "all" else f"{report.get('by')}={name}"
        out.append(f"\n== {title}")
        status = ", ".join(f"{k} {v}" for k, v in m["requests"]["by_status"].items()) or "none"
        out.append(f"  requests: {m['requests']['created']} created; by status: {status}")
        for kind, r in m["runs"].items():
            out.append(
                f"  {kind}: {r['succeeded']} ok, {r['failed']} failed, "
                f"success rate {_fmt(r['success_rate'])}"
            )
        for label, d in (
            ("plan duration", m["durations_seconds"]["plan"]),
            ("apply duration", m["durations_seconds"]["apply"]),
            ("lead time", m["lead_time_seconds"]),
            ("approval wait", m["approval_wait_seconds"]),
        ):
            out.append(
                f"  {label} (s): n={d['count']} p50 {_fmt(d['p50'])} p95 {_fmt(d['p95'])} "
                f"p99 {_fmt(d['p99'])}"
            )
        dr = m["drift"]
        out.append(
            f"  drift: {dr['checks']} checks, {dr['detected']} detected, {dr['cleared']} cleared,"
            f" {dr['open']} open; remediation p95 {_fmt(dr['time_to_remediate_seconds']['p95'])} s"
        )
        blocks = ", ".join(f"{k} {v}" for k, v in m["policy"]["blocks"].items()) or "none"
        overrides = ", ".join(f"{k} {v}" for k, v in m["policy"]["overrides"].items()) or "none"
        out.append(f"  policy blocks: {blocks}; overrides: {overrides}")
        out.append(
            f"  cost: monthly delta total {m['cost']['monthly_delta_total']} "
            f"({m['cost']['estimates']} estimates, {m['cost']['unknown']} unknown)"
        )
        n = m["notifications"]
        out.append(f"  notifications: {n['failed']} failed, {n['dead_letters']} dead letters")
    return "\n".join(out)
