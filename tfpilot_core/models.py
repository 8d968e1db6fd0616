"""The domain's data: requests and the facts stored about them.

A request stores facts (inputs, run attempts and their conclusions, approvals, drift checks); its
status is never stored but derived from them (:mod:`tfpilot_core.lifecycle`). Every document
carries ``schema_version`` so that older documents keep loading (:func:`Request.load`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Re-exported: the same object as tfpilot_core.levels.PolicyLevel (imported there by code that
# must not import pydantic).
from tfpilot_core.levels import PolicyLevel as PolicyLevel

#: The schema version written by this release. Version 1 documents are upgraded on load.
REQUEST_SCHEMA_VERSION = 2


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (the only clock the domain uses)."""
    return datetime.now(UTC)


class _Model(BaseModel):
    # defer_build: a model's validator is built when first used, not at import; a small command
    # (`requests list` of an empty store) uses few of these models and paid for all of them.
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=False, defer_build=True)


class Role(enum.StrEnum):
    """Roles, each including the rights of the ones before it."""

    VIEWER = "viewer"
    DEVELOPER = "developer"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Order of the role: a higher rank includes every right of a lower one."""
        return list(Role).index(self)


class Environment(_Model):
    """A deployment environment, in promotion order (dev -> stage -> prod by default)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$")
    slug: str = ""
    #: Every apply needs an approval by someone who did not author the change (four eyes).
    protected: bool = False
    #: A plan with no blocking or mandatory finding may be applied without an approval, by
    #: anyone who may plan. Findings that need an approver's override still wait for one.
    #: Cannot be combined with ``protected`` (a configuration error).
    auto_apply: bool = False
    #: Who may act here beyond their role (empty: anyone with the role).
    allowed_actors: list[str] = Field(default_factory=list)
    #: Who may destroy here (empty: any admin); meant for prod.
    destroy_allowed_actors: list[str] = Field(default_factory=list)
    #: Cost estimators used here, in order (``None``: ``[core] cost_estimators``).
    cost_estimators: list[str] | None = None


DEFAULT_ENVIRONMENTS: tuple[Environment, ...] = (
    Environment(key="dev", slug="development"),
    Environment(key="stage", slug="staging"),
    Environment(key="prod", slug="production", protected=True),
)


class RunKind(enum.StrEnum):
    """What a run does."""

    PLAN = "plan"
    APPLY = "apply"
    DESTROY = "destroy"
    DRIFT = "drift"


class RunStatus(enum.StrEnum):
    """Where a run is; only ever moves forward."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Conclusion(enum.StrEnum):
    """How a completed run ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


_STATUS_ORDER = {RunStatus.QUEUED: 0, RunStatus.IN_PROGRESS: 1, RunStatus.COMPLETED: 2}


class RunAttempt(_Model):
    """One start of a run. Only starting a run creates an attempt; updates are monotonic."""

    id: str
    kind: RunKind
    number: int = Field(ge=1)
    runner: str
    revision: int = Field(ge=1)
    actor: str
    status: RunStatus = RunStatus.QUEUED
    conclusion: Conclusion | None = None
    external_id: str | None = None
    url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    #: sha256 of the saved plan (plan attempts) or of the plan that was applied (apply attempts).
    plan_digest: str | None = None
    #: sha256 of the rendered root module files.
    rendered_digest: str | None = None
    module_version: str | None = None
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    def advanced(self, **changes: Any) -> RunAttempt:
        """A copy with ``changes`` applied, refusing to move backwards.

        Never back from completed, never clear a conclusion or a completion time.
        """
        new = self.model_copy(update=changes)
        if _STATUS_ORDER[new.status] < _STATUS_ORDER[self.status]:
            raise ValueError(
                f"run {self.id}: status cannot go from {self.status.value} to {new.status.value}"
            )
        if self.conclusion is not None and new.conclusion != self.conclusion:
            raise ValueError(f"run {self.id}: conclusion {self.conclusion.value} is final")
        if self.completed_at is not None and new.completed_at != self.completed_at:
            raise ValueError(f"run {self.id}: completion time is final")
        return new


class PolicyFinding(_Model):
    """One rule's verdict on one subject (an input, or a resource address)."""

    rule_id: str
    level: PolicyLevel
    message: str
    address: str | None = None
    engine: str = ""
    stage: str = "plan"
    #: The attribute of the resource at ``address`` the finding is about, when the engine says.
    attribute: str | None = None


class PolicyOverride(_Model):
    """An approver's written decision to accept a mandatory finding."""

    rule_id: str
    address: str | None = None
    reason: str = Field(min_length=1)
    actor: str
    at: datetime = Field(default_factory=utcnow)


class OptOut(_Model):
    """A recorded, justified opt-out from a security default for one request."""

    rule_id: str
    justification: str = Field(min_length=10)
    actor: str
    at: datetime = Field(default_factory=utcnow)


