"""Mounts the pages of the second part of the web UI, one module each.

``/metrics`` (:mod:`tfpilot_web.pages_metrics`), ``/templates``
(:mod:`tfpilot_web.pages_templates`), ``/notifications`` (:mod:`tfpilot_web.pages_prefs`),
``/chat`` (:mod:`tfpilot_web.pages_chat`), ``/admin`` (:mod:`tfpilot_web.pages_admin`) and the
promotion panel and ``/promote`` (:mod:`tfpilot_web.pages_promotion`).
"""

from __future__ import annotations

from typing import Any


def include_more_pages(app: Any) -> None:
    """Add every page router of this part to ``app``."""
    from tfpilot_web.catalog_search import catalog_filter, choices, usage
    from tfpilot_web.pages import templates
    from tfpilot_web.pages_admin import build_admin_pages
    from tfpilot_web.pages_chat import build_chat_pages
    from tfpilot_web.pages_metrics import build_metrics_pages
    from tfpilot_web.pages_prefs import build_prefs_pages
    from tfpilot_web.pages_preview import build_preview_pages
    from tfpilot_web.pages_promotion import build_promotion_pages
    from tfpilot_web.pages_templates import build_templates_pages

    templates.env.globals.update(
        catalog_filter=catalog_filter, catalog_choices=choices, catalog_usage=usage
    )
    for build in (
        build_metrics_pages,
        build_templates_pages,
        build_prefs_pages,
        build_chat_pages,
        build_admin_pages,
        build_preview_pages,
        build_promotion_pages,
    ):
        app.include_router(build())
