"""Budgets as graduated policy: a rule pack for the ``policy_builtin`` engine.

Three rules judge the cost estimate of a plan (any estimator's: Infracost's or the sandbox's):

``cost.budget``
    Thresholds on the monthly increase (an amount, and a percentage of the previous cost) and on
    the monthly total, each with its own level: ``advisory`` (reported), ``mandatory`` (an
    approver overrides it with a written reason) or ``blocking``. The most severe threshold
    crossed of each measure is reported. Thresholds come from the rule's parameters, per
    environment (``[plugins.policy_builtin.environments.<env>.rule_params."cost.budget"]``) and
    per project (``projects.<project>`` inside them)::

        [plugins.policy_builtin.rule_params."cost.budget"]
        currency = "USD"
        increase = [{ above = "50", level = "advisory" }, { above = "200", level = "mandatory" }]
        increase_percent = [{ above = "25", level = "mandatory" }]
        total = [{ above = "1000", level = "blocking" }]

        [plugins.policy_builtin.rule_params."cost.budget".projects.shop]
        increase = [{ above = "20", level = "mandatory" }]

``cost.unknown``
    Some of the cost is unknown (usage-based prices without usage, or no estimate at all where
    budgets are set). Its level is configured like any rule's (``levels``), default advisory.

``cost.estimate_failed``
    The estimator ran and failed (no binary, a bad key, a timeout...). Default advisory: recorded,
    reported, and the request carries on; make it ``blocking`` per environment to stop there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.errors import ConfigError
from tfpilot_core.models import CostEstimate, PolicyLevel
from tfpilot_policy_builtin.api import Hit, PlanContext, Rule

BUDGET = "cost.budget"
UNKNOWN = "cost.unknown"
FAILED = "cost.estimate_failed"
_SEVERITY = {PolicyLevel.ADVISORY: 0, PolicyLevel.MANDATORY: 1, PolicyLevel.BLOCKING: 2}
_HUNDRED = Decimal(100)


class Threshold(BaseModel):
    """Crossing ``above`` (strictly) gives a finding at ``level``."""

    model_config = ConfigDict(extra="forbid")

    above: Decimal
    level: Literal["advisory", "mandatory", "blocking"]

    @field_validator("above", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        # TOML floats would arrive as binary floats: read them through their shortest text.
        if isinstance(value, float):
            return str(value)
        if isinstance(value, str):
            try:
                Decimal(value)
            except InvalidOperation:
                raise ValueError(f"{value!r} is not a decimal number") from None
        return value

    @field_validator("above")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("must be a finite number >= 0")
        return value


class Thresholds(BaseModel):
    """The thresholds of one scope; a measure left out has none (or keeps the outer scope's)."""

    model_config = ConfigDict(extra="forbid")

    increase: list[Threshold] | None = None
    increase_percent: list[Threshold] | None = None
    total: list[Threshold] | None = None


class BudgetParams(Thresholds):
    """``rule_params."cost.budget"``: thresholds, their currency, and per-project overrides."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    projects: dict[str, Thresholds] = Field(default_factory=dict)

    def for_project(self, project: str | None) -> Thresholds:
        """The thresholds in force for ``project`` (its own measures replace the defaults)."""
        own = self.projects.get(project or "")
        if own is None:
            return self
        return Thresholds(
            increase=own.increase if own.increase is not None else self.increase,
            increase_percent=own.increase_percent
            if own.increase_percent is not None
            else self.increase_percent,
            total=own.total if own.total is not None else self.total,
        )


def budget_params(raw: Mapping[str, Any], environment: str) -> BudgetParams:
    """Validated parameters; a :class:`ConfigError` naming the key and the rule otherwise."""
    try:
        return BudgetParams.model_validate(dict(raw))
    except PydanticValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigError(
            f"{problem['msg']} (budget of environment {environment})",
            key=f'plugins.policy_builtin.rule_params."{BUDGET}".{where}',
        ) from None


def _money(value: Decimal, currency: str) -> str:
    return f"{value.quantize(Decimal('0.01')):,} {currency}"


def _worst(measured: Decimal, thresholds: Iterable[Threshold]) -> Threshold | None:
    crossed = [t for t in thresholds if measured > t.above]
    if not crossed:
        return None
    return max(crossed, key=lambda t: (_SEVERITY[PolicyLevel(t.level)], t.above))


class BudgetRule(Rule):
    """``cost.budget``: the monthly increase and total against graduated thresholds."""

    id = BUDGET
    title = "Monthly cost budget"
    description = (
        "The plan's monthly cost increase (amount and percent) and total stay within the "
        "environment's and project's budget; each threshold has its own level."
    )
    default_level = PolicyLevel.MANDATORY

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        """Hits for the most severe threshold crossed of each measure."""
        cost: CostEstimate | None = getattr(ctx, "cost", None)
        if not ctx.rule_params or cost is None or cost.error or cost.monthly is None:
            return  # nothing to judge: cost.unknown / cost.estimate_failed say so
        params = budget_params(ctx.rule_params, ctx.environment.key)
        request = getattr(ctx, "request", None)
        project = request.placement.project if request is not None else None
        limits = params.for_project(project)
        scope = f"{project or 'any project'} in {ctx.environment.key}"
        c = cost.currency
        if c != params.currency:
            yield Hit(
                "budget",
                f"the budget of {scope} is in {params.currency} but the estimate is in {c}: "
                "cannot compare",
                level=PolicyLevel.MANDATORY,
            )
            return
        delta = cost.delta
        if delta is not None and limits.increase:
            worst = _worst(delta, limits.increase)
            if worst is not None:
                yield Hit(
                    "budget.increase",
                    f"monthly cost rises by {_money(delta, c)}, above the {worst.level} "
                    f"threshold of {_money(worst.above, c)} for {scope}",
                    level=PolicyLevel(worst.level),
                )
        if delta is not None and cost.previous and limits.increase_percent:
            percent = delta / cost.previous * _HUNDRED
            worst = _worst(percent, limits.increase_percent)
            if worst is not None:
                yield Hit(
                    "budget.increase_percent",
                    f"monthly cost rises by {percent.quantize(Decimal('0.1'))}% "
                    f"({_money(cost.previous, c)} -> {_money(cost.monthly, c)}), above the "
                    f"{worst.level} threshold of {worst.above}% for {scope}",
                    level=PolicyLevel(worst.level),
                )
        if limits.total:
            worst = _worst(cost.monthly, limits.total)
            if worst is not None:
                yield Hit(
                    "budget.total",
                    f"monthly cost would be {_money(cost.monthly, c)}, above the {worst.level} "
                    f"threshold of {_money(worst.above, c)} for {scope}",
                    level=PolicyLevel(worst.level),
                )


class UnknownCostRule(Rule):
    """``cost.unknown``: part of the plan's cost is unknown, so budgets cannot vouch for it."""

    id = UNKNOWN
    title = "Cost partly unknown"
    description = (
        "Some resources have usage-based prices and no usage was given (an Infracost usage "
        "file sets it), or the plan's cost is unknown: the estimate is a lower bound."
    )
    default_level = PolicyLevel.ADVISORY

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        """One hit per resource with an unknown cost, or one for an unknown total."""
        cost: CostEstimate | None = getattr(ctx, "cost", None)
        if cost is None or cost.error:
            return
        if cost.monthly is None:
            yield Hit(None, f"the monthly cost of this plan is unknown ({cost.estimator})")
            return
        for address in cost.unknown:
            yield Hit(address, "usage-based cost unknown: no usage given for it")


class EstimateFailedRule(Rule):
    """``cost.estimate_failed``: the estimator could not price the plan."""

    id = FAILED
    title = "Cost estimate failed"
    description = (
        "The cost estimator ran and failed (missing binary, rejected API key, timeout, "
        "malformed output). Advisory by default: make it blocking where a plan must be priced."
    )
    default_level = PolicyLevel.ADVISORY

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        """A hit carrying the estimator's reason."""
        cost: CostEstimate | None = getattr(ctx, "cost", None)
        if cost is not None and cost.error:
            yield Hit(None, f"the cost estimate failed ({cost.estimator}): {cost.error}")


def budget_rules() -> list[Rule]:
    """The pack: budget, unknown cost, failed estimate."""
    return [BudgetRule(), UnknownCostRule(), EstimateFailedRule()]
