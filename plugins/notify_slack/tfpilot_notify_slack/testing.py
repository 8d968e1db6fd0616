"""A local stand-in for Slack that checks requests the way Slack does (for tests).

``SlackStandIn`` serves ``POST /api/chat.postMessage`` (bot token) and ``POST /hooks/<name>``
(incoming webhooks) on 127.0.0.1 and a free port. It checks the JSON shape, block types, Slack's
limits (3,000 characters per section text, 150 per header, 10 fields of 2,000, 50 blocks, 25
buttons, 40,000 characters of ``text``) and answers with Slack's own error bodies:
``invalid_auth``, ``channel_not_found``, ``invalid_blocks``, ``msg_too_long``, ``no_text``.
It also records *pings*: unescaped ``<!channel>``, ``<@U...>`` or ``<http...|...>`` in mrkdwn,
which Slack would turn into a mention or a link. ``fail`` makes it answer 429 (with
``Retry-After``), 500, hang, or refuse connections (``down``), for the next N requests or all.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tfpilot_core.testing.http import StandInServer

BLOCK_TYPES = {
    "section",
    "header",
    "context",
    "actions",
    "divider",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
}
_PING = re.compile(r"<[!@#]|<(https?|mailto):")


@dataclass
class Posted:
    """One accepted message."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    via: str = "api"


@dataclass
class SlackStandIn:
    """The server; use as a context manager. ``messages`` holds what was accepted."""

    token: str = "xoxb-test-token"
    channels: set[str] = field(default_factory=lambda: {"#prod-changes", "#dev", "C0123"})
    webhooks: set[str] = field(default_factory=lambda: {"ops"})
    messages: list[Posted] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    pings: list[str] = field(default_factory=list)
    #: What was posted to a ``response_url`` (``POST /actions/<id>``): messages updated in place.
    updates: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    #: ``None``, ``"429"``, ``"500"``, ``"hang"`` or ``"down"``.
    mode: str | None = None
    #: How many requests the mode applies to (``None``: until changed).
    mode_count: int | None = None
    retry_after: int = 1
    hang_seconds: float = 30.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: StandInServer | None = None

    # -- control -------------------------------------------------------------------------------

    def fail(self, mode: str | None, count: int | None = None) -> None:
        """Fail the next ``count`` requests (all with ``None``) with ``mode``."""
        with self._lock:
            self.mode, self.mode_count = mode, count
        if mode == "down":
            self.stop()
        elif self._server is None:
            self.start()

    @property
    def base_url(self) -> str:
        """The Web API base URL (``WebClient(base_url=...)``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "T0/1/x") -> str:
        """A ``response_url`` as Slack puts in a button click's payload."""
        return f"http://127.0.0.1:{self.port}/actions/{name}"

    def webhook_url(self, name: str = "ops") -> str:
        """An incoming webhook URL."""
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def start(self) -> SlackStandIn:
        """Listen on 127.0.0.1 (the same port again after ``down``)."""
        port = getattr(self, "port", 0)
        # The one local HTTP server of the stand-ins (loopback, a daemon thread).
        self._server = StandInServer(_handler(self), port=port).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- checks --------------------------------------------------------------------------------

    def _take_mode(self) -> str | None:
        with self._lock:
            self.requests += 1
            mode = self.mode
            if mode is not None and self.mode_count is not None:
                self.mode_count -= 1
                if self.mode_count <= 0:
                    self.mode, self.mode_count = None, None
            return mode

    def check(self, body: dict[str, Any]) -> str | None:
        """Slack's error code for ``body``, or ``None`` when Slack would accept it."""
        text = body.get("text")
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return "invalid_blocks_format"
        if not text and not blocks:
            return "no_text"
        if text is not None and (not isinstance(text, str) or len(text) > 40_000):
            return "msg_too_long"
        if blocks is None:
            self._scan(str(text))
            return None
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for block in blocks:
            if not self._block_ok(block):
                return "invalid_blocks"
        if text:
            self._scan(text)
        return None

    def _scan(self, mrkdwn: str) -> None:
        if _PING.search(mrkdwn):
            self.pings.append(mrkdwn)

    def _text_ok(self, obj: Any, limit: int, *, plain_only: bool = False) -> bool:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            return False
        if plain_only and obj["type"] != "plain_text":
            return False
        text = obj.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= limit:
            return False
        if obj["type"] == "mrkdwn":
            self._scan(text)
        return True

    def _block_ok(self, block: Any) -> bool:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return False
        kind = block["type"]
        if kind == "header":
            return self._text_ok(block.get("text"), 150, plain_only=True)
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                return False
            if text is not None and not self._text_ok(text, 3000):
                return False
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    return False
                return all(self._text_ok(f, 2000) for f in fields)
            return True
        if kind == "context":
            elements = block.get("elements")
            return (
                isinstance(elements, list)
                and 1 <= len(elements) <= 10
                and all(self._text_ok(e, 3000) for e in elements)
            )
        if kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                return False
            for element in elements:
                if not isinstance(element, dict) or element.get("type") != "button":
                    return False
                if not self._text_ok(element.get("text"), 75, plain_only=True):
                    return False
                url = element.get("url")
                if url is not None and (not isinstance(url, str) or len(url) > 3000):
                    return False
                value, action = element.get("value"), element.get("action_id")
                if value is not None and (not isinstance(value, str) or len(value) > 2000):
                    return False
                if action is not None and (not isinstance(action, str) or len(action) > 255):
                    return False
                if element.get("style") not in (None, "primary", "danger"):
                    return False
            return True
        if kind == "input":
            element = block.get("element")
            return (
                self._text_ok(block.get("label"), 2000, plain_only=True)
                and isinstance(element, dict)
                and isinstance(element.get("type"), str)
                and len(str(block.get("block_id", ""))) <= 255
            )
        return kind == "divider" or kind in BLOCK_TYPES


