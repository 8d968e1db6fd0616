"""Hook implementations of the ``web`` plugin.

* ``tfpilot_register_commands``: ``tfpilot serve`` and ``tfpilot tokens``;
* ``tfpilot_register_routes``: Slack interactivity (``/integrations/slack``), mounted when
  ``[plugins.web] slack_signing_secret`` is set;
* ``tfpilot_register_identity_providers``: ``api_token``, the CLI's actor proven by an API token
  (``$TFPILOT_TOKEN``), the same tokens and the same lookup as the server's.

FastAPI, uvicorn and the settings model are imported inside the hooks, factories and commands,
so ``tfpilot --help`` never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    import click

    from tfpilot_core.registrations import PluginContext, Registration, Routes
    from tfpilot_web.settings import WebSettings

NAME = "web"
SLACK_PREFIX = "/integrations/slack"


def build_slack_routes(settings: WebSettings, context: PluginContext) -> Routes | None:
    """The factory: Slack interactivity, or ``None`` when no signing secret is configured."""
    from tfpilot_core.registrations import Routes

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
    from tfpilot_core.registrations import Registration
    from tfpilot_web.settings import WebSettings

    return Registration(
        name=NAME,
        factory=build_slack_routes,
        settings_model=WebSettings,
        description="Slack interactivity for tfpilot serve (approve from a Slack message)",
    )


@hookimpl
def tfpilot_register_routes() -> list[Registration[Routes]]:
    """Register Slack interactivity (mounted only when configured)."""
    return [web_registration()]


@hookimpl
def tfpilot_register_identity_providers() -> list[Registration[Any]]:
    """Register ``api_token``: the CLI's actor is the user of the token in ``$TFPILOT_TOKEN``."""
    from tfpilot_core.registrations import Registration

    def build(settings: Any, context: PluginContext) -> Any:
        from tfpilot_web.auth import TokenIdentityProvider

        return TokenIdentityProvider(context.host.store())

    return [
        Registration(
            name="api_token",
            factory=build,
            description="the user of the API token in $TFPILOT_TOKEN (tfpilot tokens create)",
        )
    ]


@hookimpl
def tfpilot_register_commands(cli: click.Group) -> None:
    """Add ``tfpilot serve`` and ``tfpilot tokens``; FastAPI is imported only when they run."""
    from tfpilot_web.commands import serve_command, tokens_group

    cli.add_command(serve_command)
    cli.add_command(tokens_group)
