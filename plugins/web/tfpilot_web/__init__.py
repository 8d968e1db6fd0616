"""tfpilot's HTTP API and web UI: ``create_app(platform)`` and ``tfpilot serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

__all__ = ["create_app"]


def create_app(platform: Platform, **kwargs: Any) -> Any:
    """The ASGI application (FastAPI) over ``platform``; see :func:`tfpilot_web.app.create_app`."""
    from tfpilot_web.app import create_app as build

    return build(platform, **kwargs)
