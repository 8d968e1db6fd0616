"""The policy engine: runs every rule on a request or a plan and grades the hits.

A rule's hits become findings at the level the configuration gives that rule in the request's
environment (``levels``, then the environment's ``levels``, else the rule's default). A
security-default rule cannot be switched off or made advisory by configuration; a recorded
:class:`~tfpilot_core.models.OptOut` on the request (with its justification) makes its findings
advisory for that request only, and the finding says who opted out and why.

The decisions themselves are in :mod:`tfpilot_policy_builtin.judge` (no pydantic, shared with the
quick ``policy check``); this class adds the settings model, the packs and the domain's
:class:`~tfpilot_core.models.PolicyFinding`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import PluginError
from tfpilot_core.models import (
    CostEstimate,
    Environment,
    OptOut,
    PolicyFinding,
    PolicyLevel,
    Request,
)
from tfpilot_policy_builtin import judge
from tfpilot_policy_builtin.api import Rule
from tfpilot_policy_builtin.judge import ENGINE_NAME as ENGINE_NAME
from tfpilot_policy_builtin.judge import PACK_HOOK as PACK_HOOK
from tfpilot_policy_builtin.judge import Finding
from tfpilot_policy_builtin.judge import collect_pack_rules as collect_pack_rules
from tfpilot_policy_builtin.settings import PolicySettings

if TYPE_CHECKING:
    from tfpilot_core.interfaces import PolicyInput
    from tfpilot_core.plan import Plan

#: Used by ``policy check`` when no environment is given: unprotected, defaults only.
STANDALONE_ENVIRONMENT = Environment(**judge.STANDALONE)


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
        self.rules: list[Rule] = judge.assemble_rules(pack_rules)
        judge.check_levels(
            self.rules,
            self.settings.levels,
            {env: over.levels for env, over in self.settings.environments.items()},
            source,
        )

    def opt_out_rules(self) -> dict[str, bool]:
        """Every rule id, and whether it is a security default (what a request may opt out
        of): the core checks opt-outs against this before a request is stored."""
        return {rule.id: rule.security_default for rule in self.rules}

    # -- evaluation ---------------------------------------------------------------------------

    def level_of(self, rule: Rule, levels: Mapping[str, str]) -> PolicyLevel | None:
        """The level of ``rule`` under ``levels`` (``None``: the rule is off)."""
        return judge.level_of(rule, levels)

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
        found = judge.judge_request(
            self.rules, params, inputs, environment, opt_outs, module=module
        )
        return [_model(f) for f in found]

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
        params = self.settings.effective(environment.key)
        found = judge.judge_plan(
            self.rules, params, plan, environment, opt_outs, request=request, cost=cost
        )
        return [_model(f) for f in found]

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


def _model(finding: Finding) -> PolicyFinding:
    # Field by field: a field added to one record and not the other fails here, loudly.
    return PolicyFinding(**{f.name: getattr(finding, f.name) for f in fields(finding)})
