"""Hook implementations of the ``cost_infracost`` plugin.

* a cost estimator named ``infracost`` (``[plugins.cost_infracost]``) running the Infracost CLI;
* a policy pack for the ``policy_builtin`` engine: ``cost.budget``, ``cost.unknown`` and
  ``cost.estimate_failed`` (see :mod:`tfpilot_cost_infracost.budget`).

Nothing heavy is imported here, not even pydantic: ``tfpilot --help`` loads this module. The
settings, the estimator and the rules are imported by the hooks and the factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import CostEstimator
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_cost_infracost.settings import InfracostSettings

SECTION = "cost_infracost"


def build_estimator(settings: InfracostSettings, context: PluginContext) -> CostEstimator:
    """The factory: the estimator, with a relative usage file resolved next to the config."""
    from tfpilot_cost_infracost.estimator import InfracostEstimator

    base = context.config_path.parent if context.config_path else None
    return InfracostEstimator(settings, base_dir=base)


@hookimpl
def tfpilot_register_cost_estimators() -> list[Registration[Any]]:
    """The ``infracost`` estimator, configured by ``[plugins.cost_infracost]``."""
    from tfpilot_core.registrations import Registration
    from tfpilot_cost_infracost.settings import InfracostSettings

    return [
        Registration(
            name="infracost",
            factory=build_estimator,
            settings_model=InfracostSettings,
            description="Infracost estimates and diffs of the saved plan",
            settings_section=SECTION,
        )
    ]


@hookimpl(optionalhook=True)
def tfpilot_register_policy_rules() -> list[Any]:
    """Budget rules for the ``policy_builtin`` engine (called only when that engine is built)."""
    from tfpilot_cost_infracost.budget import budget_rules

    return budget_rules()
