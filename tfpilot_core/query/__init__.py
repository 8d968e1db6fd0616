"""The typed query layer: structured questions about requests, scoped by read grants.

>>> from tfpilot_core.query import Query
>>> platform.query("alice", Query(environments=["prod"], drift="drifted"))  # doctest: +SKIP
"""

from tfpilot_core.query.engine import IndexedStore, QueryPlan, compile_query, run_query
from tfpilot_core.query.model import (
    Aggregate,
    CostFilter,
    DriftFilter,
    EventFilter,
    Group,
    GroupBy,
    Query,
    QueryResult,
    ResultRow,
    SortKey,
)

__all__ = [
    "Aggregate",
    "CostFilter",
    "DriftFilter",
    "EventFilter",
    "Group",
    "GroupBy",
    "IndexedStore",
    "Query",
    "QueryPlan",
    "QueryResult",
    "ResultRow",
    "SortKey",
    "compile_query",
    "run_query",
]
