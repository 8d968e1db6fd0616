"""Answers: the query that ran, its result, and a sentence saying what it found."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfpilot_core.ask.parser import EXAMPLES, parse_question
from tfpilot_core.log import get_logger
from tfpilot_core.models import utcnow
from tfpilot_core.query.engine import run_query
from tfpilot_core.query.model import Aggregate, GroupBy, Query, QueryResult

if TYPE_CHECKING:
    from tfpilot_core.lifecycle.kernel import SupportsKernel

__all__ = ["Answer", "Progress", "ask", "render_answer"]

#: Told what answering a question is doing, as it happens: ``("model", {"model": id})`` before a
#: question model is asked, ``("model_text", {"model": id, "text": piece})`` for each piece of a
#: model's output as it is written (models whose ``to_query`` takes ``on_text``), and
#: ``("query", {"query": ..., "answered_by": ...})`` once the query is known (before it runs).
Progress = Callable[[str, dict[str, Any]], None]

# The facade: structlog (with rich and asyncio) is imported only if a line is logged.
log = get_logger("tfpilot.ask")


@dataclass
class Answer:
    """What ``tfpilot ask`` returns: always the structured query (or why there is none)."""

    question: str
    answered: bool
    text: str
    query: dict[str, Any] | None = None
    result: QueryResult | None = None
    suggestions: list[str] = field(default_factory=list)
    #: Who turned the question into the query: ``"parser"`` (offline) or a question model's id.
    answered_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``tfpilot ask --json``): question, query, answer, result."""
        return {
            "question": self.question,
            "answered": self.answered,
            "query": self.query,
            "answer": self.text,
            "result": self.result.model_dump(mode="json") if self.result else None,
            "suggestions": self.suggestions,
            "answered_by": self.answered_by,
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
    if q.who is not None:
        # "who approved REQ": the people of each request, named.
        verb = {
            "approvers": "approved by",
            "appliers": "applied by",
            "planners": "planned by",
            "authors": "created by",
        }[q.who]
        lines = []
        for r in result.rows:
            people = [r.author] if q.who == "authors" else list(getattr(r, q.who))
            done = verb.removesuffix(" by")
            lines.append(f"{r.id}: {verb} {', '.join(people)}" if people else f"{r.id}: not {done}")
        return "; ".join(lines) + "."
    shown = len(result.rows)
    more = f" (showing {shown})" if shown < result.count else ""
    noun = "request matches" if result.count == 1 else "requests match"
    return f"{result.count} {noun}{more}: " + ", ".join(r.id for r in result.rows)


def ask(
    platform: SupportsKernel,
    actor: str,
    question: str,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Answer:
    """Answer ``question`` for ``actor`` (only what ``actor`` may read is counted or shown).

    ``progress`` is told each step as it happens (see :data:`Progress`): the web chat streams
    them; the answer is the same with or without it.
    """

    envs = [(e.key, e.slug) for e in platform.kernel.config.core.environments]
    try:
        modules = platform.kernel.catalog.names()
    except Exception:  # a broken catalog must not stop questions that need no module names
        modules = []
    when = now or utcnow()
    # Bare project names ("the cost of shop in prod") are read only for projects that exist
    # and the asker may read (one grouped count: the index rows on the embedded store).
    groups = run_query(
        platform.kernel,
        actor,
        Query(aggregate=Aggregate.COUNT, group_by=GroupBy.PROJECT, limit=10_000),
    ).groups
    parsed = parse_question(
        question,
        now=when,
        actor=actor,
        environments=envs,
        modules=modules,
        projects=[g.key for g in groups],
        # Bare user names ("requests alice approved") only for users of the configuration.
        users=list(platform.kernel.config.users),
    )
    query, by = parsed.query, "parser"
    if query is None:
        query, by = _model_query(
            platform, question, now=when, actor=actor, environments=[k for k, _ in envs],
            modules=modules, progress=progress,
        )  # fmt: skip
    if query is None:
        return Answer(
            question=question,
            answered=False,
            text=f"I cannot answer that ({parsed.reason}). Questions of these forms work:",
            suggestions=list(EXAMPLES),
        )
    if progress is not None:
        progress("query", {"query": query.described(), "answered_by": by})
    result = run_query(platform.kernel, actor, query)
    return Answer(
        question=question,
        answered=True,
        text=render_answer(result),
        query=query.described(),
        result=result,
        answered_by=by,
    )


def _model_query(
    platform: SupportsKernel,
    question: str,
    *,
    now: datetime,
    actor: str,
    environments: list[str],
    modules: list[str],
    progress: Progress | None = None,
) -> tuple[Query | None, str]:
    """The first query a question model (a plugin) makes of ``question`` that validates.

    Whatever a model returns is data, validated into a :class:`Query` here (unknown fields and
    bad values refused); a model that raises, times out or returns nothing valid is skipped.
    """
    from pydantic import ValidationError as PydanticValidationError

    try:
        models = platform.kernel.host.question_models()
    except Exception as exc:  # a broken plugin never stops the offline answer
        log.warning("question_models_skipped", error=type(exc).__name__)
        return None, "parser"
    for plugin, model in models:
        name = str(getattr(model, "id", plugin))
        extra: dict[str, Any] = {}
        if progress is not None:
            progress("model", {"model": name})
            if _takes_on_text(model):

                def on_text(text: str, name: str = name) -> None:
                    progress("model_text", {"model": name, "text": text})

                extra["on_text"] = on_text
        try:
            fields = model.to_query(
                question, now=now, actor=actor, environments=environments, modules=modules,
                **extra,
            )  # fmt: skip
        except Exception as exc:
            log.warning("question_model_failed", plugin=plugin, error=type(exc).__name__)
            continue
        if fields is None:
            continue
        try:
            query = (
                Query.model_validate(fields.model_dump())
                if isinstance(fields, Query)
                else Query.model_validate(fields)
            )
        except (PydanticValidationError, TypeError, ValueError) as exc:
            log.warning("question_model_refused", plugin=plugin, error=type(exc).__name__)
            continue
        return query, name
    return None, "parser"


def _takes_on_text(model: Any) -> bool:
    """Whether ``model.to_query`` takes ``on_text`` (optional: older models do not)."""
    try:
        parameters = inspect.signature(model.to_query).parameters
    except (TypeError, ValueError):
        return False
    return "on_text" in parameters
