"""HTTP API and web UI: listing 1,000 requests over HTTP against ``Platform.list`` in process,
``GET /api/requests/{id}`` against the same read in process (one client, then 20 concurrent
clients: see :func:`request_read`), the p95 latency of the request page under 20 concurrent
clients, and the metrics dashboard page (``/metrics``) against ``tfpilot metrics --json`` on the
same store.

    .venv/bin/python bench/api.py [--requests 1000] [--clients 20] [--per-client 25]
                                  [--metrics-requests 10000 | --skip-metrics]
                                  [--read-calls 300] [--read-seconds 5] [--skip-review]
                                  [--read-only] [--skip-floors]

``GET /api/requests/{id}`` is also measured, by the same client code against the same
in-process read, on floors: servers of the same process model (uvicorn with ``tfpilot serve``'s
options, in their own process) serving the same body with the least code (a bare FastAPI app,
one ``async`` route, then one plain ``def`` route run in a worker thread as tfpilot's is, then a
raw ASGI callable), and a reference route making the read itself without tfpilot's layers
(see :func:`floor_server`). ``--read-only`` measures only that read and its floors.

A fresh tfpilot home (embedded store, the sandbox module catalog) gets ``--requests`` requests;
``tfpilot serve`` runs as its own process on 127.0.0.1 (so client and server do not share a
GIL). Target: listing over HTTP at most 1.5x the in-process ``Platform.list`` (the HTTP side also
masks each request through ``platform.view`` and encodes JSON).

The metrics page is measured on its own home holding ``--metrics-requests`` requests (created
over three environments and five projects, by the platform): a GET of ``/metrics`` over HTTP
(computed, charted and rendered as HTML) against a run of ``tfpilot metrics --json`` (the command
people run, process start included), both after the rollup is up to date. Target: at most 1.5x.

The request page of a plan of ``--review-resources`` resources (default 500, real Terraform) is
measured against the page of a 1-resource plan: its size (target: at most 1 MB) and its render
time (``bench/review_page.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

CONFIG = """
[users.root]
role = "admin"
[users.alice]
role = "developer"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _median_seconds(func: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=25)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--metrics-requests", type=int, default=10_000)
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    parser.add_argument("--review-resources", type=int, default=500)
    parser.add_argument("--skip-review", action="store_true")
    parser.add_argument("--read-calls", type=int, default=300)
    parser.add_argument("--read-seconds", type=float, default=5.0)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="of the listing part, only GET /api/requests/{id} and its floors",
    )
    parser.add_argument("--skip-floors", action="store_true")
    # Internal: run one floor server (see floor_server), started by read_floors.
    parser.add_argument("--floor-server", choices=sorted(FLOORS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        floor_server(args.floor_server, args.port, args.body_file.read_bytes())
        return
    if not args.skip_list:
        list_and_request_page(args)
    if not args.skip_metrics:
        metrics_page(args)
    if not args.skip_review:
        # The request page of a large plan: size and render time (bench/review_page.py).
        from review_page import run as review_page

        review_page(args.review_resources, args.runs)


def _serve(environ: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tfpilot"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return server, f"http://127.0.0.1:{port}"


def metrics_page(args: argparse.Namespace) -> None:
    """``GET /metrics`` against ``tfpilot metrics --json`` on a store of many requests."""
    import httpx

    from tfpilot_core.platform import Platform
    from tfpilot_web.auth import create_token

    home = Path(tempfile.mkdtemp(prefix="tfpilot-bench-metrics-"))
    config = home / "tfpilot.toml"
    config.write_text(CONFIG)
    environ = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "HOME": str(home),
    }
    platform = Platform.from_config(environ=environ)
    envs = [e.key for e in platform.config.core.environments][:3]
    started = time.perf_counter()
    for i in range(args.metrics_requests):
        platform.create(
            "root",
            module="sandbox/bucket",
            environment=envs[i % len(envs)],
            project=f"p{i % 5}",
            inputs={"name": f"m{i}"},
        )
    print(
        f"metrics: created {args.metrics_requests} requests in "
        f"{time.perf_counter() - started:.1f} s"
    )
    token, _ = create_token(platform, "root", user="root")
    cli = [str(Path(sys.executable).parent / "tfpilot"), "--as", "root", "metrics", "--json"]

    def command() -> None:
        subprocess.run(cli, env=environ, check=True, stdout=subprocess.DEVNULL)

    server, base = _serve(environ)
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client:
            for _ in range(100):
                try:
                    client.get("/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)

            def page() -> None:
                response = client.get("/metrics", headers={"accept": "text/html"})
                response.raise_for_status()
                assert "<svg" in response.text

            from tfpilot_core.metrics import metrics

            def in_process() -> None:
                metrics(platform.store, since=timedelta(days=7))

            command()  # the rollup folds every event once, here
            page()  # warm up (imports, templates)
            cli_times, page_times, local_times = [], [], []
            for _ in range(max(3, args.runs // 3)):
                cli_times.append(_median_seconds(command, 1))
                page_times.append(_median_seconds(page, 1))
                local_times.append(_median_seconds(in_process, 1))
            cli_s, page_s = statistics.median(cli_times), statistics.median(page_times)
            local_s = statistics.median(local_times)
            print(
                f"metrics page, {args.metrics_requests} requests: GET /metrics "
                f"{page_s * 1000:.0f} ms, tfpilot metrics --json {cli_s * 1000:.0f} ms "
                f"({page_s / cli_s:.2f}x; target <= 1.5x); the report alone in process "
                f"{local_s * 1000:.0f} ms (the page computes it per environment, module and "
                f"project and per day of the window, and renders the charts)"
            )
    finally:
        server.terminate()
        server.wait(10)


def list_and_request_page(args: argparse.Namespace) -> None:
    """Listing over HTTP against in process, and the request page under concurrent clients."""

    import httpx

    from tfpilot_core.models import RequestQuery
    from tfpilot_core.platform import Platform
    from tfpilot_web.auth import create_token

    home = Path(tempfile.mkdtemp(prefix="tfpilot-bench-api-"))
    config = home / "tfpilot.toml"
    config.write_text(CONFIG)
    environ = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "HOME": str(home),
    }
    platform = Platform.from_config(environ=environ)
    started = time.perf_counter()
    for i in range(args.requests):
        platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="bench",
            inputs={"name": f"b{i}"},
        )
    print(f"created {args.requests} requests in {time.perf_counter() - started:.1f} s")
    token, _ = create_token(platform, "root", user="alice")
    query = RequestQuery(limit=args.requests)
    assert len(platform.list("alice", query).items) == args.requests

    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tfpilot"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    read_figures: list[ReadFigures] = []
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for _ in range(100):
                try:
                    client.get("/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)

            def over_http() -> None:
                response = client.get("/api/requests", params={"limit": args.requests})
                response.raise_for_status()
                assert len(response.json()["items"]) == args.requests

            def over_http_raw() -> None:
                # The body as received, not decoded: what the server and the transport cost.
                response = client.get("/api/requests", params={"limit": args.requests})
                response.raise_for_status()
                assert response.content.startswith(b'{"items":[')

            if not args.read_only:
                over_http()  # warm up (catalog load, imports)
                # Interleaved, so that load from other processes falls on both sides alike.
                local_times, http_times, raw_times = [], [], []
                for _ in range(args.runs):
                    local_times.append(_median_seconds(lambda: platform.list("alice", query), 1))
                    http_times.append(_median_seconds(over_http, 1))
                    raw_times.append(_median_seconds(over_http_raw, 1))
                in_process = statistics.median(local_times)
                http = statistics.median(http_times)
                raw = statistics.median(raw_times)
                print(
                    f"list {args.requests}: in process {in_process * 1000:.0f} ms; over HTTP "
                    f"{raw * 1000:.0f} ms received ({raw / in_process:.2f}x), "
                    f"{http * 1000:.0f} ms received and JSON-decoded by the client "
                    f"({http / in_process:.2f}x); target <= 1.5x"
                )

            request_id = platform.list("alice", RequestQuery(limit=1)).items[0].id
            served, body = request_read(args, platform, base, token, request_id)
            read_figures.append(served)
            if not args.read_only:
                request_page(args, base, headers, request_id)
    finally:
        server.terminate()
        server.wait(10)
    if not args.skip_floors:
        # After tfpilot's server has stopped: each floor runs alone, as it did.
        read_figures += read_floors(args, platform, request_id, body, environ)
    print_read_table(args, read_figures, len(body))


def request_page(
    args: argparse.Namespace, base: str, headers: dict[str, str], request_id: str
) -> None:
    """The p95 latency of the request page (HTML) under ``--clients`` concurrent clients."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client_loop() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as own:
            for _ in range(args.per_client):
                t0 = time.perf_counter()
                response = own.get(f"/requests/{request_id}")
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        errors.append(str(response.status_code))

    threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"request page, {args.clients} concurrent clients x {args.per_client}: "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"{len(latencies) / wall:.0f} pages/s, errors {len(errors)}"
    )


class ReadFigures:
    """One target's ``GET /api/requests/{id}`` figures against the in-process read."""

    def __init__(
        self, label: str, local: float, http: float, local_rate: float, http_rate: float
    ) -> None:
        self.label = label
        self.local, self.http = local, http
        self.local_rate, self.http_rate = local_rate, http_rate

    @property
    def one(self) -> float:
        """One client: HTTP median over in-process median."""
        return self.http / self.local

    @property
    def many(self) -> float:
        """Concurrent clients: in-process reads per second over HTTP requests per second."""
        return self.local_rate / self.http_rate


def request_read(
    args: argparse.Namespace,
    platform: object,
    base: str,
    token: str,
    request_id: str,
    label: str = "tfpilot serve",
) -> tuple[ReadFigures, bytes]:
    """``GET /api/requests/{id}`` against the same read in process, one client then many.

    In process: ``platform.view(platform.read(actor, id))`` (authorised read, the public JSON
    form). Over HTTP: a keep-alive ``http.client`` connection per client (the standard
    library's, the cheapest Python client, so that the figure is the server's cost more than the
    client's), bearer token, the body read in full. One client: medians of alternated single
    calls. ``--clients`` clients (threads, each its own connection): requests per second over
    HTTP against reads per second in process (one thread: the GIL serialises threads anyway).
    Targets: at most 2x one client, at most 3x less throughput under the concurrent clients.
    The same function measures the floors (:func:`read_floors`): only ``base`` differs.
    Returns the figures and the body served (the floors serve the same bytes).
    """
    import http.client
    from urllib.parse import urlsplit

    p: Any = platform
    where = urlsplit(base)
    path = f"/api/requests/{request_id}"
    headers = {"Authorization": f"Bearer {token}"}
    bodies: list[bytes] = []

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)

    def get(connection: http.client.HTTPConnection) -> None:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        if not bodies:
            bodies.append(body)

    def in_process() -> None:
        p.view(p.read("alice", request_id))

    one = connect()
    for _ in range(50):  # warm up both sides
        get(one)
        in_process()
    local_times, http_times = [], []
    for _ in range(args.read_calls):
        local_times.append(_median_seconds(in_process, 1))
        http_times.append(_median_seconds(lambda: get(one), 1))
    one.close()
    local, over_http = statistics.median(local_times), statistics.median(http_times)
    verdict = "within" if over_http / local <= 2 else "ABOVE"
    print(
        f"{label}: GET /api/requests/{{id}}, one client, {args.read_calls} alternated calls: "
        f"in process {local * 1000:.3f} ms, over HTTP {over_http * 1000:.3f} ms (median): "
        f"{over_http / local:.2f}x (target at most 2: {verdict})"
    )

    counts = [0] * args.clients
    stop = threading.Event()
    failures: list[str] = []

    def client(slot: int) -> None:
        connection = connect()
        try:
            while not stop.is_set():
                get(connection)
                counts[slot] += 1
        except Exception as exc:  # reported below: a failed request must not pass unseen
            failures.append(repr(exc))
        finally:
            connection.close()

    local_rate_times = []
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every client connected and busy
    done_before = sum(counts)
    started = time.perf_counter()
    time.sleep(args.read_seconds)
    done = sum(counts) - done_before
    http_rate = done / (time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join()
    # In process right after, on the same (now idle) server side of the machine.
    for _ in range(args.read_calls):
        local_rate_times.append(_median_seconds(in_process, 1))
    local_rate = 1 / statistics.median(local_rate_times)
    ratio = local_rate / http_rate
    verdict = "within" if ratio <= 3 and not failures else "ABOVE"
    print(
        f"{label}: GET /api/requests/{{id}}, {args.clients} concurrent clients for "
        f"{args.read_seconds:.0f} s: {http_rate:.0f} requests/s over HTTP against "
        f"{local_rate:.0f} reads/s in process: "
        f"{ratio:.2f}x less (target at most 3: {verdict}); failures {len(failures)}"
    )
    if failures:
        raise RuntimeError(f"{label}: {len(failures)} failed clients, first: {failures[0]}")
    return ReadFigures(label, local, over_http, local_rate, http_rate), bodies[0]


#: The floors: the least any Python server of the same process model costs per request.
FLOORS = {
    "fastapi": "floor: bare FastAPI, one async route",
    "fastapi-sync": "floor: bare FastAPI, one sync route (a worker-thread hop)",
    "asgi": "floor: raw ASGI callable",
    # Not a floor of the server, a reference for tfpilot's own layers: the same read as the
    # in-process figure, in a plain sync route (no credentials, no middleware, no view cache).
    "fastapi-read": "reference: bare FastAPI sync route doing the read itself",
}


def floor_server(kind: str, port: int, body: bytes) -> None:
    """Serve ``body`` at ``GET /api/requests/{id}`` with the least server code (a floor).

    uvicorn as ``tfpilot serve`` runs it (same options: :func:`tfpilot_web.serving.
    uvicorn_options`), in its own process, with no middleware, no store and no credentials
    checked: ``fastapi`` one ``async def`` route returning the fixed bytes, ``fastapi-sync``
    the same as a plain ``def`` (FastAPI runs it in a worker thread, as tfpilot's route is
    run), ``asgi`` a bare ASGI callable answering every request with them; ``fastapi-read``
    (a reference, not a floor) a plain ``def`` route making the in-process read itself
    (``platform.view(platform.read(...))``, JSON-encoded), on the bench's home.
    """
    import uvicorn

    from tfpilot_web.serving import uvicorn_options

    application: Any
    if kind == "asgi":

        async def raw(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        application = raw
    else:
        from fastapi import FastAPI, Response

        application = FastAPI()
        if kind == "fastapi":

            @application.get("/api/requests/{request_id}")
            async def show(request_id: str) -> Response:
                return Response(body, media_type="application/json")

        elif kind == "fastapi-sync":

            @application.get("/api/requests/{request_id}")
            def show_sync(request_id: str) -> Response:
                return Response(body, media_type="application/json")

        else:
            from pydantic_core import to_json

            from tfpilot_core.platform import Platform

            platform = Platform.from_config()

            @application.get("/api/requests/{request_id}")
            def show_read(request_id: str) -> Response:
                found = platform.view(platform.read("alice", request_id))
                return Response(to_json(found), media_type="application/json")

    uvicorn.run(application, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options())


def read_floors(
    args: argparse.Namespace,
    platform: object,
    request_id: str,
    body: bytes,
    environ: dict[str, str],
) -> list[ReadFigures]:
    """The same measurement (:func:`request_read`, same client code, same in-process read)
    against each floor server of :data:`FLOORS`, each its own process serving ``body``."""
    body_file = Path(tempfile.mkdtemp(prefix="tfpilot-bench-floor-")) / "body.json"
    body_file.write_bytes(body)
    figures = []
    for kind, label in FLOORS.items():
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--floor-server",
                kind,
                "--port",
                str(port),
                "--body-file",
                str(body_file),
            ],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(port, server)
            found, served = request_read(
                args, platform, f"http://127.0.0.1:{port}", "none", request_id, label
            )
            if kind == "fastapi-read":  # the same view, encoded without the server's cache
                assert json.loads(served) == json.loads(body), "the reference must read the same"
            else:
                assert served == body, "the floor must serve the same body"
            figures.append(found)
        finally:
            server.terminate()
            server.wait(10)
    return figures


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError(f"floor server exited: {server.stderr.read()!r}")  # type: ignore[union-attr]
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("floor server did not start")


def print_read_table(args: argparse.Namespace, figures: list[ReadFigures], size: int) -> None:
    """Every target's ratios against the in-process read, side by side."""
    from tfpilot_web.serving import server_stack

    http, loop = server_stack()
    print(
        f"\nGET /api/requests/{{id}} ({size} bytes; uvicorn with {http} and {loop}); ratios "
        "against the in-process read measured alongside each:"
    )
    print(f"{'':60} {'one client (median)':>28} {f'{args.clients} clients (per second)':>36}")
    for f in figures:
        print(
            f"{f.label:60} {f.http * 1000:7.3f} vs {f.local * 1000:.3f} ms {f.one:5.2f}x"
            f" {f.http_rate:7.0f} vs {f.local_rate:6.0f} {f.many:6.2f}x less"
        )
    print(f"{'target':60} {'at most 2x':>28} {'at most 3x less':>36}")


if __name__ == "__main__":
    main()
