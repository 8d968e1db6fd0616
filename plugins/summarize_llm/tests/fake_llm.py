"""A local OpenAI-compatible chat completions server for the tests (stdlib ``http.server``).

It checks requests the way the real service does (``POST /v1/chat/completions``, a bearer key,
a JSON body with ``model`` and ``messages``: 401/404/400 otherwise), records the raw body of
every request, and answers according to :attr:`FakeLLM.mode`:

``good``          a correct summary of the FACTS in the prompt (it reads them back)
``fenced``        the same, wrapped in a Markdown code fence
``made_up_address`` / ``made_up_number`` / ``omit_destroy``  a grounded-looking lie
``lie``           the issue's lie: "It deletes <first address> and makes the events bucket
                  public. No policy findings", with claims that say the same
``lie_text_only`` the same text, with honest claims (only the narrative lies)
``contradicting`` honest, but a blocking/mandatory finding claimed as advisory
``invented``      honest, plus an exposure change the plan does not make
``omitting``      honest, but the blocking and mandatory findings left out of the claims
``malformed``     claims of the wrong shape; ``no_claims``: no claims at all
``invalid_json``  prose instead of JSON
``429`` / ``500`` an error status (429 with ``Retry-After``)
``hang``          no answer until the server stops

A request offering ``tools`` (``tfpilot ask`` with a model) is checked like OpenAI checks it
(every tool a ``function`` with a name and an object schema, ``tool_choice`` naming one of them:
400 otherwise) and answered with :attr:`FakeLLM.tool_calls` (``[{"name", "arguments"}]``, the
arguments a raw string, so malformed JSON can be sent). A ``PROPOSE:`` prompt (the assistant's
value proposer) is answered with ``{"value": proposals[input name]}``; a ``FAILURE:`` prompt
(a failed run to explain) with :attr:`FakeLLM.explanation`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tfpilot_core.testing.http import StandInServer

KEY = "sk-test-fake-llm-key-000000000000"


def good_answer(facts: dict[str, Any]) -> dict[str, Any]:
    """A summary that says only what the facts say, citing every address it names."""
    counts = facts["counts"]
    total = sum(counts.values())
    parts = [f"This plan changes {total} resources."]
    cited: list[str] = []
    for change in facts["destructive"]:
        why = change["reason"] or "the configuration changed"
        forced = f" (forced by {', '.join(change['forced_by'])})" if change["forced_by"] else ""
        parts.append(f"It will {change['action']} {change['address']} because {why}{forced}.")
        cited.append(change["address"])
    for change in facts["created"][:3]:
        parts.append(f"It creates {change['address']}.")
        cited.append(change["address"])
    if facts["drift"]:
        parts.append(f"{len(facts['drift'])} resources changed outside Terraform.")
    cost = facts.get("cost")
    direction = "unknown"
    if cost and cost.get("delta"):
        parts.append(f"The monthly cost changes by {cost['delta']} {cost['currency']}.")
        delta = float(cost["delta"])
        direction = "up" if delta > 0 else "down" if delta < 0 else "unchanged"
    destroyed = {c["address"] for c in facts["destructive"]}
    actions: list[dict[str, Any]] = [
        {"address": c["address"], "action": c["action"]} for c in facts["destructive"]
    ]
    actions += [
        {"action": action, "count": count}
        for action, count in facts["counts"].items()
        if action not in ("delete", "replace")
    ]
    # Deletes and replaces are claimed per address above; their counts agree with the list.
    assert len(destroyed) == facts["counts"].get("delete", 0) + facts["counts"].get("replace", 0)
    claims = {
        "actions": actions,
        "findings": [
            {"rule_id": f["rule_id"], "level": f["level"]} for f in facts["finding_rules"]
        ],
        "cost": direction,
        "exposure": [{"address": e["address"], "change": e["change"]} for e in facts["exposure"]],
    }
    return {"text": " ".join(parts), "cited_addresses": cited, "claims": claims}


def lie(facts: dict[str, Any]) -> str:
    """The issue's lie about the first address of the facts."""
    first = (facts["destructive"] + facts["created"] + facts["updated"])[0]["address"]
    return f"It deletes {first} and makes the events bucket public. No policy findings."


