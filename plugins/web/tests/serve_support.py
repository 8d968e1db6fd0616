"""A real ``tfpilot serve`` process for tests that watch the server from outside (its log, its
memory): the CLI, its logging and uvicorn, with a token for an admin and one more route that has
a bug (``serve_with_a_bug.py``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).parent


@dataclass
class Served:
    """The running server: its address, an admin's token, its log file and its process."""

    base: str
    port: int
    token: str
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(tmp_path: Path, config: str = "") -> Iterator[Served]:
    """Start the server over a fresh home whose configuration adds ``config``; stop it after."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text('[users.admin]\nrole = "admin"\n' + config)
    env = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
        "NO_COLOR": "1",
    }
    env.pop("TFPILOT_USER", None)
    created = subprocess.run(
        [sys.executable, "-c", "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])",
         "--as", "admin", "--json", "tokens", "create", "--user", "admin"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "serve_with_a_bug.py"), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield Served(base, port, token, log, process)
    finally:
        process.terminate()
        process.wait(timeout=20)
