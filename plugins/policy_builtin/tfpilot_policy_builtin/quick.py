"""``tfpilot policy check`` without pydantic: the built-in rules judged from the configuration
snapshot (:mod:`tfpilot_core.cli.startup_cache`).

:func:`check` runs first in the command. It answers only when it gives exactly the full path's
answer, and otherwise returns ``None`` (then the full path runs, and reports any error as always):

* a snapshot of this configuration exists and holds ``[plugins.policy_builtin]`` (validated, with
  defaults applied);
* the policy packs (``tfpilot_register_policy_rules``) are called through the core's one hook
  caller (:class:`tfpilot_core.hookcalls.HookCaller`, as the host calls them), and every rule
  judges the plan without raising; a pack or rule that fails is left to the full path, which
  reports the failure as always;
* OpenTelemetry is not set up (the full path's hook calls would be traced);
* ``--env`` is absent or names an environment of the snapshot, and the configured levels are
  valid (a configuration error is reported by the full path).

Grading is :mod:`tfpilot_policy_builtin.judge`, the engine's own implementation, on the same
plain environment view (:class:`~tfpilot_policy_builtin.judge.EnvironmentView`) the engine
gives rules on every path; the plan is parsed by :class:`~tfpilot_core.plan.Plan` as on the full
path, so an invalid plan raises the same error. What the quick path adds is only where the
settings come from: the configuration snapshot (a data cache) instead of pydantic.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfpilot_core.hookcalls import HookCaller
from tfpilot_policy_builtin.judge import EnvironmentView

if TYPE_CHECKING:
    from tfpilot_core.cli.app import App
    from tfpilot_policy_builtin.api import Rule
    from tfpilot_policy_builtin.judge import Finding
    from tfpilot_policy_builtin.params import EffectiveParams

SECTION = "policy_builtin"


@dataclass(frozen=True)
class Checked:
    """What the quick path judged: the findings, the rules in force and the environment."""

    findings: list[Finding]
    rules: Sequence[Rule]
    environment: EnvironmentView


def check(state: App, data: bytes, env_key: str | None) -> Checked | None:
    """The findings on plan document ``data``, or ``None`` when the full path must answer."""
    prepared = _prepare(state, env_key)
    if prepared is None:
        return None
    rules, params, environment = prepared
    from tfpilot_core.plan import Plan
    from tfpilot_policy_builtin.judge import judge_plan

    # From here on, errors are the full path's own (an invalid plan: the same PlanError).
    plan = Plan.parse(data)
    try:
        findings = judge_plan(rules, params, plan, environment)
    except Exception:
        # A rule that fails here may be one reading more of the environment than the view
        # holds: the full path judges again and reports whatever it finds, exactly as always.
        return None
    return Checked(findings, rules, environment)


def _prepare(
    state: App, env_key: str | None
) -> tuple[list[Rule], EffectiveParams, EnvironmentView] | None:
    if "opentelemetry" in sys.modules:
        return None
    from tfpilot_core.cli import startup_cache as quick

    snap = quick.snapshot(state)
    if snap is None:
        return None
    dump = snap.plugin_settings.get(SECTION)
    if dump is None:
        return None
    from tfpilot_core.errors import TfpilotError
    from tfpilot_policy_builtin import judge
    from tfpilot_policy_builtin.params import EffectiveParams as Params

    try:
        environment = EnvironmentView.from_dump(
            snap.environment(env_key) if env_key else judge.STANDALONE
        )
        assert state.loaded is not None
        # Through the one hook caller (traced, failing closed, as the host calls packs).
        packs = judge.collect_pack_rules(HookCaller(state.loaded), dump.get("packs"))
        rules = judge.assemble_rules(packs)
        judge.check_levels(
            rules,
            dump["levels"],
            {env: over["levels"] for env, over in dump["environments"].items()},
            snap.source or "<defaults>",
        )
        params = Params.from_settings(dump, environment.key)
    except (TfpilotError, LookupError, TypeError, ValueError, AttributeError):
        # An unknown environment, a refused level, a snapshot not shaped as expected: the full
        # path says what is wrong, exactly as it would have without a snapshot.
        return None
    return rules, params, environment
