"""How ``tfpilot serve`` runs uvicorn: its HTTP parser and event loop.

uvicorn's ``auto`` choices pick httptools (a C HTTP parser) and uvloop (libuv's event loop) when
they import, else h11 and asyncio (pure Python, several times the server's own CPU per request:
issue 31). The web plugin depends on both where they exist (uvloop is not built for Windows), so
the fallback is for platforms without them, or an environment where either fails to import.
"""

from __future__ import annotations

from typing import Any


def uvicorn_options() -> dict[str, Any]:
    """What ``uvicorn.run`` is given for its parser and loop (the same for every tfpilot server)."""
    return {"http": "auto", "loop": "auto"}


def server_stack() -> tuple[str, str]:
    """The HTTP parser and event loop uvicorn's ``auto`` choices pick here, as it decides them
    (``httptools``/``h11``, ``uvloop``/``asyncio``): shown when the server starts."""
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return http, loop
