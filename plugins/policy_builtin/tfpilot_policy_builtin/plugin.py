"""Hook implementations of the ``policy_builtin`` plugin: a policy engine and ``tfpilot policy``.

Nothing heavy is imported here, not even pydantic: ``tfpilot --help`` loads this module and
calls ``tfpilot_register_commands``. The settings model, the engine, its rules and the output
formats are imported by the hooks and the commands when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    import click
    import pluggy

    from tfpilot_core.interfaces import PolicyEngine
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_policy_builtin.settings import PolicySettings

NAME = "policy_builtin"


def build_engine(settings: PolicySettings, context: PluginContext) -> PolicyEngine:
    """The factory: the engine with the built-in rules and every selected policy pack."""
    from tfpilot_policy_builtin.engine import BuiltinPolicyEngine, collect_pack_rules

    packs = collect_pack_rules(context.host, settings.packs) if context.host is not None else []
    source = str(context.config_path) if context.config_path else "<defaults>"
    return BuiltinPolicyEngine(settings, packs, source=source)


def registration() -> Registration[Any]:
    """The engine's registration: name ``policy_builtin``, settings ``[plugins.policy_builtin]``."""
    from tfpilot_core.registrations import Registration
    from tfpilot_policy_builtin.settings import PolicySettings

    return Registration(
        name=NAME,
        factory=build_engine,
        settings_model=PolicySettings,
        description="Built-in rules on request inputs and plans, with levels per environment",
    )


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
