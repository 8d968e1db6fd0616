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
    The estimator ran and failed (no binary, a bad key, a timeout...), or priced only part of the
    plan (Infracost's ``metadata.errors`` on some projects: the total is a lower bound, so budgets
    cannot vouch for it). Default advisory: recorded, reported, and the request carries on; make
    it ``blocking`` per environment to stop there.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tfpilot_core.levels import PolicyLevel
from tfpilot_policy_builtin.api import Hit, PlanContext, Rule

if TYPE_CHECKING:
    from tfpilot_core.models import CostEstimate
    from tfpilot_cost_infracost.budget_params import Threshold


BUDGET = "cost.budget"
UNKNOWN = "cost.unknown"
FAILED = "cost.estimate_failed"
_SEVERITY = {PolicyLevel.ADVISORY: 0, PolicyLevel.MANDATORY: 1, PolicyLevel.BLOCKING: 2}
_HUNDRED = Decimal(100)
#: Kept importable from here (their home is budget_params, which imports pydantic).
_MOVED = ("BudgetParams", "Threshold", "Thresholds", "budget_params")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from tfpilot_cost_infracost import budget_params as params

        return getattr(params, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        from tfpilot_cost_infracost.budget_params import budget_params

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
        "malformed output, Infracost project errors), or priced only some projects (partial). "
        "Advisory by default: make it blocking where a plan must be priced."
    )
    default_level = PolicyLevel.ADVISORY

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        """A hit carrying the estimator's reason."""
        cost: CostEstimate | None = getattr(ctx, "cost", None)
        if cost is not None and cost.error:
            # Money beside an error: some projects were priced, others not (a lower bound).
            what = "is partial" if cost.monthly is not None else "failed"
            yield Hit(None, f"the cost estimate {what} ({cost.estimator}): {cost.error}")


def budget_rules() -> list[Rule]:
    """The pack: budget, unknown cost, failed estimate."""
    return [BudgetRule(), UnknownCostRule(), EstimateFailedRule()]
