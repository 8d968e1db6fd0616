"""The ``llm`` question model: ``tfpilot ask`` questions the offline parser cannot read.

Only with ``ask = true`` in ``[plugins.summarize_llm]``. The model gets the question, the time,
the environment keys and the module names, and one tool, ``query``, whose parameters are the
JSON schema of :class:`tfpilot_core.query.Query`; it must call it (``tool_choice``). The call's
arguments are parsed and validated into a ``Query`` here (unknown fields and bad values refused),
and again by the core, which runs it with ``platform.query(actor, query)``, scoped by the asker's
read grants. Nothing the store holds is sent to the model, and the model's text is never run.
A malformed call, a call naming fields that do not exist, an error or a timeout is "no query":
the core then says it cannot answer and lists the forms that work. Only sizes and digests of
prompts and answers are logged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

log = structlog.get_logger("tfpilot.summarize_llm")

#: The only tool the model is offered.
TOOL_NAME = "query"

SYSTEM_PROMPT = """You translate questions about infrastructure requests into one call of the
tool "query", whose parameters filter, sort, limit and aggregate the requests. Use only the
tool's fields and values. Times are ISO 8601 in UTC; "this week" starts on Monday 00:00.
CONTEXT gives the current time, the environment keys and the module names. Always call the
tool exactly once; never answer with text."""


def query_tool() -> dict[str, Any]:
    """The ``query`` tool in OpenAI's format: the parameters are the Query model's JSON schema."""
    from tfpilot_core.query import Query

    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Find, count or sum the cost of requests (only those the asker may "
            "read are counted).",
            "parameters": Query.model_json_schema(),
        },
    }


class ToolCallRefused(ValueError):
    """The model's answer is not exactly one valid ``query`` tool call."""


def query_from_response(message: Any) -> Any:
    """The :class:`~tfpilot_core.query.Query` of the answer's single ``query`` tool call.

    :raises ToolCallRefused: no tool call, several, another tool, arguments that are not a JSON
        object, or fields/values the Query model refuses.
    """
    from pydantic import ValidationError

    from tfpilot_core.query import Query

    calls = getattr(message, "tool_calls", None) or []
    if len(calls) != 1:
        raise ToolCallRefused(f"expected one tool call, got {len(calls)}")
    function = getattr(calls[0], "function", None)
    name = getattr(function, "name", None)
    if name != TOOL_NAME:
        raise ToolCallRefused(f"the model called {str(name)[:40]!r}, not {TOOL_NAME!r}")
    raw = getattr(function, "arguments", None)
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ToolCallRefused("the arguments are not JSON") from exc
    if not isinstance(arguments, dict):
        raise ToolCallRefused("the arguments are not a JSON object")
    try:
        return Query.model_validate(arguments)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise ToolCallRefused("refused fields: " + ", ".join(fields)[:200]) from exc


def _argument_pieces(chunk: Any) -> list[str]:
    """The pieces of tool-call arguments (or text) a streamed chunk carries."""
    pieces: list[str] = []
    for choice in getattr(chunk, "choices", None) or []:
        delta = getattr(choice, "delta", None)
        for call in getattr(delta, "tool_calls", None) or []:
            text = getattr(getattr(call, "function", None), "arguments", None)
            if isinstance(text, str) and text:
                pieces.append(text)
        content = getattr(delta, "content", None)
        if isinstance(content, str) and content:
            pieces.append(content)
    return pieces


class LLMQuestionModel:
    """Questions to queries through the configured model (see the module docstring)."""

    id = "llm"

    def __init__(self, summarizer: LLMSummarizer) -> None:
        self.summarizer = summarizer

    def messages(
        self, question: str, *, now: datetime, environments: Sequence[str], modules: Sequence[str]
    ) -> list[dict[str, str]]:
        """The chat messages: the rules, the context (no store data), the question (scrubbed)."""
        from tfpilot_core.plan_facts import Scrubber

        scrub = Scrubber(self.summarizer.secrets())
        context = {
            "now": now.isoformat(),
            "environments": list(environments),
            "modules": list(modules)[:500],
        }
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "CONTEXT:\n" + json.dumps(context, sort_keys=True)},
            {"role": "user", "content": "QUESTION:\n" + scrub.text(question[:2000])},
        ]

    def _call(
        self, messages: list[dict[str, str]], on_text: Callable[[str], None] | None = None
    ) -> Any:
        """The answer's message, or an exception; never waits past ``timeout_seconds``.

        With ``on_text``, the answer is streamed (``stream=True``): each piece of the tool
        call's arguments goes to ``on_text`` as it arrives, and the message is rebuilt from the
        chunks (``litellm.stream_chunk_builder``), so it is checked exactly as a whole one.
        """
        from tfpilot_summarize_llm.summarizer import _import_litellm

        litellm = _import_litellm()
        settings = self.summarizer.settings
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                response = litellm.completion(
                    model=settings.model,
                    messages=messages,
                    api_base=settings.api_base,
                    api_key=key,
                    temperature=settings.temperature,
                    max_tokens=settings.max_answer_tokens,
                    timeout=settings.timeout_seconds,
                    num_retries=0,
                    max_retries=0,
                    tools=[query_tool()],
                    tool_choice={"type": "function", "function": {"name": TOOL_NAME}},
                    stream=on_text is not None,
                )
                if on_text is not None:
                    chunks = []
                    for chunk in response:
                        chunks.append(chunk)
                        for piece in _argument_pieces(chunk):
                            on_text(piece)
                    response = litellm.stream_chunk_builder(chunks, messages=messages)
                outcome["message"] = response.choices[0].message
            except BaseException as exc:  # reported to the caller, whatever it is
                outcome["error"] = exc

        # A daemon thread with a deadline, as for summaries: a hung endpoint cannot hold the
        # question past the configured timeout.
        worker = threading.Thread(target=call, name="tfpilot-llm-ask", daemon=True)
        worker.start()
        worker.join(settings.timeout_seconds)
        if worker.is_alive():
            raise TimeoutError(f"no answer within {settings.timeout_seconds:g}s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["message"]

    def to_query(
        self,
        question: str,
        *,
        now: datetime,
        actor: str,
        environments: Sequence[str],
        modules: Sequence[str],
        on_text: Callable[[str], None] | None = None,
    ) -> dict[str, Any] | None:
        """The validated query's fields, or ``None`` (logged) on any error or refused call.

        ``on_text`` (optional; the core passes it when the asker watches, e.g. the web chat's
        streamed answer) receives the model's output as it is written.
        """
        from tfpilot_summarize_llm.summarizer import _digest

        messages = self.messages(question, now=now, environments=environments, modules=modules)
        prompt = json.dumps(messages)
        started = time.monotonic()
        try:
            message = self._call(messages, on_text)
        except Exception as exc:
            log.warning("llm_ask_failed", error=type(exc).__name__)
            return None
        try:
            query = query_from_response(message)
        except ToolCallRefused as exc:
            log.warning("llm_ask_refused", reason=str(exc))
            return None
        log.info(
            "llm_ask_answer",
            model=self.summarizer.settings.model,
            prompt_chars=len(prompt),
            prompt_sha256=_digest(prompt),
            seconds=round(time.monotonic() - started, 3),
        )
        fields: dict[str, Any] = query.model_dump(mode="json")
        return fields
