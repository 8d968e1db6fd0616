"""A contract check for route providers (``tfpilot_register_routes``), for plugin authors' tests.

>>> from tfpilot_web.testing import check_routes           # doctest: +SKIP
>>> check_routes(platform, my_plugin_module)               # doctest: +SKIP

It mounts the plugin's routes in the real server app and checks what every route provider
must do: a valid, unreserved prefix; ``app(platform)`` giving an ASGI app or an ``APIRouter``;
the server's problem details (not a bare 500) for a path under the prefix that does not exist;
and, for a mounted app with ``public=False``, 401 without credentials.
"""

from __future__ import annotations

from typing import Any

from tfpilot_core.registrations import Routes


def check_routes(platform: Any, *, probe: str = "/__tfpilot_contract_probe__") -> list[Routes]:
    """Check every route mount the platform's plugins register; returns the mounts checked."""
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from tfpilot_web.app import RESERVED_PREFIXES, create_app

    mounts = [routes for _, routes in platform.host.routes()]
    routers: set[str] = set()
    for routes in mounts:
        prefix = routes.prefix.rstrip("/")
        assert prefix.startswith("/") and prefix != "", f"bad prefix {routes.prefix!r}"
        assert not any(prefix == r or prefix.startswith(r + "/") for r in RESERVED_PREFIXES), (
            f"prefix {prefix!r} is reserved by the server"
        )
        target = routes.app(platform)
        if isinstance(target, APIRouter):
            routers.add(prefix)
        assert isinstance(target, APIRouter) or callable(target), (
            f"{prefix}: app(platform) must give an ASGI app or an APIRouter, got {type(target)}"
        )
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        for routes in mounts:
            prefix = routes.prefix.rstrip("/")
            answer = client.get(prefix + probe)
            # A mounted app that is not public refuses anonymous callers before routing; a
            # router's routes carry the auth dependency, so an unknown path is simply 404.
            protected_app = not routes.public and prefix not in routers
            expected = {401} if protected_app else {404, 405}
            assert answer.status_code in expected, (
                f"{prefix}{probe}: expected {sorted(expected)}, got {answer.status_code}"
            )
            assert answer.headers["content-type"].startswith("application/"), (
                f"{prefix}{probe}: not a JSON problem document"
            )
    return mounts
