"""The JSON API's bodies and responses, as pydantic models (the OpenAPI description's source).

Responses reuse the core's models for facts (placement, approvals, findings, cost, summary,
drift, runs, events); a request is always shown through ``platform.view`` (sensitive inputs
masked), never as the stored document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.models import (
    Approval,
    CostEstimate,
    DriftState,
    Event,
    OptOut,
    Placement,
    PlanSummary,
    PolicyFinding,
    RunAttempt,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptOutBody(_Body):
    """An opt-out from a security default, with its justification."""

    rule_id: str = Field(min_length=1, max_length=100)
    justification: str = Field(min_length=10, max_length=2000)


class CreateRequestBody(_Body):
    """A new request: module, environment, project and inputs (validated by the core)."""

    module: str = Field(min_length=1, max_length=200, examples=["sandbox/bucket"])
    environment: str = Field(min_length=1, max_length=12, examples=["dev"])
    project: str = Field(min_length=1, max_length=40, examples=["shop"])
    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"name": "logs"}])
    template_id: str | None = Field(default=None, max_length=200)
    opt_outs: list[OptOutBody] = Field(default_factory=list, max_length=50)


class UpdateRequestBody(_Body):
    """Inputs to change; inputs not given keep their values. Makes a new revision."""

    inputs: dict[str, Any]


class OverrideBody(_Body):
    """An approver's written override of a mandatory policy finding."""

    rule_id: str = Field(min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    reason: str = Field(min_length=1, max_length=2000)


class ApproveBody(_Body):
    """Approve the plan with this digest (12 or more leading hex digits)."""

    plan_digest: str = Field(min_length=12, max_length=64, pattern=r"^[0-9a-fA-F]+$")
    comment: str = Field(default="", max_length=2000)
    overrides: list[OverrideBody] = Field(default_factory=list, max_length=50)


class RequestView(BaseModel):
    """A request as the API shows it: facts, the derived status, sensitive inputs masked."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    placement: Placement
    inputs: dict[str, Any]
    revision: int
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    runs: dict[str, list[RunAttempt]] = Field(default_factory=dict)
    approvals: list[Approval] = Field(default_factory=list)
    drift: DriftState | None = None
    cost: CostEstimate | None = None
    policy_findings: list[PolicyFinding] = Field(default_factory=list)
    summary: PlanSummary | None = None
    opt_outs: list[OptOut] = Field(default_factory=list)
    promoted_from: str | None = None


class RequestList(BaseModel):
    """One page of requests, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[RequestView]
    next_cursor: str | None = None


class Timeline(BaseModel):
    """A request's events, oldest first."""

    request_id: str
    events: list[Event]


class ModuleSummary(BaseModel):
    """A catalog module, as listed."""

    name: str
    version: str
    category: str
    risk: str
    description: str


class ModuleDetail(ModuleSummary):
    """A catalog module with its input JSON Schema and examples."""

    input_schema: dict[str, Any]
    examples: list[dict[str, Any]] = Field(default_factory=list)


class WhoAmI(BaseModel):
    """The authenticated caller."""

    actor: str
    role: str
    via: str


class DriftItem(BaseModel):
    """An applied request and its latest drift check."""

    id: str
    module: str
    environment: str
    project: str
    status: str
    drift: DriftState | None = None
