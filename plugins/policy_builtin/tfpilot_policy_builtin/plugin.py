"""Hook implementations of the ``policy_builtin`` plugin: a policy engine and ``tfpilot policy``.

Nothing heavy is imported here, not even pydantic: ``tfpilot --help`` loads this module and
calls ``tfpilot_register_commands``. The settings model, the engine, its rules and the output
formats are imported by the hooks and the commands when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl
from tfpilot_policy_builtin.registration import NAME as NAME
from tfpilot_policy_builtin.registration import build_engine as build_engine
from tfpilot_policy_builtin.registration import registration

if TYPE_CHECKING:
    import click
    import pluggy

    from tfpilot_core.registrations import Registration


@hookimpl
def tfpilot_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Define ``tfpilot_register_policy_rules``, the hook policy packs implement."""
    from tfpilot_policy_builtin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def tfpilot_register_policy_engines() -> list[Registration[Any]]:
    """The built-in policy engine, configured by ``[plugins.policy_builtin]``."""
    return [registration()]


@hookimpl
def tfpilot_register_commands(cli: click.Group) -> None:
    """``tfpilot policy show`` and ``tfpilot policy check``."""
    from tfpilot_policy_builtin.commands import policy_group

    cli.add_command(policy_group)