class Approval(_Model):
    """Who approved which revision and which plan, with which overrides."""

    actor: str
    revision: int
    plan_digest: str
    at: datetime = Field(default_factory=utcnow)
    comment: str = ""
    overrides: list[PolicyOverride] = Field(default_factory=list)


class Rejection(_Model):
    """A reviewer's refusal of one plan (its run and digest), with the reason.

    ``request_changes`` marks a request for changes (the author is asked to revise) rather than a
    rejection; both stop the plan from being approved or applied. A new plan run (after an
    update, or a re-plan) is not covered by it.
    """

    actor: str
    revision: int
    plan_digest: str
    #: The id of the plan attempt that was refused (a re-plan is a new attempt).
    run: str
    at: datetime = Field(default_factory=utcnow)
    reason: str = Field(min_length=1)
    request_changes: bool = False


class DriftResult(enum.StrEnum):
    """The outcome of a drift check."""

    NONE = "none"
    DRIFTED = "drifted"
    ERROR = "error"


class DriftReport(_Model):
    """What a drift detector found: addresses and attribute paths that changed out of band."""

    result: DriftResult
    addresses: list[str] = Field(default_factory=list)
    paths: dict[str, list[str]] = Field(default_factory=dict)
    error: str | None = None
    detector: str = ""


class DriftState(_Model):
    """The latest drift check stored on a request."""

    checked_at: datetime
    result: DriftResult
    addresses: list[str] = Field(default_factory=list)
    run_id: str | None = None


class CostComponent(_Model):
    """One priced part of a resource (instance hours, storage GB, requests...).

    ``None`` money or quantity means unknown: a usage-based price without usage given.
    """

    name: str
    unit: str = ""
    #: The sub-resource holding the component (``root_block_device``), empty for the resource.
    subresource: str = ""
    monthly_quantity: Decimal | None = None
    price: Decimal | None = None
    monthly: Decimal | None = None
    usage_based: bool = False


class CostLine(_Model):
    """One resource's monthly cost."""

    address: str
    resource_type: str
    monthly: Decimal | None = None
    previous: Decimal | None = None
    #: Monthly change of this resource, when the estimator knows it (``None``: unknown).
    delta: Decimal | None = None
    #: Some of this resource's cost is unknown (usage based, no usage given).
    unknown: bool = False
    components: list[CostComponent] = Field(default_factory=list)


class CostEstimate(_Model):
    """A cost estimate tied to a plan. ``None`` money means unknown (usage based)."""

    monthly: Decimal | None
    previous: Decimal | None = None
    currency: str = "USD"
    plan_digest: str | None = None
    estimator: str = ""
    lines: list[CostLine] = Field(default_factory=list)
    #: Why the estimate failed (the estimator ran and could not price the plan), else ``None``.
    error: str | None = None
    #: Addresses of resources whose cost is partly or wholly unknown (usage based).
    unknown: list[str] = Field(default_factory=list)
    #: The plan digest of the applied plan ``previous`` comes from (``None``: never applied).
    compared_to: str | None = None
    #: Monthly totals in currencies other than ``currency`` (several projects, several currencies).
    other_currencies: dict[str, Decimal | None] = Field(default_factory=dict)

    @property
    def delta(self) -> Decimal | None:
        """Monthly change, unknown when either side is unknown."""
        if self.monthly is None or self.previous is None:
            return None
        return self.monthly - self.previous


class PlanSummary(_Model):
    """A plain-language summary of a plan, as text and as Markdown."""

    text: str
    markdown: str
    summarizer: str = ""
    plan_digest: str | None = None
    #: The model that wrote the narrative (an LLM summariser), ``None`` for rule-based text.
    model: str | None = None
    #: Why the configured summariser's text was not used and the rules summary was (a model's
    #: answer failed its checks, errored, timed out or was over budget).
    fallback_reason: str | None = None


class RevisionAuthor(_Model):
    """Who made a revision of a request's inputs (the create is revision 1)."""

    revision: int = Field(ge=1)
    actor: str
    at: datetime = Field(default_factory=utcnow)


class Placement(_Model):
    """Where a request lives. Immutable once created."""

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
    environment: str
    module: str
    module_version: str
    template_id: str | None = None
    #: The version of the template the request was made from (see tfpilot_core.templates).
    template_version: int | None = None


class ChainAnchor(_Model):
    """The head of a request's event hash chain, kept outside the event stream.

    Stored beside the request (a record of namespace ``chain_anchors``, written with
    compare-and-swap each time an event is appended: ``Kernel.append`` in
    :mod:`tfpilot_core.lifecycle.kernel`, :func:`tfpilot_core.event_chain.next_anchor`), so a cut,
    rewritten or forged end of the stream no longer matches it; signed when ``[core]
    chain_key_env`` names a key, so it cannot be forged either. ``Request.chain_anchor`` carries
    it when a request is read for its audit record.
    """

    #: How many events the stream holds.
    events: int = Field(ge=0)
    #: The digest of the last event (:func:`tfpilot_core.event_chain.event_digest`).
    head: str
    #: ``hmac-sha256:<hex>`` over request id, count and head, with the configured chain key.
    signature: str | None = None


