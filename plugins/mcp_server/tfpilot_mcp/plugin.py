"""Hook implementations of the ``mcp_server`` plugin: ``tfpilot mcp serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def tfpilot_register_commands(cli: click.Group) -> None:
    """``tfpilot mcp serve``."""
    from tfpilot_mcp.commands import mcp_group

    cli.add_command(mcp_group)
