"""``tfpilot policy check`` without pydantic: the built-in rules judged from the configuration
snapshot (:mod:`tfpilot_core.cli.startup_cache`).

:func:`check` runs first in the command. It answers only when it gives exactly the full path's
answer, and otherwise returns ``None`` (then the full path runs, and reports any error as always):

* a snapshot of this configuration exists and holds ``[plugins.policy_builtin]`` (validated, with
  defaults applied);
* every policy pack (``tfpilot_register_policy_rules``) returns its rules when called directly
  and every rule judges the plan without raising; anything else (a pack or a rule that fails) is
  left to the full path, which traces the calls and reports the failure as always;
* OpenTelemetry is not set up (the full path's hook calls would be traced);
* ``--env`` is absent or names an environment of the snapshot, and the configured levels are
  valid (a configuration error is reported by the full path).

Grading is :mod:`tfpilot_policy_builtin.judge`, the engine's own implementation; the plan is parsed
by :class:`~tfpilot_core.plan.Plan` as on the full path, so an invalid plan raises the same error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from tfpilot_core.cli.app import App
    from tfpilot_core.models import Environment
    from tfpilot_policy_builtin.api import Rule
    from tfpilot_policy_builtin.judge import Finding
    from tfpilot_policy_builtin.params import EffectiveParams

SECTION = "policy_builtin"


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    """An environment of the snapshot: ``key`` and ``protected``, and every other field of
    ``Environment`` as an attribute (packs' rules may read them)."""

    key: str
    protected: bool
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dump(cls, data: Mapping[str, Any]) -> EnvironmentView:
        """From ``Environment.model_dump(mode="json")`` (or :data:`judge.STANDALONE`)."""
        return cls(key=str(data["key"]), protected=bool(data["protected"]), fields=dict(data))

    def __getattr__(self, name: str) -> Any:
        if name == "fields":  # not set yet: never recurse
            raise AttributeError(name)
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None


class _DirectPacks:
    """``call_extension`` of the pack hook without the plugin host: pluggy's implementations in
    the host's order; any exception means "not quick"."""

    def __init__(self, state: App) -> None:
        assert state.loaded is not None
        self.manager = state.loaded.manager

    def call_extension(self, hook: str, *, decision: bool = True) -> list[tuple[str, Any]]:
        caller = getattr(self.manager.hook, hook, None)
        if caller is None or caller.spec is None:
            return []
        results = []
        for impl in reversed(caller.get_hookimpls()):
            try:
                found = impl.function()
            except Exception as exc:
                raise _NotQuick from exc
            if found is not None:
                results.append((impl.plugin_name, found))
        return results


class _NotQuick(Exception):
    """The full path must answer."""


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
        findings = judge_plan(rules, params, plan, cast("Environment", environment))
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
        packs = judge.collect_pack_rules(_DirectPacks(state), dump.get("packs"))
        rules = judge.assemble_rules(packs)
        judge.check_levels(
            rules,
            dump["levels"],
            {env: over["levels"] for env, over in dump["environments"].items()},
            snap.source or "<defaults>",
        )
        params = Params.from_settings(dump, environment.key)
    except (_NotQuick, TfpilotError, LookupError, TypeError, ValueError, AttributeError):
        # An unknown environment, a refused level, a snapshot not shaped as expected: the full
        # path says what is wrong, exactly as it would have without a snapshot.
        return None
    return rules, params, environment
