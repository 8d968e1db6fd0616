"""The default drift detector, ``refresh``: a refresh-only plan through the configured runner.

Selected by ``[core] drift_detector = "refresh"`` (the default); it takes no settings. It asks
the runner for ``plan -refresh-only -detailed-exitcode`` and reads the plan's ``resource_drift``:

* drift found -> ``drifted``, with the drifted addresses and, per address, the attribute paths
  that changed out of band (:meth:`~tfpilot_core.plan.Plan.drifted_paths`);
* a clean plan -> ``none``;
* a failed run (or a plan that cannot be read) -> ``error``, with the runner's message.

The default plugin that registers it (:mod:`tfpilot_core.default_plugins.drift_refresh`) names
this module lazily, so that discovering plugins does not import it.

The plan's JSON is the judge, not only the exit code: Terraform 1.11 exits 2 on some refresh-only
plans that find no differences (seen with the sandbox provider), which is not drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core.errors import TfpilotError
from tfpilot_core.models import DriftReport, DriftResult
from tfpilot_core.plan import Plan

if TYPE_CHECKING:
    from tfpilot_core.interfaces import DriftDetector, Runner, RunSpec
    from tfpilot_core.models import DriftReport
    from tfpilot_core.registrations import NoSettings, PluginContext

NAME = "refresh"


class RefreshDriftDetector:
    """Checks for drift with a refresh-only plan (see the module docstring)."""

    def check(self, spec: RunSpec, runner: Runner) -> DriftReport:
        """The drift report of ``spec``'s request; never raises for a drifted world."""

        result = runner.plan(spec, refresh_only=True)
        if not result.success or result.plan_json is None:
            error = result.error or result.log or "the refresh-only plan failed"
            return DriftReport(result=DriftResult.ERROR, error=error[-4000:], detector=NAME)
        if result.exit_code not in (0, 2):
            return DriftReport(
                result=DriftResult.ERROR,
                error=f"unexpected exit code {result.exit_code} from a refresh-only plan",
                detector=NAME,
            )
        try:
            plan = Plan.parse(result.plan_json)
        except TfpilotError as exc:
            return DriftReport(result=DriftResult.ERROR, error=exc.message, detector=NAME)
        addresses = plan.drifted_addresses
        if not addresses:
            return DriftReport(result=DriftResult.NONE, detector=NAME)
        # Paths only, never values: a drifted value may be sensitive.
        return DriftReport(
            result=DriftResult.DRIFTED,
            addresses=addresses,
            paths=plan.drifted_paths(),
            detector=NAME,
        )


def build_detector(settings: NoSettings, context: PluginContext) -> DriftDetector:
    """The factory."""
    return RefreshDriftDetector()
