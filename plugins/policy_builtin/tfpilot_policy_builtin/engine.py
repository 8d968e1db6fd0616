"""The policy engine: runs every rule on a request or a plan and grades the hits.

A rule's hits become findings at the level the configuration gives that rule in the request's
environment (``levels``, then the environment's ``levels``, else the rule's default). A
security-default rule cannot be switched off or made advisory by configuration; a recorded
:class:`~tfpilot_core.models.OptOut` on the request (with its justification) makes its findings
advisory for that request only, and the finding says who opted out and why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import (
    ConfigError,
    DuplicateRegistrationError,
    PluginError,
    PluginFailedError,
    TfpilotError,
)
from tfpilot_core.models import (
    CostEstimate,
    Environment,
    OptOut,
    PolicyFinding,
    PolicyLevel,
    Request,
)
from tfpilot_policy_builtin.api import Hit, PlanContext, RequestContext, Rule
from tfpilot_policy_builtin.rules import builtin_rules
from tfpilot_policy_builtin.settings import PolicySettings

if TYPE_CHECKING:
    from tfpilot_core.interfaces import PolicyInput
    from tfpilot_core.plan import Plan
    from tfpilot_core.plugins import PluginHost

ENGINE_NAME = "policy_builtin"
PACK_HOOK = "tfpilot_register_policy_rules"
#: Used by ``policy check`` when no environment is given: unprotected, defaults only.
STANDALONE_ENVIRONMENT = Environment(key="any", slug="standalone")


def collect_pack_rules(host: PluginHost, selected: Sequence[str] | None = None) -> list[Rule]:
    """Rules contributed through ``tfpilot_register_policy_rules``, each tagged with its plugin.

    Called through the core's facade, so each pack is traced and a pack that raises is a
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


