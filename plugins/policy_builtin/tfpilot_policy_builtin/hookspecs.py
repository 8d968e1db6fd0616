"""The policy-pack hook: how other plugins contribute rules to the built-in engine.

The core does not know this hook; the engine adds it to the plugin manager
(``pm.add_hookspecs``) before calling it. Because a pack plugin may be loaded before the engine
adds the spec, a pack marks its implementation optional so that pluggy's ``check_pending()``
accepts it either way::

    from tfpilot_core import hookimpl
    from tfpilot_policy_builtin.api import Hit, Rule

    class MonthlyBudget(Rule):
        id = "cost.budget"
        title = "Monthly budget"
        def check_plan(self, ctx):
            ...

    @hookimpl(optionalhook=True)
    def tfpilot_register_policy_rules():
        return [MonthlyBudget()]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The core's one marker: a plugin-defined hook is specified like the core's own.
from tfpilot_core.hookspecs import hookspec

if TYPE_CHECKING:
    from tfpilot_policy_builtin.api import Rule


@hookspec
def tfpilot_register_policy_rules() -> list[Rule]:  # type: ignore[empty-body]
    """Contribute rules (instances of :class:`tfpilot_policy_builtin.api.Rule`).

    Called once when the ``policy_builtin`` engine is built. Rule ids must be unique across
    every pack and the built-in rules (a duplicate is an error naming both plugins); levels and
    parameters come from ``[plugins.policy_builtin]`` (``levels`` and ``rule_params``) like the
    built-in rules'.

    :return: rules; an empty list if the plugin offers none.

    Fail closed: a pack that raises here or whose rule raises while evaluating stops the action
    with an error naming the plugin.
    """
