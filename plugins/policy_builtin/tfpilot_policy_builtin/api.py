"""What a rule is: the public API for the built-in rules and for policy packs.

A rule is an object with an id, a title, a default :class:`~tfpilot_core.models.PolicyLevel` and
two optional checks: one on the request's inputs (before any plan) and one on the parsed plan.
Checks yield :class:`Hit` objects (an address and a message); the engine turns hits into
:class:`~tfpilot_core.models.PolicyFinding` objects with the level that the configuration gives
the rule in the request's environment, so a rule never decides its own enforcement.

Policy packs (rules contributed by other plugins) subclass :class:`Rule` and return instances from
the ``tfpilot_register_policy_rules`` hook (:mod:`tfpilot_policy_builtin.hookspecs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpilot_core.levels import PolicyLevel

if TYPE_CHECKING:
    from tfpilot_core.models import CostEstimate, Request
    from tfpilot_core.plan import Plan
    from tfpilot_policy_builtin.index import PlanIndex
    from tfpilot_policy_builtin.params import EffectiveParams


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    """The environment as every rule sees it, on every path: ``key`` and ``protected``, and every
    other field of ``Environment`` as an attribute (packs' rules may read them). Plain data, so
    the engine and ``policy check`` judge alike whether or not pydantic is loaded."""

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


@dataclass(frozen=True, slots=True)
class Hit:
    """One violation found by a rule: where (a resource address or ``inputs.<key>``) and why."""

    address: str | None
    message: str
    #: The level of this hit when the rule grades its own hits (budget thresholds, each with a
    #: level); ``None``: the level configured for the rule.
    level: PolicyLevel | None = None
    #: The attribute of the resource the hit is about (``public_access``, ``tags``), when one
    #: is: reviewers see the finding beside that attribute's change.
    attribute: str | None = None


@dataclass
class RequestContext:
    """What a request-stage check sees: the inputs, the environment and the rule parameters."""

    inputs: Mapping[str, Any]
    environment: EnvironmentView
    params: EffectiveParams
    module: str = ""
    #: This rule's own parameters (``[plugins.policy_builtin.rule_params."<id>"]``).
    rule_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PlanContext:
    """What a plan-stage check sees: the parsed plan, its index (links between resources),
    the environment and the rule parameters."""

    plan: Plan
    index: PlanIndex
    environment: EnvironmentView
    params: EffectiveParams
    rule_params: Mapping[str, Any] = field(default_factory=dict)
    #: The request whose plan this is (``None`` when a plan is checked on its own).
    request: Request | None = None
    #: The plan's cost estimate, when an estimator priced it (budget rules).
    cost: CostEstimate | None = None


class Rule:
    """Base class of every rule (built-in or contributed by a policy pack).

    Subclasses set the class attributes and override one or both checks. ``security_default``
    rules cannot be switched off or lowered to advisory by configuration: only a recorded
    :class:`~tfpilot_core.models.OptOut` with a justification on the request turns one into an
    advisory finding, for that request only.
    """

    #: Stable identifier used in configuration, findings, SARIF and JUnit (``family.name``).
    id: str = ""
    title: str = ""
    description: str = ""
    default_level: PolicyLevel = PolicyLevel.MANDATORY
    security_default: bool = False
    #: The plugin that contributed the rule (set by the engine; errors name it).
    plugin: str = "policy_builtin"

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        """Violations in the request's inputs (default: none)."""
        return ()

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        """Violations in the plan (default: none)."""
        return ()

    def describe(self) -> dict[str, Any]:
        """The rule as ``tfpilot policy show`` prints it."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "default_level": self.default_level.value,
            "security_default": self.security_default,
            "plugin": self.plugin,
        }