def _handler(stand_in: SlackStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # quiet in tests
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(status)
            ctype = "application/json" if not isinstance(body, str) else "text/plain"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            mode = stand_in._take_mode()
            webhook = self.path.startswith("/hooks/")
            if mode == "hang":
                time.sleep(stand_in.hang_seconds)
                return
            if mode == "429":
                error: Any = "rate_limited" if webhook else {"ok": False, "error": "ratelimited"}
                self._reply(429, error, {"Retry-After": str(stand_in.retry_after)})
                return
            if mode == "500":
                self._reply(
                    500, "internal_error" if webhook else {"ok": False, "error": "fatal_error"}
                )
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._reply(
                    400, "invalid_payload" if webhook else {"ok": False, "error": "invalid_json"}
                )
                return
            if self.path.startswith("/actions/"):
                # A button click's response_url: replaces (or answers below) the message.
                error = stand_in.check(body) if body.get("blocks") else None
                if error:
                    stand_in.rejected.append((self.path, error))
                    self._reply(400, error)
                    return
                stand_in.updates.append({"path": self.path, **body})
                self._reply(200, "ok")
                return
            if webhook:
                name = self.path.removeprefix("/hooks/")
                if name not in stand_in.webhooks:
                    self._reply(404, "no_service")
                    return
                error = stand_in.check(body)
                if error:
                    stand_in.rejected.append((f"webhook:{name}", error))
                    self._reply(400, error)
                    return
                stand_in.messages.append(
                    Posted(
                        f"webhook:{name}",
                        body.get("text", ""),
                        body.get("blocks") or [],
                        via="webhook",
                    )
                )
                self._reply(200, "ok")
                return
            if self.path != "/api/chat.postMessage":
                self._reply(404, {"ok": False, "error": "unknown_method"})
                return
            if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                self._reply(200, {"ok": False, "error": "invalid_auth"})
                return
            channel = str(body.get("channel", ""))
            if channel not in stand_in.channels and not re.fullmatch(r"U[A-Z0-9]{2,20}", channel):
                stand_in.rejected.append((channel, "channel_not_found"))
                self._reply(200, {"ok": False, "error": "channel_not_found"})
                return
            error = stand_in.check(body)
            if error:
                stand_in.rejected.append((channel, error))
                self._reply(200, {"ok": False, "error": error})
                return
            blocks = body.get("blocks") or []
            stand_in.messages.append(
                Posted(channel, body.get("text", ""), blocks, body.get("metadata"))
            )
            self._reply(200, {"ok": True, "channel": channel, "ts": f"{time.time():.6f}"})

    return Handler
