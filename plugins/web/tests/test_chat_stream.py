"""The chat's Ask streamed as server-sent events (``POST /chat/ask/stream``), in process: offline
the query and the answer; with a question model that writes its output in pieces, the model
asked, each piece as it is written, then the query and the answer; kept in the history as the
plain post keeps it. The LLM question model's own streaming (``stream=True`` against the
OpenAI-compatible stand-in) is tested in plugins/summarize_llm/tests/test_ask.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.platform import Platform

from .test_pages import HTML, csrf_of, log_in

FIELDS = {"environments": ["dev"]}


class Streaming:
    id = "streaming"

    def to_query(self, question: str, *, on_text: Callable[[str], None] | None = None,
                 **_: Any) -> dict[str, Any]:  # fmt: skip
        text = json.dumps(FIELDS)
        for start in range(0, len(text), 4):
            if on_text is not None:
                on_text(text[start : start + 4])
        return dict(FIELDS)


def events(body: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream."""
    found = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def _ask(client: Any, question: str) -> Any:
    page = client.get("/chat", headers=HTML).text
    assert 'data-stream="/chat/ask/stream"' in page and 'id="ask-live"' in page
    return client.post("/chat/ask/stream", data={"csrf_token": csrf_of(page), "question": question})


def test_offline_the_stream_holds_the_query_and_the_answer(
    client: Any, tokens: dict[str, str]
) -> None:
    log_in(client, tokens["dev"])
    response = _ask(client, "how many requests are in dev?")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    got = events(response.text)
    assert [k for k, _ in got] == ["query", "answer", "done"]
    assert got[0][1]["answered_by"] == "parser"
    assert got[1][1]["question"] == "how many requests are in dev?" and got[1][1]["answered"]
    # Kept in the history, as the plain post keeps it.
    assert "how many requests are in dev?" in client.get("/chat", headers=HTML).text


def test_a_models_output_streams_piece_by_piece(
    client: Any, platform: Platform, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform.kernel.host, "question_models", lambda: [("s", Streaming())])
    log_in(client, tokens["dev"])
    got = events(_ask(client, "whatever went sideways lately, roughly").text)
    kinds = [k for k, _ in got]
    assert kinds[0] == "model" and got[0][1] == {"model": "streaming"}
    assert kinds.count("model_text") == len(json.dumps(FIELDS)) // 4 + 1
    assert kinds[-3:] == ["query", "answer", "done"]
    assert json.loads("".join(d["text"] for k, d in got if k == "model_text")) == FIELDS
    assert got[-2][1]["answered_by"] == "streaming"


def test_the_stream_needs_the_csrf_token_and_a_question(
    client: Any, tokens: dict[str, str]
) -> None:
    log_in(client, tokens["dev"])
    assert client.post("/chat/ask/stream", data={"question": "x"}).status_code == 403
    got = events(_ask(client, "   ").text)
    assert got == [("error", {"message": "ask a question"}), ("done", {})]
