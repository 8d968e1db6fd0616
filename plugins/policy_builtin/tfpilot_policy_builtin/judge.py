"""Grading without pydantic: which rules run, at what level, and the findings they make.

The one implementation of the engine's decisions, used by both entry layers:
:class:`~tfpilot_policy_builtin.engine.BuiltinPolicyEngine` (the platform and the request flow,
which turn each :class:`Finding` into a :class:`~tfpilot_core.models.PolicyFinding`) and the
quick ``tfpilot policy check`` (:mod:`tfpilot_policy_builtin.quick`), which renders the records
themselves. Levels come from the configuration (the rule's default otherwise); a security
default cannot be made ``off`` or ``advisory`` by configuration, only by a recorded opt-out on
the request; a provider shape a rule cannot read is a finding of that rule ("cannot be judged").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tfpilot_core.errors import (
    ConfigError,
    DuplicateRegistrationError,
    PluginError,
    PluginFailedError,
    TfpilotError,
)
from tfpilot_core.levels import PolicyLevel
from tfpilot_policy_builtin.api import EnvironmentView, Hit, PlanContext, RequestContext, Rule
from tfpilot_policy_builtin.rules import builtin_rules

if TYPE_CHECKING:
    from tfpilot_core.models import CostEstimate, Environment, Request
    from tfpilot_core.plan import Plan
    from tfpilot_policy_builtin.params import EffectiveParams

ENGINE_NAME = "policy_builtin"
PACK_HOOK = "tfpilot_register_policy_rules"
#: The environment ``policy check`` judges in without ``--env``: unprotected, defaults only.
STANDALONE: dict[str, Any] = {"key": "any", "slug": "standalone", "protected": False}


def environment_view(environment: Any) -> EnvironmentView:
    """``environment`` as rules see it: an ``Environment`` (its JSON dump), a mapping, or a view."""
    if isinstance(environment, EnvironmentView):
        return environment
    if isinstance(environment, Mapping):
        return EnvironmentView.from_dump(environment)
    return EnvironmentView.from_dump(environment.model_dump(mode="json"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one subject: the fields of :class:`~tfpilot_core.models.PolicyFinding`,
    in the same order, as a plain record."""

    rule_id: str
    level: PolicyLevel
    message: str
    address: str | None = None
    engine: str = ""
    stage: str = "plan"
    attribute: str | None = None


class FindingLike(Protocol):
    """What the output formats read of a finding (a :class:`Finding` or a ``PolicyFinding``)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def level(self) -> PolicyLevel: ...
    @property
    def message(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def engine(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def attribute(self) -> str | None: ...


class OptOutLike(Protocol):
    """What grading reads of a recorded opt-out (:class:`~tfpilot_core.models.OptOut`)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def justification(self) -> str: ...


def assemble_rules(pack_rules: Sequence[Rule] = ()) -> list[Rule]:
    """The built-in rules then the packs' rules; a duplicate id names both plugins."""
    rules: list[Rule] = []
    owners: dict[str, str] = {}
    for rule in [*builtin_rules(), *pack_rules]:
        if rule.id in owners:
            raise DuplicateRegistrationError(
                f"policy rule {rule.id!r} is registered by both plugin {owners[rule.id]!r} "
                f"and plugin {rule.plugin!r}",
                plugin=rule.plugin,
            )
        owners[rule.id] = rule.plugin
        rules.append(rule)
    return rules


def check_levels(
    rules: Sequence[Rule],
    levels: Mapping[str, str],
    environment_levels: Mapping[str, Mapping[str, str]],
    source: str,
) -> None:
    """Refuse configured levels naming an unknown rule or lowering a security default.

    ``levels`` is ``[plugins.policy_builtin] levels``; ``environment_levels`` maps each
    environment key to its ``levels`` override.
    """
    known = {r.id: r for r in rules}
    scopes: list[tuple[str, Mapping[str, str]]] = [("levels", levels)]
    scopes += [(f"environments.{env}.levels", over) for env, over in environment_levels.items()]
    for where, scope in scopes:
        for rule_id, level in scope.items():
            key = f"plugins.{ENGINE_NAME}.{where}.{rule_id}"
            rule = known.get(rule_id)
            if rule is None:
                raise ConfigError(
                    f"no policy rule {rule_id!r} (known: {', '.join(sorted(known))})",
                    source=source,
                    key=key,
                )
            if rule.security_default and level in ("off", "advisory"):
                raise ConfigError(
                    f"{rule_id} is a security default: configuration cannot make it "
                    f"{level}; record an opt-out with a justification on the request instead",
                    source=source,
                    key=key,
                )


def level_of(rule: Rule, levels: Mapping[str, str]) -> PolicyLevel | None:
    """The level of ``rule`` under ``levels`` (``None``: the rule is off)."""
    value = levels.get(rule.id)
    if value is None:
        return rule.default_level
    return None if value == "off" else PolicyLevel(value)