class FakeLLM:
    """The server; ``url`` is the ``api_base`` to configure (``http://127.0.0.1:<port>/v1``)."""

    def __init__(self) -> None:
        self.mode = "good"
        #: What a suggestions prompt ("REQUEST:") is answered with.
        self.suggestions: list[dict[str, Any]] = []
        #: The tool calls a request with ``tools`` is answered with (raw argument strings).
        self.tool_calls: list[dict[str, str]] = []
        #: What a ``FAILURE:`` prompt (a failed run to explain) is answered with.
        self.explanation: dict[str, Any] = {}
        #: The module the request assistant's chooser answers with (a name, or None).
        self.choice: str | None = None
        #: What a ``PROPOSE:`` prompt is answered with, by input name (missing: null).
        self.proposals: dict[str, Any] = {}
        self.bodies: list[bytes] = []
        #: How many answers were streamed (a request with ``"stream": true``).
        self.streamed = 0
        self.headers: list[dict[str, str]] = []
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.bodies.append(body)
                fake.headers.append(dict(self.headers.items()))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._send(401, {"error": {"message": "bad key", "type": "auth"}})
                try:
                    request = json.loads(body)
                    messages = request["messages"]
                    model = request["model"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, {"error": {"message": "bad request"}})
                mode = fake.mode
                if mode == "429":
                    return self._send(
                        429, {"error": {"message": "slow down", "type": "rate_limit"}}, retry=True
                    )
                if mode == "500":
                    return self._send(500, {"error": {"message": "boom", "type": "server"}})
                if mode == "hang":
                    fake._stop.wait(60)
                    return None
                if "tools" in request:
                    problem = fake.check_tools(request)
                    if problem:
                        return self._send(400, {"error": {"message": problem}})
                    if request.get("stream") is True:
                        return self._stream(fake.tool_chunks(model))
                    return self._send(200, fake.tool_answer(model))
                content = fake.answer(mode, messages)
                return self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    },
                )

            def _stream(self, chunks: list[dict[str, Any]]) -> None:
                """Server-sent events as OpenAI streams them: one ``data:`` line per chunk,
                then ``data: [DONE]``, each written and flushed as it goes."""
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in chunks:
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                except OSError:
                    pass

            def _send(self, status: int, data: Any, *, retry: bool = False) -> None:
                payload = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if retry:
                        self.send_header("Retry-After", "30")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

        # The one local HTTP server of the stand-ins (loopback, a free port, a daemon thread).
        self.server = StandInServer(Handler)
        self.url = f"{self.server.url}/v1"

    def check_tools(self, request: dict[str, Any]) -> str | None:
        """What OpenAI would refuse in the request's ``tools`` and ``tool_choice`` (or None)."""
        names = []
        for tool in request["tools"] if isinstance(request["tools"], list) else [None]:
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict):
                return "tools must be functions"
            if not function.get("name") or function.get("parameters", {}).get("type") != "object":
                return "a function needs a name and an object schema"
            names.append(function["name"])
        choice = request.get("tool_choice")
        if isinstance(choice, dict) and choice.get("function", {}).get("name") not in names:
            return "tool_choice names a tool that is not offered"
        return None

    def tool_answer(self, model: str) -> dict[str, Any]:
        """A chat completion calling :attr:`tool_calls`."""
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {"name": c["name"], "arguments": c["arguments"]},
                            }
                            for i, c in enumerate(self.tool_calls)
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }

    def tool_chunks(self, model: str, *, piece: int = 6) -> list[dict[str, Any]]:
        """:attr:`tool_calls` as the chunks of a streamed completion: each call's id and name
        first, then its arguments ``piece`` characters at a time, then the finish reason."""
        self.streamed += 1

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        chunks = [chunk({"role": "assistant", "content": None})]
        for i, c in enumerate(self.tool_calls):
            head = {"index": i, "id": f"call_{i}", "type": "function"}
            chunks.append(
                chunk({"tool_calls": [{**head, "function": {"name": c["name"], "arguments": ""}}]})
            )
            text = c["arguments"]
            for start in range(0, len(text), piece):
                part = {"index": i, "function": {"arguments": text[start : start + piece]}}
                chunks.append(chunk({"tool_calls": [part]}))
        chunks.append(chunk({}, "tool_calls"))
        return chunks

    def answer(self, mode: str, messages: list[dict[str, str]]) -> str:
        """The answer's content in ``mode``."""
        user = messages[-1]["content"]
        if user.startswith("PROPOSE:\n"):
            facts = json.loads(user.split("PROPOSE:\n", 1)[1])
            if mode == "invalid_json":
                return "Something nice, maybe."
            return json.dumps({"value": self.proposals.get(facts["input"]["name"])})
        if user.startswith("CHOOSE:\n"):
            json.loads(user.split("CHOOSE:\n", 1)[1])  # the candidates, as JSON
            if mode == "invalid_json":
                return "The bucket, I think."
            return json.dumps({"module": self.choice})
        if user.startswith("FAILURE:\n"):
            json.loads(user.split("FAILURE:\n", 1)[1])  # the failure facts, as JSON
            if mode == "invalid_json":
                return "It probably failed because of the cloud."
            return json.dumps(self.explanation)
        if user.startswith("REQUEST:\n"):
            json.loads(user.split("REQUEST:\n", 1)[1])  # it must be JSON, like the facts
            if mode == "invalid_json":
                return "I would make it cheaper."
            return json.dumps({"suggestions": self.suggestions})
        facts = json.loads(user.split("FACTS:\n", 1)[1])
        answer = good_answer(facts)
        if mode == "invalid_json":
            return "Sure! Here is a summary: everything looks fine."
        if mode == "made_up_address":
            answer["cited_addresses"].append("sandbox_bucket.not_in_the_plan")
        elif mode == "made_up_number":
            answer["text"] += " It also creates 4242 new buckets."
        elif mode == "lie":
            first = (facts["destructive"] + facts["created"] + facts["updated"])[0]["address"]
            answer = {
                "text": lie(facts),
                "cited_addresses": [first],
                "claims": {
                    "actions": [{"address": first, "action": "delete"}],
                    "findings": [],
                    "cost": "unknown",
                    "exposure": [{"address": first, "change": "made_public"}],
                },
            }
        elif mode == "lie_text_only":
            answer["text"] = lie(facts)
        elif mode == "contradicting":
            for claim in answer["claims"]["findings"]:
                if claim["level"] in ("blocking", "mandatory"):
                    claim["level"] = "advisory"
                    break
        elif mode == "invented":
            first = (facts["created"] + facts["updated"])[0]["address"]
            answer["claims"]["exposure"].append({"address": first, "change": "encryption_off"})
        elif mode == "omitting":
            answer["claims"]["findings"] = [
                f
                for f in answer["claims"]["findings"]
                if f["level"] not in ("blocking", "mandatory")
            ]
        elif mode == "malformed":
            answer["claims"] = {"actions": "everything changes", "cost": "sideways"}
        elif mode == "no_claims":
            del answer["claims"]
        elif mode == "omit_destroy":
            destroyed = {c["address"] for c in facts["destructive"]}
            answer = {
                "text": f"This plan changes {sum(facts['counts'].values())} resources.",
                "cited_addresses": [a for a in answer["cited_addresses"] if a not in destroyed],
                "claims": answer["claims"],
            }
        content = json.dumps(answer)
        return f"```json\n{content}\n```" if mode == "fenced" else content

    def prompts(self) -> str:
        """Every request body received, as one string (to search for leaked secrets)."""
        return "\n".join(b.decode("utf-8", "replace") for b in self.bodies)

    def __enter__(self) -> FakeLLM:
        self.server.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self.server.stop()
