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
from tfpilot_core.registrations import Registration
from tfpilot_web.registration import NAME as NAME
from tfpilot_web.registration import SLACK_PREFIX as SLACK_PREFIX
from tfpilot_web.registration import web_registration

if TYPE_CHECKING:
    import click

    from tfpilot_core.registrations import PluginContext, Routes


@hookimpl
def tfpilot_register_routes() -> list[Registration[Routes]]:
    """Register Slack interactivity (mounted only when configured)."""
    return [web_registration()]


@hookimpl
def tfpilot_register_identity_providers() -> list[Registration[Any]]:
    """Register ``api_token``: the CLI's actor is the user of the token in ``$TFPILOT_TOKEN``."""

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
