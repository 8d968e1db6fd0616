"""Answers: the query that ran, its result, and a sentence saying what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfpilot_core.ask.parser import EXAMPLES, parse_question
from tfpilot_core.query.model import Aggregate, QueryResult

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

__all__ = ["Answer", "ask", "render_answer"]


@dataclass
class Answer:
    """What ``tfpilot ask`` returns: always the structured query (or why there is none)."""

    question: str
    answered: bool
    text: str
    query: dict[str, Any] | None = None
    result: QueryResult | None = None
    suggestions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``tfpilot ask --json``): question, query, answer, result."""
        return {
            "question": self.question,
            "answered": self.answered,
            "query": self.query,
            "answer": self.text,
            "result": self.result.model_dump(mode="json") if self.result else None,
            "suggestions": self.suggestions,
        }


def _money(value: Any) -> str:
    return f"{value:.2f}"


def render_answer(result: QueryResult) -> str:
    """One or a few sentences saying what ``result`` holds."""
    q = result.query
    if result.aggregate is Aggregate.COUNT:
        if q.group_by is None:
            noun = "request matches" if result.count == 1 else "requests match"
            return f"{result.count} {noun}."
        parts = [f"{g.key}: {g.count}" for g in result.groups]
        return f"{result.count} requests match, by {q.group_by.value}: " + (
            "; ".join(parts) if parts else "none"
        )
    if result.aggregate is Aggregate.SUM_COST:
        unknown = f" ({result.unknown_cost} without a known cost)" if result.unknown_cost else ""
        head = (
            f"Monthly cost {_money(result.total_cost or 0)} USD over {result.count} "
            f"requests{unknown}."
        )
        if q.group_by is None:
            return head
        parts = [f"{g.key}: {_money(g.monthly_cost)}" for g in result.groups]
        return head + f" By {q.group_by.value}: " + "; ".join(parts)
    if not result.rows:
        return "No requests match."
    shown = len(result.rows)
    more = f" (showing {shown})" if shown < result.count else ""
    noun = "request matches" if result.count == 1 else "requests match"
    return f"{result.count} {noun}{more}: " + ", ".join(r.id for r in result.rows)


def ask(platform: Platform, actor: str, question: str, *, now: datetime | None = None) -> Answer:
    """Answer ``question`` for ``actor`` (only what ``actor`` may read is counted or shown)."""
    from tfpilot_core.models import utcnow

    envs = [(e.key, e.slug) for e in platform.config.core.environments]
    try:
        modules = platform.catalog.names()
    except Exception:  # a broken catalog must not stop questions that need no module names
        modules = []
    parsed = parse_question(
        question, now=now or utcnow(), actor=actor, environments=envs, modules=modules
    )
    if parsed.query is None:
        return Answer(
            question=question,
            answered=False,
            text=f"I cannot answer that offline ({parsed.reason}). Questions of these forms work:",
            suggestions=list(EXAMPLES),
        )
    result = platform.query(actor, parsed.query)
    return Answer(
        question=question,
        answered=True,
        text=render_answer(result),
        query=parsed.query.described(),
        result=result,
    )
