"""The registration of ``[plugins.web]`` and the Slack routes' factory (a leaf module: the hooks,
the server and the body limits import it; the settings model and FastAPI load only when built)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core.registrations import Registration, Routes

if TYPE_CHECKING:
    from tfpilot_core.registrations import PluginContext
    from tfpilot_web.settings import WebSettings

NAME = "web"
SLACK_PREFIX = "/integrations/slack"


def build_slack_routes(settings: WebSettings, context: PluginContext) -> Routes | None:
    """The factory: Slack interactivity, or ``None`` when no signing secret is configured."""
    if not settings.slack_signing_secret:
        return None

    def app(platform: Any) -> Any:
        from tfpilot_web.slack import build_slack_router

        return build_slack_router(platform, settings)

    return Routes(
        prefix=SLACK_PREFIX,
        app=app,
        public=True,  # Slack signs its requests; the route verifies them itself
        description="Slack interactivity: approve buttons in Slack messages",
    )


def web_registration() -> Registration[Any]:
    """The registration whose section, ``[plugins.web]``, holds the server's settings."""
    return Registration(
        name=NAME,
        factory="tfpilot_web.registration:build_slack_routes",
        settings_model="tfpilot_web.settings:WebSettings",
        description="Slack interactivity for tfpilot serve (approve from a Slack message)",
    )
