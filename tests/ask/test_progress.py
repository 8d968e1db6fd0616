"""``ask(..., progress=...)``: each step told as it happens (what the web chat streams), the
answer the same with or without it; a model's output passed on piece by piece when its
``to_query`` takes ``on_text``, and older models called as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.ask import ask
from tfpilot_core.platform import Platform

ODD = "show me whatever went sideways over in production land"
FIELDS = {"environments": ["prod"], "drift": "drifted"}


class Streaming:
    """A question model that writes its answer in pieces (as a streamed LLM does)."""

    id = "streaming"

    def to_query(self, question: str, *, on_text: Callable[[str], None] | None = None,
                 **_: Any) -> dict[str, Any]:  # fmt: skip
        text = json.dumps(FIELDS)
        for start in range(0, len(text), 5):
            if on_text is not None:
                on_text(text[start : start + 5])
        return dict(FIELDS)


class Older:
    """A question model from before ``on_text``: it takes exactly the documented keywords."""

    id = "older"

    def to_query(
        self, question: str, *, now: Any, actor: str, environments: Any, modules: Any
    ) -> dict[str, Any]:
        return dict(FIELDS)


def _with(monkeypatch: pytest.MonkeyPatch, platform: Platform, model: Any) -> None:
    monkeypatch.setattr(platform.kernel.host, "question_models", lambda: [("stub", model)])


def test_a_models_pieces_come_before_the_query_and_the_answer_is_unchanged(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with(monkeypatch, platform, Streaming())
    steps: list[tuple[str, dict[str, Any]]] = []
    watched = ask(platform, "admin", ODD, progress=lambda kind, data: steps.append((kind, data)))
    kinds = [k for k, _ in steps]
    assert kinds[0] == "model" and steps[0][1] == {"model": "streaming"}
    assert kinds[-1] == "query" and kinds.count("model_text") > 2
    text = "".join(d["text"] for k, d in steps if k == "model_text")
    assert json.loads(text) == FIELDS
    assert steps[-1][1] == {"query": FIELDS, "answered_by": "streaming"}
    unwatched = ask(platform, "admin", ODD)
    assert watched.to_dict() == unwatched.to_dict() and watched.answered_by == "streaming"


def test_an_older_model_is_called_without_on_text(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with(monkeypatch, platform, Older())
    steps: list[tuple[str, dict[str, Any]]] = []
    answer = ask(platform, "admin", ODD, progress=lambda kind, data: steps.append((kind, data)))
    assert answer.answered and answer.answered_by == "older"
    assert [k for k, _ in steps] == ["model", "query"]


def test_the_offline_parser_tells_only_the_query(platform: Platform) -> None:
    steps: list[tuple[str, dict[str, Any]]] = []
    answer = ask(
        platform,
        "admin",
        "how many requests are in prod?",
        progress=lambda k, d: steps.append((k, d)),
    )
    assert answer.answered and [k for k, _ in steps] == ["query"]
    assert steps[0][1]["answered_by"] == "parser"
