"""Routes contributed through ``tfpilot_register_routes``: mounted under their prefix, with the
server's authentication and problem details."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient

from tfpilot_core.errors import NotFoundError, PluginError
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration, Routes
from tfpilot_core.testing import plugin_with
from tfpilot_web import create_app

from .conftest import bearer


def _sub_app(platform: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/events")
    def events(request: Request) -> dict[str, Any]:
        return {"actor": request.state.actor}

    @app.get("/missing")
    def missing() -> None:
        raise NotFoundError("no such delivery")

    return app


def _router(platform: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/hello")
    def hello(request: Request) -> dict[str, Any]:
        return {"hello": request.state.actor}

    return router


def _register(register_plugin: Any, *routes: Routes) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_routes",
            lambda: [
                Registration(name=f"r{i}", factory=lambda s, c, r=r: r)
                for i, r in enumerate(routes)
            ],
        ),
        name="third_party",
    )


def test_apps_and_routers_are_mounted_with_auth_and_problems(
    platform: Platform, register_plugin: Any, tokens: dict[str, str]
) -> None:
    _register(
        register_plugin,
        Routes(prefix="/hooks/thing", app=_sub_app),
        Routes(prefix="/pages/extra", app=_router, public=False),
    )
    with TestClient(create_app(platform)) as client:
        # A public app: reachable without credentials, and it sees who called when someone did.
        assert client.post("/hooks/thing/events").json() == {"actor": None}
        signed_in = client.post("/hooks/thing/events", headers=bearer(tokens["dev"]))
        assert signed_in.json() == {"actor": "dev"}
        # The server's error handling applies inside the mounted app.
        missing = client.get("/hooks/thing/missing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        # A router with public=False: 401 without credentials, the actor with them.
        assert client.get("/pages/extra/hello").status_code == 401
        hello = client.get("/pages/extra/hello", headers=bearer(tokens["viv"]))
        assert hello.json() == {"hello": "viv"}
        # Routers join the server's OpenAPI description.
        assert "/pages/extra/hello" in client.get("/openapi.json").json()["paths"]


def test_reserved_prefixes_are_refused(platform: Platform, register_plugin: Any) -> None:
    _register(register_plugin, Routes(prefix="/api/mine", app=_router))
    with pytest.raises(PluginError, match=r"third_party.*reserved"):
        create_app(platform)


def test_route_contract_check(
    platform: Platform, register_plugin: Any, tokens: dict[str, str]
) -> None:
    from tfpilot_web.testing import check_routes

    _register(
        register_plugin,
        Routes(prefix="/hooks/thing", app=_sub_app),
        Routes(prefix="/pages/extra", app=_router, public=False),
        Routes(prefix="/hooks/private", app=_sub_app, public=False),
    )
    checked = [r.prefix for r in check_routes(platform)]
    assert checked == ["/hooks/thing", "/pages/extra", "/hooks/private"]


def test_route_contract_check_catches_a_broken_provider(
    platform: Platform, register_plugin: Any
) -> None:
    from tfpilot_web.testing import check_routes

    _register(register_plugin, Routes(prefix="/hooks/bad", app=lambda platform: 42))
    with pytest.raises(AssertionError, match="ASGI app or an APIRouter"):
        check_routes(platform)
