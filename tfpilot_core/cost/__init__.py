"""Cost estimates as people and programs see them: one renderer per format.

:func:`render_text` (the CLI), :func:`render_markdown` (PR comments, web pages) and
:func:`estimate_dict` (``--json``) are pure functions of a stored
:class:`~tfpilot_core.models.CostEstimate`, so every place that shows a cost shows the same one.
"""

from __future__ import annotations

from tfpilot_core.cost.render import (
    delta_phrase,
    estimate_dict,
    format_money,
    is_partial,
    render_markdown,
    render_text,
    top_lines,
)

__all__ = [
    "delta_phrase",
    "estimate_dict",
    "format_money",
    "is_partial",
    "render_markdown",
    "render_text",
    "top_lines",
]
