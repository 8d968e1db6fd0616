"""The validated parameters of ``cost.budget`` (pydantic), imported only when a budget is judged.

Kept apart from :mod:`tfpilot_cost_infracost.budget` so that registering the rule pack, and
``tfpilot policy check`` of a plan without a cost estimate, never import pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.errors import ConfigError

BUDGET = "cost.budget"


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
