"""One base for the local HTTP stand-ins of the tests (Slack, GitHub, S3 faults, LLM, OAuth,
JWKS, OTLP): a real HTTP server on loopback, in a thread, that a test starts and stops.

A stand-in supplies its request handler (a :class:`StandInHandler` subclass: ``do_GET``,
``do_POST``, ... with :meth:`StandInHandler.body`, :meth:`StandInHandler.json_body` and
:meth:`StandInHandler.send_json`; any ``BaseHTTPRequestHandler`` works) and checks what it
receives the way the real service does; this module only runs it::

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            self.send_json(200, {"keys": []})

    with StandInServer(Handler) as server:
        urllib.request.urlopen(server.url + "/jwks")

The handler reaches its stand-in as ``self.server.stand_in`` (set by :class:`StandInServer`).
Only loopback addresses are served: no test sends traffic anywhere else.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["StandInHandler", "StandInServer"]


class StandInHandler(BaseHTTPRequestHandler):
    """A request handler with the helpers every stand-in needs, and no access log on stderr."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is its own (failures show what the stand-in recorded)."""

    @property
    def stand_in(self) -> Any:
        """The :class:`StandInServer` (or subclass) this handler serves."""
        return self.server.stand_in

    def body(self) -> bytes:
        """The request body, by ``Content-Length`` (empty when there is none)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self) -> Any:
        """The request body parsed as JSON (``None`` when empty)."""
        data = self.body()
        return json.loads(data) if data else None

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with ``data`` as a JSON body (and any extra ``headers``)."""
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stand_in: Any = None


class StandInServer:
    """A threaded HTTP server on ``127.0.0.1`` (a free port unless ``port`` is given).

    :meth:`start` returns the server itself, so ``server = MyStandIn().start()`` reads well;
    it is also a context manager that stops on exit.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.stand_in = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
