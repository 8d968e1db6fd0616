"""The engine's registration (a leaf module: the hooks, the CLI and other plugins import it).

The engine and its settings model are named as ``module:attr`` references, so importing this
module (at every CLI start, through the plugin's hooks) loads neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core.registrations import Registration

if TYPE_CHECKING:
    from tfpilot_core.interfaces import PolicyEngine
    from tfpilot_core.registrations import PluginContext
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
    return Registration(
        name=NAME,
        factory="tfpilot_policy_builtin.registration:build_engine",
        settings_model="tfpilot_policy_builtin.settings:PolicySettings",
        description="Built-in rules on request inputs and plans, with levels per environment",
    )
