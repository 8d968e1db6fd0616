"""``tfpilot serve`` runs uvicorn with httptools and uvloop where they are installed (the web
plugin depends on both), and falls back to h11 and asyncio where they are not (issue 31)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from .serve_support import free_port
from .test_tokens import _entry
from .test_tokens import cli as cli  # the fixture: a home with root and dev


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_serve_gives_uvicorn_httptools_and_uvloop(
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    seen: dict[str, Any] = {}

    def run(app: Any, **kwargs: Any) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", run)
    result = CliRunner().invoke(_entry, ["serve", "--port", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "httptools, uvloop" in result.output
    # What uvicorn makes of the options `tfpilot serve` gives it.
    app = seen.pop("app")
    config = uvicorn.Config(app, **seen)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    import uvloop

    assert config.get_loop_factory() is uvloop.new_event_loop
    assert seen["proxy_headers"] is False  # unchanged: the app decides the client address


#: ``tfpilot serve`` in a process where neither httptools nor uvloop can be imported.
WITHOUT = """
import sys
sys.modules["httptools"] = None
sys.modules["uvloop"] = None
from tfpilot_core.cli import main
main(["serve", "--port", sys.argv[1], "--log-level", "warning"])
"""


def test_serve_falls_back_to_h11_and_asyncio(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text('[users.admin]\nrole = "admin"\n')
    env = {**os.environ, "TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")}
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", WITHOUT, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert "(API docs at /docs; h11, asyncio)" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in log.read_text()
