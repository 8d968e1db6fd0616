"""The typed query: what the query layer, ``tfpilot ask`` and the MCP ``query`` tool run.

A :class:`Query` is data, never text: every field is checked by pydantic, so nothing a user or a
model types is ever run against a store. Filters combine with AND; a list filter matches any of
its values (``environments=["stage", "prod"]``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tfpilot_core.lifecycle import RequestStatus

__all__ = [
    "Aggregate",
    "CostFilter",
    "DriftFilter",
    "EventFilter",
    "Group",
    "GroupBy",
    "Query",
    "QueryResult",
    "ResultRow",
    "SortKey",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DriftFilter(enum.StrEnum):
    """Which drift state a request must be in."""

    #: The latest check found drift.
    DRIFTED = "drifted"
    #: The latest check found none.
    NONE = "none"
    #: The latest check failed.
    ERROR = "error"
    #: Never checked.
    UNCHECKED = "unchecked"


class Aggregate(enum.StrEnum):
    """What the query returns."""

    #: The matching requests (sorted, limited).
    LIST = "list"
    #: How many requests match (per group with ``group_by``).
    COUNT = "count"
    #: The sum of the matching requests' monthly cost (per group with ``group_by``).
    SUM_COST = "sum_cost"


class GroupBy(enum.StrEnum):
    """What aggregations are grouped by."""

    MODULE = "module"
    ENVIRONMENT = "environment"
    PROJECT = "project"
    STATUS = "status"
    AUTHOR = "author"


class SortKey(enum.StrEnum):
    """Orders of a listing (``-`` first: descending)."""

    NEWEST = "-created"
    OLDEST = "created"
    COST_DESC = "-cost"
    COST_ASC = "cost"
    APPLIED_DESC = "-applied"
    DRIFTED_DESC = "-drifted"


class CostFilter(_Model):
    """A bound on the monthly cost (``total``) or on its change (``delta``).

    Requests whose cost is unknown (no estimate, or usage-based) never match a cost filter.
    """

    measure: Literal["total", "delta"] = "total"
    op: Literal["gt", "gte", "lt", "lte"]
    amount: Decimal

    def matches(self, value: Decimal | None) -> bool:
        """Whether ``value`` is within the bound (an unknown value never is)."""
        if value is None:
            return False
        if self.op == "gt":
            return value > self.amount
        if self.op == "gte":
            return value >= self.amount
        if self.op == "lt":
            return value < self.amount
        return value <= self.amount


class EventFilter(_Model):
    """Requests with at least one event of ``kind`` (at or after ``since``, when given)."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    since: datetime | None = None


class Query(_Model):
    """A structured question about requests. Every given filter must match.

    Time bounds are absolute (the parser turns "this week" into a datetime): ``*_since`` is
    inclusive, ``*_before`` exclusive, so "yesterday" is a since and a before. ``applied_*``
    look at the latest successful apply; ``drifted_*`` at the latest drift check that found
    drift. ``approvers``, ``appliers`` and ``planners`` match who approved the request, who ran
    a successful apply of it, and who started a plan of it (any of the given users).
    """

    statuses: list[RequestStatus] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    drift: DriftFilter | None = None
    created_since: datetime | None = None
    created_before: datetime | None = None
    applied_since: datetime | None = None
    applied_before: datetime | None = None
    drifted_since: datetime | None = None
    drifted_before: datetime | None = None
    approvers: list[str] = Field(default_factory=list)
    appliers: list[str] = Field(default_factory=list)
    planners: list[str] = Field(default_factory=list)
    #: Requests any of these users acted on: created, revised, planned, approved, applied,
    #: destroyed or checked for drift ("what did carol do", "requests bob touched").
    actors: list[str] = Field(default_factory=list)
    #: When that action was (with ``actors``; without them, anyone's action): since inclusive,
    #: before exclusive, like every other window.
    acted_since: datetime | None = None
    acted_before: datetime | None = None
    #: Only these requests (by id): "who approved req_prod_s3bucket_abc234".
    ids: list[Annotated[str, Field(pattern=r"^req_[a-z0-9_]{1,120}$")]] = Field(
        default_factory=list, max_length=100
    )
    #: Which people the answer names for each request listed (the rows carry them all).
    who: Literal["approvers", "appliers", "planners", "authors"] | None = None
    cost: list[CostFilter] = Field(default_factory=list)
    events: list[EventFilter] = Field(default_factory=list)
    aggregate: Aggregate = Aggregate.LIST
    group_by: GroupBy | None = None
    sort: SortKey = SortKey.NEWEST
    limit: int = Field(default=50, ge=1, le=10_000)

    @field_validator(
        "environments",
        "projects",
        "modules",
        "authors",
        "approvers",
        "appliers",
        "planners",
        "actors",
    )
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        if any(not v or len(v) > 128 for v in values):
            raise ValueError("values must be 1-128 characters")
        return sorted(set(values))

    def described(self) -> dict[str, Any]:
        """The query as JSON with only the fields that differ from the defaults (for people)."""
        return self.model_dump(mode="json", exclude_defaults=True)


class ResultRow(_Model):
    """One request in a listing: its placement, status, cost and drift (never its inputs)."""

    id: str
    status: str
    project: str
    environment: str
    module: str
    author: str
    created_at: datetime
    applied_at: datetime | None = None
    monthly_cost: Decimal | None = None
    cost_delta: Decimal | None = None
    drift: str | None = None
    drift_checked_at: datetime | None = None
    #: Who approved it, who ran a successful apply of it, who started a plan of it.
    approvers: list[str] = Field(default_factory=list)
    appliers: list[str] = Field(default_factory=list)
    planners: list[str] = Field(default_factory=list)


class Group(_Model):
    """One group of an aggregation."""

    key: str
    count: int
    monthly_cost: Decimal = Decimal(0)
    #: How many requests of the group have no known cost (left out of ``monthly_cost``).
    unknown_cost: int = 0


class QueryResult(_Model):
    """What a query returned, with the query itself and the plan that ran it."""

    query: Query
    aggregate: Aggregate
    #: How many readable requests matched (before ``limit``).
    count: int
    rows: list[ResultRow] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    total_cost: Decimal | None = None
    unknown_cost: int = 0
    #: The steps the plan ran, for people (``["sqlite: index on environment", ...]``).
    plan: list[str] = Field(default_factory=list)
