"""``tfpilot mcp serve``: the MCP server on stdio."""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app


@click.group("mcp")
def mcp_group() -> None:
    """The MCP server for agents (Model Context Protocol).

    \b
    Example:
      tfpilot --as alice mcp serve --allow plan    # an agent's MCP client starts this
    """


@mcp_group.command("serve")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    type=click.Choice(["create", "plan"]),
    help="Also expose an acting tool (besides [plugins.mcp_server] acting_tools).",
)
def serve_command(allow: tuple[str, ...]) -> None:
    """Serve tfpilot's tools over MCP on stdin/stdout, acting as the current user.

    Read tools (catalog, module schema, requests, timeline, policy, query, ask) and
    draft_request are always on; create and plan only when turned on. Approving, applying and
    destroying are never exposed.

    \b
    Examples:
      tfpilot --as alice mcp serve
      tfpilot --as alice mcp serve --allow create --allow plan
    """
    # Imported here: `mcp` (and what it pulls in) loads only when the server runs.
    from pydantic import ValidationError as PydanticValidationError

    from tfpilot_core.errors import ConfigError
    from tfpilot_mcp.server import build_server
    from tfpilot_mcp.settings import MCPSettings
    from tfpilot_mcp.stdio import run_stdio

    state = app()
    raw = state.config.plugins.get("mcp_server", {})
    try:
        settings = MCPSettings.model_validate(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"[plugins.mcp_server] {where}: {first['msg']}", key=f"plugins.mcp_server.{where}"
        ) from None
    acting = sorted(set(settings.acting_tools) | set(allow))
    server = build_server(state.platform, state.whoami(), acting)
    run_stdio(server)
