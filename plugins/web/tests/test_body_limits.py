"""Bodies are bounded before they are read: a real server's memory stays within 50 MB of its idle
size while 400 MB bodies are refused on every route (issue 27 item 3).

The client streams each body from a socket in 1 MiB chunks (nothing buffered on its side), both
with a declared ``Content-Length`` and chunked; the server's resident memory is sampled from
``/proc`` meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .serve_support import Served, serve

MB = 1024 * 1024
BODY = 400 * MB
CHUNK = b"\0" * MB

pytestmark = pytest.mark.slow


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def stream(port: int, path: str, headers: dict[str, str], *, chunked: bool) -> tuple[int, int]:
    """POST a 400 MB body to ``path`` in 1 MiB writes; the status and the bytes sent.

    Stops sending when the server closes the connection (what a refusal does)."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}")
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < BODY:
                if chunked:
                    sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
                else:
                    sock.sendall(CHUNK)
                sent += len(CHUNK)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, sent


def _statuses(expected: int | tuple[int, ...]) -> tuple[int, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = '[plugins.web]\nslack_signing_secret = "slack-signing-secret-for-tests"\n'
    with serve(tmp_path, config) as running:
        yield running


def test_400_mb_bodies_are_refused_on_every_route_within_50_mb(served: Served) -> None:
    bearer = {"Authorization": f"Bearer {served.token}"}
    slack = {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1"}
    cases: list[tuple[str, dict[str, str], int | tuple[int, ...]]] = [
        # (route, headers, the refusal expected)
        ("/api/requests", {}, 401),  # anonymous: refused unread
        ("/api/requests", bearer, 413),
        ("/api/ask", bearer, 413),
        ("/api/templates", bearer, 413),
        ("/requests/req_x/approve", {}, (413, 401)),  # a page form: too large, or no session
        ("/login", {}, (413, 403)),  # chunked: the form's CSRF check may refuse it first
        ("/integrations/slack/interactivity", {}, 401),  # no signature: refused unread
        ("/integrations/slack/interactivity", slack, 413),
        ("/api/test-bug", bearer, 413),  # a route that reads every body it gets
    ]
    pid = served.process.pid
    time.sleep(1.0)
    idle = rss(pid)
    peak = idle
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = []
    try:
        for path, headers, expected in cases:
            for chunked in (False, True):
                status, sent = stream(served.port, path, headers, chunked=chunked)
                results.append((path, chunked, status, expected, sent // MB))
    finally:
        done.set()
        sampler.join()
    wrong = [r for r in results if r[2] not in _statuses(r[3]) or r[4] * MB >= BODY]
    assert not wrong, f"(route, chunked, status, expected, MB sent): {wrong}"
    grown = (peak - idle) / MB
    print(f"idle RSS {idle / MB:.1f} MB, peak {peak / MB:.1f} MB (+{grown:.1f} MB); {results}")
    assert grown < 50, f"the server grew by {grown:.1f} MB"
    assert served.process.poll() is None
