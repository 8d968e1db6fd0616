"""Server-rendered SVG charts: horizontal bars, grouped columns over time, lines over time.

Hand-drawn SVG (no JavaScript, no chart library): each chart is a ``<figure>`` with a caption,
an ``<svg role="img">`` named by its title, and a table of the same numbers for screen readers
and for copying. Every drawn value carries ``data-series``, ``data-label`` and ``data-value``
attributes, so tests (and people) can read the numbers a chart was drawn from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
_ids = itertools.count(1)


@dataclass
class Series:
    """One named series of values over the chart's labels (``None``: no value there)."""

    name: str
    values: Sequence[float | None]
    dashed: bool = False


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    return f"{text}{unit}"


def _raw(value: float | None) -> str:
    return "" if value is None else repr(round(float(value), 6))


def _figure(title: str, svg: str, table: str, note: str = "") -> Markup:
    ident = f"chart-{next(_ids)}"
    extra = f'<p class="muted">{escape(note)}</p>' if note else ""
    return Markup(
        f'<figure class="chart" aria-labelledby="{ident}">'
        f'<figcaption id="{ident}">{escape(title)}</figcaption>{svg}{extra}'
        f"<details><summary>Numbers</summary>{table}</details></figure>"
    )


def _svg(title: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _table(title: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table class="numbers"><caption>{escape(title)}</caption><thead><tr>{cells}</tr>'
        f"</thead><tbody>{body}</tbody></table>"
    )


def _empty(title: str) -> Markup:
    svg = _svg(
        title,
        480,
        40,
        '<text x="8" y="24" font-size="13" fill="#444">No data in this window.</text>',
    )
    return _figure(title, svg, "<p>No data.</p>")


def bars(title: str, items: Sequence[tuple[str, float]], *, series: str, unit: str = "") -> Markup:
    """Horizontal bars, one per ``(label, value)``; negative values grow to the left."""
    if not items:
        return _empty(title)
    label_w, bar_w, row_h = 180, 300, 22
    width, height = label_w + bar_w + 90, row_h * len(items) + 10
    low = min(0.0, *(v for _, v in items))
    high = max(0.0, *(v for _, v in items))
    span = (high - low) or 1.0
    zero = label_w + bar_w * (-low / span)
    parts = [f'<line x1="{zero:.1f}" y1="2" x2="{zero:.1f}" y2="{height - 4}" stroke="#666"/>']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_h
        w = bar_w * abs(value) / span
        x = zero if value >= 0 else zero - w
        colour = PALETTE[0] if value >= 0 else PALETTE[1]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
            f'fill="#1b1b1b">{escape(label[:28])}</text>'
            f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="{row_h - 6}" '
            f'fill="{colour}" data-series="{escape(series)}" data-label="{escape(label)}" '
            f'data-value="{_raw(value)}"><title>{escape(label)}: {_fmt(value, unit)}</title></rect>'
            f'<text x="{max(x + w, zero) + 4:.1f}" y="{y + 15}" font-size="12" '
            f'fill="#1b1b1b">{_fmt(value, unit)}</text>'
        )
    table = _table(title, ["", "value"], [(label, _fmt(v, unit)) for label, v in items])
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def _legend(names: Sequence[tuple[str, str, bool]], y: int) -> str:
    parts, x = [], 50
    for name, colour, dashed in names:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{colour}" '
            f'stroke-width="3"{dash}/><text x="{x + 22}" y="{y + 4}" font-size="11" '
            f'fill="#1b1b1b">{escape(name[:30])}</text>'
        )
        x += 30 + 7 * min(len(name), 30)
    return "".join(parts)


def _axes(labels: Sequence[str], high: float, unit: str, w: int, h: int, left: int) -> str:
    parts = [f'<line x1="{left}" y1="{h}" x2="{w}" y2="{h}" stroke="#666"/>']
    for k in range(5):
        value = high * k / 4
        y = h - (h - 10) * k / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{w}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#1b1b1b">{_fmt(round(value, 2), unit)}</text>'
        )
    step = max(1, len(labels) // 8)
    slot = (w - left) / max(len(labels), 1)
    for i, label in enumerate(labels):
        if i % step == 0:
            x = left + slot * (i + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{h + 14}" font-size="10" text-anchor="middle" '
                f'fill="#1b1b1b">{escape(label)}</text>'
            )
    return "".join(parts)


def lines(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", note: str = ""
) -> Markup:
    """One line per series over ``labels`` (time buckets); gaps where a value is ``None``."""
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        return _empty(title)
    left, w, h = 56, 640, 180
    high = max(values) or 1.0
    slot = (w - left) / max(len(labels), 1)
    parts = [_axes(labels, high, unit, w, h, left)]
    legend = []
    for n, s in enumerate(series):
        colour = PALETTE[(n // 2 if any(x.dashed for x in series) else n) % len(PALETTE)]
        legend.append((s.name, colour, s.dashed))
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        points: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                if len(points) > 1:
                    parts.append(_polyline(points, colour, dash))
                points = []
                continue
            x, y = left + slot * (i + 0.5), h - (h - 10) * value / high
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" '
                f'data-series="{escape(s.name)}" data-label="{escape(labels[i])}" '
                f'data-value="{_raw(value)}"><title>{escape(s.name)} {escape(labels[i])}: '
                f"{_fmt(value, unit)}</title></circle>"
            )
        if len(points) > 1:
            parts.append(_polyline(points, colour, dash))
    rows_per_legend = 1 + len(series) // 5
    height = h + 24 + 16 * rows_per_legend
    for r in range(rows_per_legend):
        parts.append(_legend(legend[r * 5 : (r + 1) * 5], h + 30 + 16 * r))
    table = _table(
        title,
        ["", *labels],
        [(s.name, *(_fmt(v, unit) for v in s.values)) for s in series],
    )
    return _figure(title, _svg(title, w + 10, height, "".join(parts)), table, note)


def _polyline(points: Sequence[str], colour: str, dash: str) -> str:
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
        f'stroke-width="2"{dash}/>'
    )


def columns(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", note: str = ""
) -> Markup:
    """Grouped columns per label (time bucket), one colour per series."""
    values = [v for s in series for v in s.values if v is not None]
    if not values or not any(values):
        return _empty(title)
    left, w, h = 56, 640, 160
    high = max(values) or 1.0
    slot = (w - left) / max(len(labels), 1)
    bar = max(1.0, slot * 0.8 / max(len(series), 1))
    parts = [_axes(labels, high, unit, w, h, left)]
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        for i, value in enumerate(s.values):
            if value is None:
                continue
            bh = (h - 10) * value / high
            x = left + slot * i + slot * 0.1 + bar * n
            parts.append(
                f'<rect x="{x:.1f}" y="{h - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" '
                f'fill="{colour}" data-series="{escape(s.name)}" data-label="{escape(labels[i])}" '
                f'data-value="{_raw(value)}"><title>{escape(s.name)} {escape(labels[i])}: '
                f"{_fmt(value, unit)}</title></rect>"
            )
    parts.append(
        _legend([(s.name, PALETTE[n % len(PALETTE)], False) for n, s in enumerate(series)], h + 30)
    )
    table = _table(
        title, ["", *labels], [(s.name, *(_fmt(v, unit) for v in s.values)) for s in series]
    )
    return _figure(title, _svg(title, w + 10, h + 44, "".join(parts)), table, note)