class BuiltinPolicyEngine:
    """The ``policy_builtin`` engine, a :class:`~tfpilot_core.interfaces.PolicyEngine`."""

    name = ENGINE_NAME

    def __init__(
        self,
        settings: PolicySettings | None = None,
        pack_rules: Sequence[Rule] = (),
        *,
        source: str = "<defaults>",
    ) -> None:
        self.settings = settings or PolicySettings()
        self.rules: list[Rule] = []
        owners: dict[str, str] = {}
        for rule in [*builtin_rules(), *pack_rules]:
            if rule.id in owners:
                raise DuplicateRegistrationError(
                    f"policy rule {rule.id!r} is registered by both plugin {owners[rule.id]!r} "
                    f"and plugin {rule.plugin!r}",
                    plugin=rule.plugin,
                )
            owners[rule.id] = rule.plugin
            self.rules.append(rule)
        self._check_levels(source)

    def _check_levels(self, source: str) -> None:
        known = {r.id: r for r in self.rules}
        scopes: list[tuple[str, Mapping[str, str]]] = [("levels", self.settings.levels)]
        scopes += [
            (f"environments.{env}.levels", over.levels)
            for env, over in self.settings.environments.items()
        ]
        for where, levels in scopes:
            for rule_id, level in levels.items():
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

    # -- evaluation ---------------------------------------------------------------------------

    def level_of(self, rule: Rule, levels: Mapping[str, str]) -> PolicyLevel | None:
        """The level of ``rule`` under ``levels`` (``None``: the rule is off)."""
        value = levels.get(rule.id)
        if value is None:
            return rule.default_level
        return None if value == "off" else PolicyLevel(value)

    def evaluate(self, subject: PolicyInput) -> list[PolicyFinding]:
        """Findings for a request (stage ``request``) or its plan (stage ``plan``)."""
        request = subject.request
        if subject.stage == "plan":
            if subject.plan is None:
                raise PluginError("policy stage 'plan' without a plan", plugin=ENGINE_NAME)
            return self.evaluate_plan(
                subject.plan,
                subject.environment,
                request.opt_outs,
                request=request,
                cost=getattr(subject, "cost", None),
            )
        return self.evaluate_request(
            request.inputs,
            subject.environment,
            request.opt_outs,
            module=request.placement.module,
        )

    def evaluate_request(
        self,
        inputs: Mapping[str, Any],
        environment: Environment,
        opt_outs: Sequence[OptOut] = (),
        *,
        module: str = "",
    ) -> list[PolicyFinding]:
        """Findings on a request's inputs, before any plan."""
        params = self.settings.effective(environment.key)
        findings: list[PolicyFinding] = []
        for rule in self.rules:
            level = self.level_of(rule, params.levels)
            if level is None:
                continue
            ctx = RequestContext(
                inputs, environment, params, module, params.rule_params.get(rule.id, {})
            )
            hits = self._run(rule, functools.partial(rule.check_request, ctx))
            findings += self._grade(rule, level, hits, opt_outs, "request")
        return findings

    def evaluate_plan(
        self,
        plan: Plan,
        environment: Environment,
        opt_outs: Sequence[OptOut] = (),
        *,
        request: Request | None = None,
        cost: CostEstimate | None = None,
    ) -> list[PolicyFinding]:
        """Findings on a parsed plan: every resource change, child modules included."""
        from tfpilot_policy_builtin.index import PlanIndex

        params = self.settings.effective(environment.key)
        index = PlanIndex(plan)
        findings: list[PolicyFinding] = []
        for rule in self.rules:
            level = self.level_of(rule, params.levels)
            if level is None:
                continue
            ctx = PlanContext(
                plan,
                index,
                environment,
                params,
                params.rule_params.get(rule.id, {}),
                request=request,
                cost=cost,
            )
            hits = self._run(rule, functools.partial(rule.check_plan, ctx))
            findings += self._grade(rule, level, hits, opt_outs, "plan")
        return findings

    @staticmethod
    def _run(rule: Rule, check: Callable[[], Iterable[Hit]]) -> list[Hit]:
        from tfpilot_policy_builtin.index import AttributeShapeError

        hits: list[Hit] = []
        try:
            hits.extend(check())
        except AttributeShapeError as exc:
            # A valid plan with a provider shape this rule does not read: the rule cannot judge
            # the resource, which is a finding of the rule (fail closed), not a refused plan.
            import structlog

            structlog.get_logger("tfpilot.policy").warning(
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

    def _grade(
        self,
        rule: Rule,
        level: PolicyLevel,
        hits: Iterable[Hit],
        opt_outs: Sequence[OptOut],
        stage: str,
    ) -> list[PolicyFinding]:
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
                PolicyFinding(
                    rule_id=rule.id,
                    # A rule may grade its own hits, except where an opt-out made it advisory.
                    level=hit.level if hit.level is not None and not note else level,
                    message=hit.message + note,
                    address=hit.address,
                    engine=ENGINE_NAME,
                    stage=stage,
                )
            )
        return findings

    # -- the effective policy -----------------------------------------------------------------

    def effective_policy(self, environments: Sequence[Environment]) -> dict[str, Any]:
        """The policy in force per environment: what ``tfpilot policy show`` prints.

        Meant for a UI or an agent guiding users: rule ids, titles, levels and parameters.
        """
        result: dict[str, Any] = {
            "engine": ENGINE_NAME,
            "rules": [rule.describe() for rule in self.rules],
            "environments": {},
        }
        for environment in environments:
            params = self.settings.effective(environment.key)
            levels = {}
            for rule in self.rules:
                level = self.level_of(rule, params.levels)
                if rule.id == "destroy.protected" and not environment.protected:
                    levels[rule.id] = "not applicable (environment not protected)"
                    continue
                levels[rule.id] = "off" if level is None else level.value
            result["environments"][environment.key] = {
                "protected": environment.protected,
                "levels": levels,
                "parameters": params.to_dict(),
                "rule_params": params.rule_params,
            }
        return result
