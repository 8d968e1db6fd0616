"""Request bodies bounded before they are read, per route, with the caller checked first.

An ASGI middleware for tfpilot's HTTP servers (the web server, the GitHub webhook receiver). A
route reading ``await request.body()`` holds the whole body in memory: a 400 MB POST grew the
server by 1.2 GB before its 401. :class:`BodyLimit` decides each request before any of its body
is read, from what the protocol gives first:

1. the caller: a route that needs an authenticated caller refuses an anonymous one (401), and a
   signed route refuses a request without its signature headers (401), unread;
2. the declared size: a ``Content-Length`` over the route's limit is refused (413), unread;
3. the actual size: a body sent in chunks is counted as the route reads it; past the limit the
   server answers 413 and the route sees the client go away. Nothing over the limit is kept.

A refusal closes the connection (``Connection: close``), so the server reads nothing more of it.
Pure ASGI, no web framework imported: any tfpilot server can use it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class BodyRule:
    """The limit of the routes under ``prefix`` ("" for every route)."""

    prefix: str
    max_bytes: int
    #: Refuse a request with a body from an anonymous caller (``scope["state"]["identity"]``,
    #: set by the identity middleware, which must run outside this one), before reading it.
    authenticated: bool = False
    #: Headers a request with a body must carry (a webhook's signature), checked before reading.
    required_headers: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        """Whether ``path`` is under this rule's prefix."""
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


def rule_for(rules: Sequence[BodyRule], path: str) -> BodyRule | None:
    """The rule of the longest prefix that matches ``path``."""
    found = [rule for rule in rules if rule.matches(path)]
    return max(found, key=lambda rule: len(rule.prefix)) if found else None


async def _refuse(
    send: Send, status: int, detail: str, extra: Sequence[tuple[bytes, bytes]]
) -> None:
    title = {401: "Unauthorized", 413: "Content Too Large"}.get(status, "Refused")
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware enforcing :class:`BodyRule` per route (see the module's docstring)."""

    def __init__(self, app: ASGIApp, rules: Sequence[BodyRule], default_max: int = MIB) -> None:
        self.app = app
        self.rules = list(rules)
        self.default = BodyRule("", default_max)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = rule_for(self.rules, scope.get("path", "")) or self.default
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        declared: int | None = None
        raw_length = headers.get(b"content-length")
        if raw_length is not None:
            try:
                declared = int(raw_length)
            except ValueError:
                await _refuse(send, 400, "Content-Length is not a number", ())
                return
        has_body = bool(declared) or b"transfer-encoding" in headers
        if has_body:
            missing = [h for h in rule.required_headers if h.lower().encode() not in headers]
            if missing:
                await _refuse(send, 401, f"missing {', '.join(missing)}", ())
                return
            if rule.authenticated and not (scope.get("state") or {}).get("identity"):
                await _refuse(
                    send,
                    401,
                    "sign in: send 'Authorization: Bearer <token>' or log in",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
            if declared is not None and declared > rule.max_bytes:
                await _refuse(send, 413, _too_large(rule), ())
                return
        received = 0
        refused = False
        started = False
        complete = not has_body

        async def counted_receive() -> Message:
            nonlocal received, refused, complete
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > rule.max_bytes:
                    refused = True
                    if not started:
                        await _refuse(send, 413, _too_large(rule), ())
                    # The route sees the client leave; what it answers goes nowhere.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                if not complete:
                    # Answered without reading the whole body (a refusal, usually): close the
                    # connection rather than let the server read and discard the rest.
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"connection", b"close")],
                    }
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # After a refusal the route fails on the client having left (starlette raises
            # ClientDisconnect): expected, answered already, nothing to report.
            if not refused:
                raise


def _too_large(rule: BodyRule) -> str:
    return f"the body is over {rule.max_bytes} bytes, the limit of this route"
