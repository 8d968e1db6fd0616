"""The chat page (``/chat``): the request assistant and questions about the platform.

*Create a request* runs the core's assistant (:func:`tfpilot_core.assistant.run_assistant`, the
flow behind ``tfpilot requests new --assist``): one question at a time, with its allowlist and
default, validation after each answer, the policy preview, and an explicit "yes" before anything
is created. The browser talks to it one answer per post: the conversation's answers are kept in
the store (namespace ``web_chat``), and each turn replays the flow over them until it asks a
question that has no answer yet. The flow is deterministic offline, so a replay asks the same
questions; a conversation is resumable from its page, and its transcript is kept with the id of
the request it created. Answers to sensitive inputs are never stored: they are held in this
process only (a restart asks them again).

*Ask* runs :func:`tfpilot_core.ask.ask` as the caller (scoped by their read grants) and shows the
structured query beside the answer, with links to the requests it names. With JavaScript the
answer is streamed (``POST /chat/ask/stream``, server-sent events) as the core makes it: the
question model being asked, its output piece by piece as the model writes it (a model that
streams: the LLM question model asks with ``stream=True``), the query, then the answer. Offline
(the rule-based parser) the stream holds the query and the answer at once; without JavaScript
the form posts to ``/chat/ask`` and the page comes back with the answer (one response).
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from tfpilot_core.errors import ForbiddenError, NotFoundError, TfpilotError
from tfpilot_core.masking import MASK
from tfpilot_web.deps import state_of

if TYPE_CHECKING:
    from tfpilot_core.assistant import Question
    from tfpilot_core.platform import Platform

NAMESPACE = "web_chat"
#: Answers a conversation may hold (the flow itself stops after a few refusals per question).
MAX_ANSWERS = 200
MAX_ANSWER = 2000
#: Questions kept in a user's ask history.
ASK_HISTORY = 20
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
#: Sensitive answers, in this process only: (conversation, answer index) -> value.
_secrets: dict[tuple[str, int], str] = {}


class _NeedAnswer(Exception):
    def __init__(self, question: Question) -> None:
        super().__init__(question.key)
        self.question = question


class ReplayConversation:
    """A :class:`~tfpilot_core.assistant.Conversation` answering from the stored answers, in
    order; the first question past them stops the flow (:class:`_NeedAnswer`)."""

    def __init__(self, conversation_id: str, answers: list[dict[str, Any]]) -> None:
        self.id = conversation_id
        self.answers = answers
        self.used = 0
        self.log: list[dict[str, Any]] = []

    def ask(self, question: Question) -> str:
        """The next stored answer to ``question``, or stop the flow to ask it."""
        self.log.append(
            {
                "who": "assistant",
                "text": question.prompt,
                "choices": question.choices,
                "default": question.default,
            }
        )
        if self.used < len(self.answers):
            stored = self.answers[self.used]
            if stored["key"] == question.key:
                value = stored["answer"]
                if stored.get("secret"):
                    held = _secrets.get((self.id, self.used))
                    if held is None:  # this process never saw it: ask again
                        del self.answers[self.used :]
                        raise _NeedAnswer(question)
                    value = held
                self.used += 1
                self.log.append({"who": "me", "text": MASK if stored.get("secret") else value})
                return str(value)
            del self.answers[self.used :]  # the flow changed (catalog, config): ask from here
        raise _NeedAnswer(question)

    def say(self, text: str) -> None:
        """Something the assistant says."""
        self.log.append({"who": "assistant", "text": text})


def _lock(conversation_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(conversation_id, threading.Lock())


def _load(platform: Platform, actor: str, conversation_id: str) -> tuple[dict[str, Any], int]:
    if not conversation_id.startswith("c_") or len(conversation_id) > 40:
        raise NotFoundError(f"no conversation {conversation_id!r}")
    record = platform.store.get_record(NAMESPACE, conversation_id)
    if record is None:
        raise NotFoundError(f"no conversation {conversation_id!r}")
    if record.value.get("actor") != actor:
        # Conversations are private to their author (they may hold draft inputs).
        raise ForbiddenError(f"{actor} may not read conversation {conversation_id}")
    return dict(record.value), record.version


def replay(
    platform: Platform, actor: str, conversation_id: str, value: dict[str, Any]
) -> dict[str, Any]:
    """Run the assistant over the stored answers: what was said, and the question now due."""
    from tfpilot_core.assistant import run_assistant

    conv = ReplayConversation(conversation_id, value["answers"])
    pending = None
    result = None
    try:
        result = run_assistant(platform, actor, conv, proposer=None)
    except _NeedAnswer as need:
        q = need.question
        pending = {
            "key": q.key,
            "prompt": q.prompt,
            "choices": q.choices,
            "default": q.default,
            "secret": q.secret,
        }
        conv.log.pop()  # the question is shown as the form, not twice
    except TfpilotError as exc:
        conv.log.append({"who": "assistant", "text": f"Stopped: {exc.message}"})
    return {
        "log": conv.log,
        "pending": pending,
        "created": result.created.id if result and result.created else None,
        "draft": result.draft.to_dict() if result and result.draft else None,
        "transcript": result.transcript if result else None,
        "answers": conv.answers,
    }


def build_chat_pages() -> APIRouter:
    """``/chat``, ``/chat/new``, ``/chat/c/{id}`` and ``/chat/ask``."""
    from tfpilot_web.pages import _checked_form, page_actor, render

    router = APIRouter(include_in_schema=False)

    def mine(platform: Platform, actor: str) -> list[dict[str, Any]]:
        rows = []
        for record in platform.store.list_records(NAMESPACE, prefix="c_"):
            if record.value.get("actor") == actor:
                rows.append({"id": record.key, **record.value})
        return sorted(rows, key=lambda r: str(r.get("started_at")), reverse=True)[:20]

    @router.get("/chat", response_class=HTMLResponse)
    def chat_page(request: Request, actor: str = Depends(page_actor)) -> HTMLResponse:
        platform = state_of(request).platform
        record = platform.store.get_record(NAMESPACE, f"ask:{actor}")
        history = list(record.value.get("items", [])) if record else []
        from tfpilot_core.ask import EXAMPLES

        return render(
            request,
            "chat.html",
            {"conversations": mine(platform, actor), "history": history, "examples": EXAMPLES},
        )

    @router.post("/chat/new")
    async def new_conversation(request: Request, actor: str = Depends(page_actor)) -> Response:
        await _checked_form(request)
        from tfpilot_core.models import utcnow

        platform = state_of(request).platform
        conversation_id = "c_" + secrets.token_hex(8)
        platform.store.put_record(
            NAMESPACE,
            conversation_id,
            {"actor": actor, "answers": [], "started_at": utcnow().isoformat(), "created": None},
            expected_version=None,
        )
        return RedirectResponse(f"/chat/c/{conversation_id}", status_code=303)

    @router.get("/chat/c/{conversation_id}", response_class=HTMLResponse)
    def conversation_page(
        request: Request, conversation_id: str, actor: str = Depends(page_actor)
    ) -> HTMLResponse:
        platform = state_of(request).platform
        value, _ = _load(platform, actor, conversation_id)
        if value.get("created") or value.get("finished"):
            turn = {
                "log": value.get("log", []),
                "pending": None,
                "created": value.get("created"),
            }
        else:
            with _lock(conversation_id):
                turn = replay(platform, actor, conversation_id, value)
        return render(request, "chat_conversation.html", {"cid": conversation_id, "turn": turn})

    @router.post("/chat/c/{conversation_id}")
    async def answer(
        request: Request, conversation_id: str, actor: str = Depends(page_actor)
    ) -> Response:
        form = await _checked_form(request)
        platform = state_of(request).platform
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(
            take_answer, platform, actor, conversation_id, form.get("key", ""), form
        )
        return RedirectResponse(f"/chat/c/{conversation_id}#now", status_code=303)

    @router.post("/chat/ask", response_class=HTMLResponse)
    async def ask_question(request: Request, actor: str = Depends(page_actor)) -> Response:
        form = await _checked_form(request)
        question = form.get("question", "").strip()[:500]
        if question:
            platform = state_of(request).platform
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(remember_answer, platform, actor, question)
        return RedirectResponse("/chat#ask", status_code=303)

    @router.post("/chat/ask/stream")
    async def ask_stream(request: Request, actor: str = Depends(page_actor)) -> Response:
        """The answer as server-sent events: ``model``, ``model_text``, ``query``, then
        ``answer`` (the turn as the history keeps it) or ``error``, and ``done``."""
        form = await _checked_form(request)
        question = form.get("question", "").strip()[:500]
        platform = state_of(request).platform
        return StreamingResponse(
            answer_events(platform, actor, question),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


def sse(kind: str, data: Any) -> str:
    """One server-sent event (the data as one line of JSON)."""
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


async def answer_events(platform: Platform, actor: str, question: str) -> Any:
    """Answer ``question`` in a worker thread and yield each step as an event as it happens."""
    from starlette.concurrency import run_in_threadpool

    if not question:
        yield sse("error", {"message": "ask a question"})
        yield sse("done", {})
        return
    steps: queue.Queue[tuple[str, Any] | None] = queue.Queue()

    def work() -> None:
        try:
            item = remember_answer(
                platform, actor, question, progress=lambda kind, data: steps.put((kind, data))
            )
            steps.put(("answer", item))
        except TfpilotError as exc:
            steps.put(("error", {"message": exc.message}))
        except Exception:  # logged; the page says only that it failed
            import structlog

            structlog.get_logger("tfpilot.web").exception("ask_failed")
            steps.put(("error", {"message": "the question could not be answered"}))
        finally:
            steps.put(None)

    threading.Thread(target=work, name="tfpilot-ask", daemon=True).start()
    while True:
        step = await run_in_threadpool(steps.get)
        if step is None:
            yield sse("done", {})
            return
        yield sse(*step)


def take_answer(
    platform: Platform, actor: str, conversation_id: str, key: str, form: dict[str, str]
) -> None:
    """Add the answer to the question now due (a stale form's answer is ignored), replay, and
    keep the outcome; the request is created inside the replay only after a "yes"."""
    with _lock(conversation_id):
        value, version = _load(platform, actor, conversation_id)
        if value.get("created") or value.get("finished"):
            return
        turn = replay(platform, actor, conversation_id, value)
        pending = turn["pending"]
        if pending is None or pending["key"] != key:
            return  # answered already (a second tab, a reload): nothing to do
        answers = turn["answers"]
        if len(answers) >= MAX_ANSWERS:
            return
        text = form.get("answer", "")[:MAX_ANSWER]
        if text == "" and pending["default"] not in (None, ""):
            # The default as it was offered: a model's proposal may differ on the next replay.
            text = str(pending["default"])
        if pending["secret"]:
            _secrets[(conversation_id, len(answers))] = text
            answers.append({"key": key, "answer": MASK if text else "", "secret": True})
        else:
            answers.append({"key": key, "answer": text})
        value["answers"] = answers
        after = replay(platform, actor, conversation_id, value)
        if after["pending"] is None:
            # Finished: created, declined, blocked or stopped. The transcript stays with the
            # conversation, and with the id of the request it created.
            value.update(
                created=after["created"],
                finished=True,
                log=after["log"],
                transcript=after["transcript"],
                draft=after["draft"],
                answers=[a if not a.get("secret") else {**a, "answer": MASK} for a in answers],
            )
            for i in range(len(answers)):
                _secrets.pop((conversation_id, i), None)
        platform.store.put_record(
            NAMESPACE, conversation_id, json.loads(json.dumps(value, default=str)),
            expected_version=version,
        )  # fmt: skip


def remember_answer(
    platform: Platform, actor: str, question: str, *, progress: Any = None
) -> dict[str, Any]:
    """Answer ``question`` as ``actor`` and keep it in their ask history (newest first);
    ``progress`` is told each step (:data:`tfpilot_core.ask.answer.Progress`)."""
    from tfpilot_core.ask import ask
    from tfpilot_core.models import utcnow

    answer = ask(platform, actor, question, progress=progress)
    data = answer.to_dict()
    result = data.get("result") or {}
    item = {
        "question": question,
        "answered": answer.answered,
        "answer": answer.text,
        "query": json.dumps(data.get("query"), indent=2) if data.get("query") else None,
        "suggestions": answer.suggestions,
        "requests": [r.get("id") for r in result.get("rows") or [] if isinstance(r, dict)][:50],
        "answered_by": answer.answered_by,
        "at": utcnow().isoformat(),
    }
    key = f"ask:{actor}"
    for _ in range(5):
        record = platform.store.get_record(NAMESPACE, key)
        items = list(record.value.get("items", [])) if record else []
        try:
            platform.store.put_record(
                NAMESPACE,
                key,
                {"actor": actor, "items": [item, *items][:ASK_HISTORY]},
                expected_version=record.version if record else None,
            )
            break
        except TfpilotError:
            continue
    return item