def run_rule(rule: Rule, check: Callable[[], Iterable[Hit]]) -> list[Hit]:
    """The hits of one check; fail closed (an error naming the rule's plugin) on a crash."""
    from tfpilot_policy_builtin.index import AttributeShapeError

    hits: list[Hit] = []
    try:
        hits.extend(check())
    except AttributeShapeError as exc:
        # A valid plan with a provider shape this rule does not read: the rule cannot judge
        # the resource, which is a finding of the rule (fail closed), not a refused plan.
        from tfpilot_core.log import get_logger

        get_logger("tfpilot.policy").warning(
            "policy_shape_unreadable", rule=rule.id, address=exc.address, field=exc.path
        )
        hits.append(Hit(exc.address, f"cannot be judged: {exc.path} {exc.reason}"))
    except TfpilotError:
        raise  # a malformed plan (PlanError) or a deliberate refusal: what it says
    except Exception as exc:
        # Fail closed, naming the plugin that contributed the rule.
        raise PluginFailedError(
            plugin=rule.plugin, hook=f"policy rule {rule.id}", cause=exc
        ) from exc
    for hit in hits:
        if not isinstance(hit, Hit):
            raise PluginError(
                f"plugin {rule.plugin!r}: rule {rule.id} returned {hit!r}, not a Hit",
                plugin=rule.plugin,
            )
    return hits


def grade(
    rule: Rule,
    level: PolicyLevel,
    hits: Iterable[Hit],
    opt_outs: Sequence[OptOutLike],
    stage: str,
) -> list[Finding]:
    """Findings of ``rule``'s hits at ``level``, duplicates dropped; a recorded opt-out makes a
    security default's findings advisory and says who opted out and why."""
    opt_out = next((o for o in opt_outs if o.rule_id == rule.id), None)
    note = ""
    if opt_out is not None and rule.security_default:
        level = PolicyLevel.ADVISORY
        note = f" (opted out by {opt_out.actor}: {opt_out.justification})"
    seen: set[tuple[str | None, str]] = set()
    findings = []
    for hit in hits:
        if (hit.address, hit.message) in seen:
            continue
        seen.add((hit.address, hit.message))
        findings.append(
            Finding(
                rule_id=rule.id,
                # A rule may grade its own hits, except where an opt-out made it advisory.
                level=hit.level if hit.level is not None and not note else level,
                message=hit.message + note,
                address=hit.address,
                engine=ENGINE_NAME,
                stage=stage,
                attribute=hit.attribute,
            )
        )
    return findings


def judge_request(
    rules: Sequence[Rule],
    params: EffectiveParams,
    inputs: Mapping[str, Any],
    environment: Environment | EnvironmentView | Mapping[str, Any],
    opt_outs: Sequence[OptOutLike] = (),
    *,
    module: str = "",
) -> list[Finding]:
    """Findings on a request's inputs, before any plan."""
    view = environment_view(environment)
    findings: list[Finding] = []
    for rule in rules:
        level = level_of(rule, params.levels)
        if level is None:
            continue
        ctx = RequestContext(inputs, view, params, module, params.rule_params.get(rule.id, {}))
        hits = run_rule(rule, functools.partial(rule.check_request, ctx))
        findings += grade(rule, level, hits, opt_outs, "request")
    return findings


def judge_plan(
    rules: Sequence[Rule],
    params: EffectiveParams,
    plan: Plan,
    environment: Environment | EnvironmentView | Mapping[str, Any],
    opt_outs: Sequence[OptOutLike] = (),
    *,
    request: Request | None = None,
    cost: CostEstimate | None = None,
) -> list[Finding]:
    """Findings on a parsed plan: every resource change, child modules included.

    Rules see the environment as an :class:`EnvironmentView` (the built-in ones read its ``key``
    and ``protected``), whoever calls.
    """
    from tfpilot_policy_builtin.index import PlanIndex

    index = PlanIndex(plan)
    view = environment_view(environment)
    findings: list[Finding] = []
    for rule in rules:
        level = level_of(rule, params.levels)
        if level is None:
            continue
        ctx = PlanContext(
            plan,
            index,
            view,
            params,
            params.rule_params.get(rule.id, {}),
            request=request,
            cost=cost,
        )
        hits = run_rule(rule, functools.partial(rule.check_plan, ctx))
        findings += grade(rule, level, hits, opt_outs, "plan")
    return findings


def collect_pack_rules(host: Any, selected: Sequence[str] | None = None) -> list[Rule]:
    """Rules contributed through ``tfpilot_register_policy_rules``, each tagged with its plugin.

    ``host`` is the core's :class:`~tfpilot_core.plugins.PluginHost` (anything with its
    ``call_extension``): each pack is traced, and a pack that raises is a
    :class:`PluginFailedError` naming it (fail closed), never "no rules".
    """
    rules: list[Rule] = []
    for plugin, result in host.call_extension(PACK_HOOK, decision=True):
        if selected is not None and plugin not in selected:
            continue
        if not isinstance(result, list | tuple):
            raise PluginError(
                f"plugin {plugin!r}: {PACK_HOOK} must return a list of Rule objects, "
                f"got {type(result).__name__}",
                plugin=plugin,
            )
        for rule in result:
            if not isinstance(rule, Rule) or not isinstance(rule.id, str) or not rule.id:
                raise PluginError(
                    f"plugin {plugin!r}: {PACK_HOOK} must return Rule objects with an id, "
                    f"got {rule!r}",
                    plugin=plugin,
                )
            rule.plugin = plugin
            rules.append(rule)
    return rules
