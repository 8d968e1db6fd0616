"""The one rendering of a cost estimate: text, Markdown and a JSON-friendly dict.

Everything here is a pure function of a :class:`~tfpilot_core.models.CostEstimate`: no I/O, no
configuration, no clock. Unknown money (``None``: a usage-based price without usage, or an
estimate that failed) is shown as "unknown", never as zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tfpilot_core.models import CostEstimate, CostLine

#: How many resources the renderings list by default (largest change first).
DEFAULT_TOP = 5
_CENT = Decimal("0.01")
UNKNOWN = "unknown"


def format_money(value: Decimal | None, currency: str, *, signed: bool = False) -> str:
    """``12.30 USD``, ``+12.30 USD`` with ``signed``, and ``unknown`` for ``None``."""
    if value is None:
        return UNKNOWN
    if not value.is_finite():
        return UNKNOWN
    rounded = value.quantize(_CENT, rounding=ROUND_HALF_EVEN) if abs(value) < 10**15 else value
    text = f"{rounded:+,}" if signed else f"{rounded:,}"
    return f"{text} {currency}"


def line_delta(line: CostLine) -> Decimal | None:
    """The monthly change of one resource: the stored delta, else monthly minus previous."""
    if line.delta is not None:
        return line.delta
    if line.monthly is not None and line.previous is not None:
        return line.monthly - line.previous
    return None


def top_lines(estimate: CostEstimate, top: int = DEFAULT_TOP) -> list[CostLine]:
    """The ``top`` resources with the largest change (either way), then the unknown ones."""

    def key(line: CostLine) -> tuple[int, Decimal, str]:
        delta = line_delta(line)
        if delta is None:
            # Unknown changes sort after every known one, by their known monthly cost.
            return (1, -(line.monthly or Decimal(0)), line.address)
        return (0, -abs(delta), line.address)

    changed = [
        line
        for line in estimate.lines
        if line.unknown or line_delta(line) is None or line_delta(line) != 0
    ]
    return sorted(changed, key=key)[: max(top, 0)]


def is_partial(estimate: CostEstimate) -> bool:
    """Whether the estimate covers only part of the plan: an error beside a total (some
    projects priced, others not), so the total is a lower bound."""
    return bool(estimate.error) and estimate.monthly is not None


def delta_phrase(estimate: CostEstimate) -> str:
    """One line for summaries: ``+12.30 USD/month (was 10.00 USD, now 22.30 USD)``."""
    c = estimate.currency
    if is_partial(estimate):
        now = format_money(estimate.monthly, c)
        return f"at least {now}/month: the estimate is partial ({estimate.error})"
    if estimate.error:
        return f"cost unknown: the estimate failed ({estimate.error})"
    now = format_money(estimate.monthly, c)
    if estimate.previous is None:
        phrase = f"{now}/month (previous unknown)"
    else:
        was = format_money(estimate.previous, c)
        phrase = f"{format_money(estimate.delta, c, signed=True)}/month (was {was}, now {now})"
    if estimate.unknown:
        phrase += f"; {len(estimate.unknown)} resource(s) with usage-based costs unknown"
    return phrase


def _component_rows(line: CostLine) -> list[str]:
    rows = []
    for comp in line.components:
        where = f"{comp.subresource}: " if comp.subresource else ""
        if comp.monthly is None:
            price = f" at {comp.price} per {comp.unit}" if comp.price is not None else ""
            rows.append(f"{where}{comp.name}: {UNKNOWN} (usage based, no usage given{price})")
        else:
            qty = f"{comp.monthly_quantity} {comp.unit}".strip()
            qty = f" ({qty})" if comp.monthly_quantity is not None else ""
            rows.append(f"{where}{comp.name}{qty}: {comp.monthly}")
    return rows


def render_text(estimate: CostEstimate, *, top: int = DEFAULT_TOP) -> str:
    """The estimate for a terminal: totals, then the top resources by change with components."""
    c = estimate.currency
    out = [f"Cost estimate ({estimate.estimator or 'unknown estimator'})"]
    if estimate.plan_digest:
        out[0] += f" for plan {estimate.plan_digest[:12]}"
    if is_partial(estimate):
        out.append(f"  estimate partial (totals are a lower bound): {estimate.error}")
    elif estimate.error:
        out.append(f"  estimate failed: {estimate.error}")
    out.append(f"  monthly    {format_money(estimate.monthly, c)}")
    out.append(f"  previous   {format_money(estimate.previous, c)}")
    out.append(f"  delta      {format_money(estimate.delta, c, signed=True)}")
    for currency, total in sorted(estimate.other_currencies.items()):
        out.append(f"  also       {format_money(total, currency)} (other currency)")
    if estimate.unknown:
        shown = ", ".join(estimate.unknown[:5]) + (" ..." if len(estimate.unknown) > 5 else "")
        out.append(
            f"  unknown    usage-based costs of {len(estimate.unknown)} resource(s): {shown}"
        )
    lines = top_lines(estimate, top)
    if lines:
        out.append(f"  top {len(lines)} by change:")
        for line in lines:
            delta = format_money(line_delta(line), c, signed=True)
            now = format_money(line.monthly, c)
            flag = " (partly unknown)" if line.unknown else ""
            out.append(f"    {line.address}  {delta}  (now {now}){flag}")
            out += [f"        {row}" for row in _component_rows(line)]
    return "\n".join(out)


def _md(text: str) -> str:
    # Table cells: a pipe would end the cell, a newline the row.
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(estimate: CostEstimate, *, top: int = DEFAULT_TOP) -> str:
    """The estimate for a PR comment or a web page (GitHub-flavoured Markdown)."""
    c = estimate.currency
    out = ["#### Cost estimate", ""]
    if is_partial(estimate):
        out += [f"> **The estimate is partial** (a lower bound): {_md(estimate.error or '')}", ""]
    elif estimate.error:
        out += [f"> **The estimate failed:** {_md(estimate.error)}", ""]
    out += [
        "| | Monthly |",
        "|---|---:|",
        f"| Now | {format_money(estimate.monthly, c)} |",
        f"| Previous | {format_money(estimate.previous, c)} |",
        f"| **Change** | **{format_money(estimate.delta, c, signed=True)}** |",
    ]
    for currency, total in sorted(estimate.other_currencies.items()):
        out.append(f"| Other currency | {format_money(total, currency)} |")
    out.append("")
    if estimate.unknown:
        out += [
            f"Usage-based costs of {len(estimate.unknown)} resource(s) are **unknown** (no usage "
            "given): " + ", ".join(f"`{_md(a)}`" for a in estimate.unknown[:10]),
            "",
        ]
    lines = top_lines(estimate, top)
    if lines:
        out += ["| Resource | Change | Monthly |", "|---|---:|---:|"]
        for line in lines:
            flag = " (partly unknown)" if line.unknown else ""
            out.append(
                f"| `{_md(line.address)}`{flag} | {format_money(line_delta(line), c, signed=True)}"
                f" | {format_money(line.monthly, c)} |"
            )
        details = [(line, _component_rows(line)) for line in lines if line.components]
        if details:
            out += ["", "<details><summary>Components</summary>", ""]
            for line, rows in details:
                out.append(f"- `{_md(line.address)}`")
                out += [f"  - {_md(row)}" for row in rows]
            out += ["", "</details>"]
        out.append("")
    footer = f"Estimator: {estimate.estimator or 'unknown'}"
    if estimate.plan_digest:
        footer += f", plan `{estimate.plan_digest[:12]}`"
    if estimate.compared_to:
        footer += f", compared to applied plan `{estimate.compared_to[:12]}`"
    out.append(f"<sub>{footer}</sub>")
    return "\n".join(out)


def _money_json(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def estimate_dict(estimate: CostEstimate, *, top: int = DEFAULT_TOP) -> dict[str, Any]:
    """The estimate for ``--json``: money as decimal strings (never floats), ``None`` unknown."""
    data: dict[str, Any] = estimate.model_dump(mode="json")
    data["delta"] = _money_json(estimate.delta)
    data["status"] = (
        "partial" if is_partial(estimate) else "failed" if estimate.error else "estimated"
    )
    data["top"] = [
        {
            "address": line.address,
            "resource_type": line.resource_type,
            "monthly": _money_json(line.monthly),
            "previous": _money_json(line.previous),
            "delta": _money_json(line_delta(line)),
            "unknown": line.unknown,
        }
        for line in top_lines(estimate, top)
    ]
    return data