class Request(_Model):
    """A request for infrastructure: the stored document.

    ``revision`` counts accepted updates of the inputs; ``version`` counts every write and is the
    compare-and-swap token of the store.
    """

    schema_version: int = REQUEST_SCHEMA_VERSION
    id: str
    placement: Placement
    inputs: dict[str, Any]
    revision: int = Field(default=1, ge=1)
    version: int = Field(default=0, ge=0)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    runs: dict[RunKind, list[RunAttempt]] = Field(default_factory=dict)
    approvals: list[Approval] = Field(default_factory=list)
    #: Rejections and requests for changes, oldest first (see :class:`Rejection`).
    rejections: list[Rejection] = Field(default_factory=list)
    drift: DriftState | None = None
    cost: CostEstimate | None = None
    policy_findings: list[PolicyFinding] = Field(default_factory=list)
    summary: PlanSummary | None = None
    opt_outs: list[OptOut] = Field(default_factory=list)
    #: The request this one was promoted from, if any.
    promoted_from: str | None = None
    #: Who promoted it here (four eyes counts them as an author of the change).
    promoted_by: str | None = None
    #: The requests promoted from this one (the other end of ``promoted_from``).
    promoted_to: list[str] = Field(default_factory=list)
    #: What a promotion reused from its source and what it made anew (tfpilot_core.promotion).
    promotion: dict[str, Any] | None = None
    #: The anchored head of the event hash chain, attached when the request is read for its
    #: audit record (it is stored beside the request, not in it; ``None``: not attached).
    chain_anchor: ChainAnchor | None = None
    #: Who made each revision (create and updates), oldest first.
    revision_authors: list[RevisionAuthor] = Field(default_factory=list)

    def change_authors(self) -> set[str]:
        """Everyone whose change an approval of the current plan would approve.

        The creator, whoever promoted the request here, and the authors of every revision made
        since the last successful apply (all revisions when it was never applied).
        """
        authors = {self.created_by}
        if self.promoted_by:
            authors.add(self.promoted_by)
        applied = [
            a.revision
            for a in self.runs.get(RunKind.APPLY, [])
            if a.conclusion is Conclusion.SUCCESS
        ]
        since = max(applied) if applied else 0
        authors |= {r.actor for r in self.revision_authors if r.revision > since}
        plan = self.latest(RunKind.PLAN)
        if plan is not None and plan.revision == self.revision and plan.details.get("destroy"):
            # A destroy is the change of whoever asked for it.
            authors.add(plan.actor)
        return authors

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        # Version 1 documents kept ``module``/``project``/``environment`` at the top level and had
        # no ``opt_outs``; upgrade them in memory so they still load.
        if (
            isinstance(data, dict)
            and "placement" not in data
            and data.get("schema_version", 1) == 1
        ):
            data = dict(data)
            placement = {
                "project": data.pop("project"),
                "environment": data.pop("environment"),
                "module": data.pop("module"),
                "module_version": data.pop("module_version", "unknown"),
            }
            data["placement"] = placement
            data["schema_version"] = REQUEST_SCHEMA_VERSION
        return data

    @classmethod
    def load(cls, raw: str | bytes) -> Request:
        """Parse a stored document of any supported schema version."""
        return cls.model_validate_json(raw)

    def dump(self) -> str:
        """The stored form (JSON)."""
        return self.model_dump_json()

    def attempts(self, kind: RunKind) -> list[RunAttempt]:
        """The attempts of one kind, oldest first."""
        return self.runs.get(kind, [])

    def latest(self, kind: RunKind) -> RunAttempt | None:
        """The current attempt of one kind, if any."""
        found = self.runs.get(kind)
        return found[-1] if found else None


class Event(_Model):
    """One entry of a request's append-only event stream."""

    request_id: str
    type: str
    seq: int = 0
    at: datetime = Field(default_factory=utcnow)
    revision: int = 1
    actor: str = "system"
    source: str = "core"
    correlation_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    #: The digest of the request's previous event (set by the store: a hash chain, see
    #: :mod:`tfpilot_core.event_chain`); ``None`` for the first event.
    prev_digest: str | None = None


class Record(_Model):
    """A keyed record of the store (locks, idempotency keys, outboxes, preferences)."""

    namespace: str
    key: str
    value: dict[str, Any]
    version: int = Field(ge=1)
    expires_at: datetime | None = None


class RequestQuery(_Model):
    """Filters for listing requests; all given filters must match."""

    status: str | None = None
    environment: str | None = None
    module: str | None = None
    author: str | None = None
    project: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(default=100, ge=1, le=10_000)
    cursor: str | None = None


class RequestPage(_Model):
    """One page of a listing; pass ``next_cursor`` back to get the next."""

    items: list[Request]
    next_cursor: str | None = None
    #: Ids of stored requests on this page that could not be read (left out of ``items``).
    unreadable: list[str] = Field(default_factory=list)
