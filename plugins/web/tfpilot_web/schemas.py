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


class RejectBody(_Body):
    """Reject the plan with this digest (12 or more leading hex digits), or ask for changes."""

    plan_digest: str = Field(min_length=12, max_length=64, pattern=r"^[0-9a-fA-F]+$")
    reason: str = Field(min_length=1, max_length=4000, description="Why (sent to the authors).")
    request_changes: bool = Field(
        default=False, description="Ask for changes (status changes_requested), not reject."
    )


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
    #: The requests promoted from this one (the other end of ``promoted_from``).
    promoted_to: list[str] = Field(default_factory=list)


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


# -- templates ------------------------------------------------------------------------------------

#: Template names, as the core checks them (``tfpilot_core.templates.NAME_PATTERN``).
TEMPLATE_NAME = r"^[a-z][a-z0-9-]{0,62}$"
_INPUT_NAMES = Field(default_factory=list, max_length=200)


class CreateTemplateBody(_Body):
    """A new template (version 1) of a catalog module; admins only."""

    name: str = Field(pattern=TEMPLATE_NAME, examples=["small-bucket"])
    module: str = Field(min_length=1, max_length=200, examples=["sandbox/bucket"])
    description: str = Field(default="", max_length=2000)
    #: Pin the template to this environment (``None``: any).
    environment: str | None = Field(default=None, min_length=1, max_length=12)
    #: Pin the template to this project (``None``: any).
    project: str | None = Field(default=None, min_length=1, max_length=40)
    defaults: dict[str, Any] = Field(default_factory=dict)
    locked: list[str] = _INPUT_NAMES
    #: When given, the only inputs a user may set (``None``: any unlocked input).
    allowed_overrides: list[str] | None = Field(default=None, max_length=200)


class UpdateTemplateBody(_Body):
    """A new version of a template: only the fields given change (``null`` removes a pin, and
    ``allowed_overrides: null`` allows any unlocked input). Existing requests keep theirs."""

    description: str | None = Field(default=None, max_length=2000)
    environment: str | None = Field(default=None, min_length=1, max_length=12)
    project: str | None = Field(default=None, min_length=1, max_length=40)
    defaults: dict[str, Any] | None = None
    locked: list[str] | None = Field(default=None, max_length=200)
    allowed_overrides: list[str] | None = Field(default=None, max_length=200)


# -- cost -----------------------------------------------------------------------------------------


class CostTopLine(BaseModel):
    """One resource among those with the largest monthly change (money as decimal strings)."""

    address: str
    resource_type: str | None = None
    monthly: str | None = None
    previous: str | None = None
    delta: str | None = None
    unknown: bool = False


class CostReport(BaseModel):
    """A request's stored cost estimate (bound to its plan digest), rendered by the core.

    Money is a decimal string; ``null`` means unknown (usage based, or the estimate failed),
    never zero.
    """

    request_id: str
    estimator: str
    currency: str
    plan_digest: str | None = None
    monthly: str | None = None
    previous: str | None = None
    delta: str | None = None
    error: str | None = None
    unknown: list[str] = Field(default_factory=list)
    compared_to: str | None = None
    other_currencies: dict[str, str | None] = Field(default_factory=dict)
    #: The resources with the largest change (``top`` of them), then the unknown ones.
    top: list[CostTopLine] = Field(default_factory=list)
    #: One line: ``+12.30 USD/month (was 10.00 USD, now 22.30 USD)``.
    phrase: str
    #: The Markdown rendering (as a pull-request comment shows it).
    markdown: str


# -- ask ------------------------------------------------------------------------------------------


class AskBody(_Body):
    """A question about requests, in plain words."""

    question: str = Field(min_length=1, max_length=500, examples=["how many requests are in prod?"])


class AskAnswer(BaseModel):
    """The answer: the structured query that ran, its result and a sentence saying what it
    found. Only requests the caller may read are counted or shown."""

    question: str
    answered: bool
    answer: str
    query: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    suggestions: list[str] = Field(default_factory=list)
