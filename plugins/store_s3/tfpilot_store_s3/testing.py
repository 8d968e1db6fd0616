"""Test helpers: moto's S3 server on 127.0.0.1 and a fault-injecting HTTP proxy in front of it.

Needs the ``test`` extra (``moto[server]``); imported only by tests and ``bench/store_s3.py``.

Why the server serialises writes: moto checks ``If-Match``/``If-None-Match`` and then stores the
object as two separate steps with no lock between them, and its threaded server runs requests
concurrently, so two conditional PUTs can both pass the check (real S3 decides the condition and
the write atomically). :class:`MotoS3Server` therefore runs mutating requests (PUT, POST, DELETE)
one at a time, reads stay concurrent. ``serialize_writes=False`` gives moto as shipped.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tfpilot_core.testing.http import StandInServer

__all__ = ["Fault", "FaultProxy", "MotoS3Server", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _SerializedWrites:
    """WSGI middleware: one mutating request at a time (see the module documentation)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with self.lock:
                # The body is produced inside the lock too: moto's response is a list already.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class MotoS3Server:
    """moto's threaded server on 127.0.0.1 and a free port: a real HTTP S3 endpoint."""

    def __init__(self, *, serialize_writes: bool = True, port: int | None = None) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self.port = port or free_port()
        serialize = serialize_writes

        class _Server(ThreadedMotoServer):
            # ThreadedMotoServer builds its WSGI app inside this method; the override only wraps
            # it (and is otherwise moto's own code).
            def _server_entry(self) -> None:
                app: Any = DomainDispatcherApplication(create_backend_app)
                if serialize:
                    app = _SerializedWrites(app)
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = _Server(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3Server:
        """Start serving in a daemon thread; returns self."""
        # werkzeug logs every request at INFO: thousands of lines in a benchmark.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop the server and join its thread."""
        self._server.stop()


@dataclass
class Fault:
    """What the proxy does to the next ``times`` requests that match.

    ``action`` is ``"status"`` (answer ``status`` with an S3 error ``code``, never forwarding),
    ``"drop_mid_body"`` (forward the headers and half the body to the server, then close both
    connections) or ``"drop_after_forward"`` (forward the whole request, let the server answer,
    then close the client's connection without the answer).
    """

    action: str
    times: int = 1
    method: str | None = None
    path_contains: str | None = None
    status: int = 503
    code: str = "SlowDown"
    headers: dict[str, str] = field(default_factory=dict)
    #: Called after the request was forwarded and before the answer is dropped
    #: (``drop_after_forward``): a place for a competing write in between.
    after: Callable[[], None] | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request of ``method`` on ``path`` is one this fault is meant for."""
        return (self.method is None or method == self.method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class Seen:
    """A request that went through the proxy."""

    method: str
    path: str
    headers: dict[str, str]
    fault: str | None
    #: The server's answer (``None`` when the proxy answered or hung up itself).
    status: int | None = None


class FaultProxy:
    """A small HTTP reverse proxy in front of an S3 endpoint that injects faults on demand.

    Real sockets both ways, so botocore's own retry logic (not a mock of it) meets the faults.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.command, self.path)
                seen = Seen(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    fault.action if fault else None,
                )
                with proxy._lock:
                    proxy.seen.append(seen)
                if fault is not None and fault.action == "status":
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?><Error>'
                        f"<Code>{fault.code}</Code><Message>injected {fault.code}</Message>"
                        "</Error>"
                    ).encode()
                    self.send_response(fault.status)
                    for name, value in fault.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                if fault is not None and fault.action == "drop_mid_body":
                    proxy._send_partial(self.command, self.path, self.headers.items(), body)
                    self.close_connection = True
                    return
                status, headers, answer = proxy._forward(
                    self.command, self.path, self.headers.items(), body
                )
                seen.status = status
                if fault is not None and fault.action == "drop_after_forward":
                    if fault.after is not None:
                        fault.after()
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        # The one local HTTP server of the stand-ins (loopback, a free port, a daemon thread).
        self._http = StandInServer(Handler)
        self.port = self._http.port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<proxy port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        """Start serving in a daemon thread; returns self."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()

    def inject(self, fault: Fault) -> None:
        """Apply ``fault`` to the next matching requests."""
        with self._lock:
            self.faults.append(fault)

    def clear(self) -> None:
        """Forget every pending fault and every request seen."""
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body if body else None)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _send_partial(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> None:
        """Send the headers (with the full Content-Length) and half the body, then hang up."""
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as sock:
            lines = [f"{method} {path} HTTP/1.1"]
            lines += [f"{name}: {value}" for name, value in headers]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body[: len(body) // 2])
