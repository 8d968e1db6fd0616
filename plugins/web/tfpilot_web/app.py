"""``create_app(platform)``: the FastAPI application behind ``tfpilot serve``.

Layers, outermost first: signed session cookies (starlette's ``SessionMiddleware``), then the
identity middleware (bearer token or session -> actor, :mod:`tfpilot_web.auth`), then the routes:
the JSON API (``/api``), the pages, htmx (``/static``), and the routes plugins contribute
through ``tfpilot_register_routes``. One set of error handlers turns tfpilot's errors into RFC
9457 problem details for the API and mounted routes, and into an error page for the UI.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from tfpilot_core.errors import PluginError, TfpilotError
from tfpilot_core.hookcalls import spans_recorded
from tfpilot_core.run_logs.correlation import request_context
from tfpilot_web.auth import StoreRateLimiter
from tfpilot_web.deps import CsrfFailed, IdentityMiddleware, Unauthenticated, WebState
from tfpilot_web.problems import PROBLEM_JSON, Problem, problem, problem_of

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_web.settings import WebSettings

log = structlog.get_logger("tfpilot.web")

PACKAGE = Path(__file__).parent
#: Prefixes the server keeps for itself; plugin routes may not take them.
RESERVED_PREFIXES = (
    "/api",
    "/static",
    "/catalog",
    "/requests",
    "/approvals",
    "/drift",
    "/metrics",
    "/templates",
    "/notifications",
    "/chat",
    "/admin",
    "/login",
    "/logout",
    "/healthz",
    "/readyz",
    "/docs",
    "/redoc",
    "/openapi.json",
)


def load_settings(platform: Platform) -> WebSettings:
    """``[plugins.web]``, validated (secrets resolved) like every plugin section."""
    from tfpilot_web.registration import web_registration
    from tfpilot_web.settings import WebSettings

    settings = platform.host.settings_for(web_registration())
    assert isinstance(settings, WebSettings)
    return settings


def session_secret(platform: Platform, settings: WebSettings) -> str:
    """The configured session key, else one made once and kept (0600) under the home."""
    if settings.session_secret:
        return settings.session_secret
    directory = platform.config.home / "web"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "session.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # Create-only, 0600: two servers starting at once agree on whichever key was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api") or path == "/openapi.json":
        return False
    if any(
        path.startswith(prefix) for prefix, _ in getattr(request.app.state, "json_prefixes", [])
    ):
        return False
    return "text/html" in request.headers.get("accept", "")


def _problem_response(
    request: Request, body: Problem, headers: dict[str, str] | None = None
) -> Response:
    if _wants_html(request):
        from tfpilot_web.pages import error_page

        return error_page(request, body, headers=headers)
    body.instance = body.instance or request.url.path
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def install_error_handlers(app: Any) -> None:
    """Problem details for tfpilot's errors, validation, HTTP errors and bugs, on ``app``."""

    async def tfpilot_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TfpilotError)
        body = problem_of(exc)
        if body.status >= 500:
            log.error("request_failed", path=request.url.path, error=exc.message)
        return _problem_response(request, body)

    async def unauthenticated(request: Request, exc: Exception) -> Response:
        if _wants_html(request) and request.method == "GET":
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        body = problem(401, "sign in: send 'Authorization: Bearer <token>' or log in")
        return _problem_response(request, body, headers={"WWW-Authenticate": "Bearer"})

    async def csrf_failed(request: Request, exc: Exception) -> Response:
        return _problem_response(
            request, problem(403, "missing or wrong CSRF token: reload the page and try again")
        )

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        from tfpilot_web.problems import FieldProblemView

        problems = [
            FieldProblemView(
                field=".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                rule=str(e.get("type", "invalid")),
                message=str(e.get("msg", "invalid")),
            )
            for e in exc.errors()
        ]
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
        return _problem_response(request, problem(422, detail, problems=problems))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _problem_response(
            request,
            problem(exc.status_code, str(exc.detail)),
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def bug(request: Request, exc: Exception) -> Response:
        return internal_error_response(request, exc)

    app.add_exception_handler(TfpilotError, tfpilot_error)
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(CsrfFailed, csrf_failed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, bug)


def internal_error_response(request: Request, exc: BaseException) -> Response:
    """Log a bug once, scrubbed and bounded, and answer a 500 problem (the same for every route).

    The traceback is logged as text without frame locals (:func:`tfpilot_core.scrub.
    format_exception`), whatever the logging configuration: locals held the request's headers
    and body, and a rich traceback of them was 1.2 MB with the bearer token in clear.
    """
    from tfpilot_core.scrub import format_exception

    log.error(
        "internal_error",
        path=request.url.path,
        error=type(exc).__name__,
        exception=format_exception(exc),
    )
    # Logged here: the server's middleware need not hand it to uvicorn to log again.
    with suppress(AttributeError, TypeError):
        exc._tfpilot_logged = True  # type: ignore[attr-defined]
    try:
        return _problem_response(request, problem(500, "internal error (logged)"))
    except Exception:  # the error page itself failed: plain problem details then
        return JSONResponse(
            problem(500, "internal error (logged)").model_dump(exclude_none=True),
            status_code=500,
            media_type=PROBLEM_JSON,
        )


def create_app(
    platform: Platform,
    *,
    settings: WebSettings | None = None,
    plugin_routes: bool = True,
) -> FastAPI:
    """The ASGI application over ``platform``; embed it in another ASGI app or serve it.

    :param settings: ``[plugins.web]`` (default: read from the platform's configuration).
    :param plugin_routes: mount the routes plugins register with ``tfpilot_register_routes``.
    """
    from tfpilot_core import __version__
    from tfpilot_web.api import build_router
    from tfpilot_web.pages import build_pages

    settings = settings or load_settings(platform)
    app = FastAPI(
        title="tfpilot",
        version=__version__,
        description=(
            "Terraform self-service and governance: the Platform API over HTTP. Authenticate "
            "with `Authorization: Bearer <token>` (`tfpilot tokens create`). Errors are RFC "
            "9457 problem details."
        ),
        # /docs is served below from packaged assets (no CDN), under the strict CSP.
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = WebState(
        platform=platform,
        settings=settings,
        # Counted in the store: shared by every replica (docs/deploy.md).
        limiter=StoreRateLimiter(platform.store, settings.login_attempts_per_minute, 60.0),
    )
    app.state.json_prefixes = []
    app.state.public_prefixes = []
    install_error_handlers(app)
    app.include_router(build_router(platform))
    from tfpilot_web.health import build_health_router

    app.include_router(build_health_router(platform))
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    from tfpilot_web.docs import install_docs

    install_docs(app)
    if plugin_routes:
        mount_plugin_routes(app, platform)
    if settings.github_oauth is not None:
        from tfpilot_web.oauth import build_github_login

        app.include_router(build_github_login(settings.github_oauth))
    app.include_router(build_pages())
    # Issue 26's pages, one module each (tfpilot_web/pages_*.py).
    from tfpilot_web.pages_more import include_more_pages

    include_more_pages(app)
    # Bodies bounded per route before they are read, the caller checked first (inside the
    # identity middleware, which tells who is calling from the headers alone).
    from tfpilot_core.body_limits import BodyLimit
    from tfpilot_web.body_rules import web_body_rules

    app.add_middleware(BodyLimit, rules=web_body_rules(app.state.public_prefixes))
    # Added last, so outermost: the session is decoded before the identity middleware reads it.
    app.add_middleware(IdentityMiddleware, platform=platform, github=settings.github_oauth)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(platform, settings),
        session_cookie="tfpilot_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: everything a request does (errors answered above included) is in its trace.
    app.add_middleware(TraceRequests)
    return app


def mount_plugin_routes(app: FastAPI, platform: Platform) -> None:
    """Mount what ``tfpilot_register_routes`` contributes, each under its prefix."""
    for plugin, routes in platform.host.routes():
        prefix = routes.prefix.rstrip("/")
        if any(prefix == r or prefix.startswith(r + "/") for r in RESERVED_PREFIXES):
            raise PluginError(
                f"plugin {plugin!r}: route prefix {prefix!r} is reserved by the web server",
                plugin=plugin,
            )
        target = routes.app(platform)
        if isinstance(target, APIRouter):
            from fastapi import Depends

            from tfpilot_web.deps import require_actor

            deps = [] if routes.public else [Depends(require_actor)]
            app.include_router(target, prefix=prefix, dependencies=deps)
        else:
            if hasattr(target, "add_exception_handler"):
                install_error_handlers(target)
            app.mount(prefix, target if routes.public else _Protected(target))
        if routes.public:
            app.state.public_prefixes.append(prefix)
        app.state.json_prefixes.append((prefix, plugin))
        app.state.web.mounts.append((plugin, prefix))
        log.info("routes_mounted", plugin=plugin, prefix=prefix)


class _Protected:
    """Refuses requests without an authenticated actor (401) before a mounted app sees them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("state", {}).get("identity"):
            body = problem(401, "sign in: send 'Authorization: Bearer <token>'")
            response = JSONResponse(
                body.model_dump(exclude_none=True),
                status_code=401,
                media_type=PROBLEM_JSON,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class TraceRequests:
    """Each HTTP request is its own trace, continuing an incoming W3C ``traceparent`` header.

    The server's process joined one session trace when it started; without this, every request
    (its spans, events, attempts and log lines) would carry that one trace id. A server span
    (``HTTP <method>``) wraps the request under :func:`~tfpilot_core.run_logs.correlation.
    request_context`: the caller's trace when it sent a valid ``traceparent``, else a new one.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        token = otel_context.attach(request_context(headers))
        try:
            if not spans_recorded():
                # Nothing records spans (no exporter configured): a server span would be a no-op
                # with the request context's own ids, which log lines already carry.
                await self.app(scope, receive, send)
                return
            await self._traced(scope, receive, send)
        finally:
            otel_context.detach(token)

    async def _traced(self, scope: Any, receive: Any, send: Any) -> None:
        status: list[int] = []

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with trace.get_tracer("tfpilot.web").start_as_current_span(
            f"HTTP {scope.get('method', '')}",
            kind=trace.SpanKind.SERVER,
            # The path only: a query string may hold a token.
            attributes={
                "http.request.method": str(scope.get("method", "")),
                "url.path": str(scope.get("path", "")),
            },
        ) as span:
            await self.app(scope, receive, send_status)
            if status:
                span.set_attribute("http.response.status_code", status[0])


class SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, a strict content policy."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    ]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                for name, value in self.HEADERS:
                    if name not in names:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # A bug: answered here, inside this middleware, so the 500 carries the same headers
            # as every other response (starlette's outermost error middleware would answer it
            # without them), and logged once, scrubbed, instead of by uvicorn with the request.
            if started:
                if getattr(exc, "_tfpilot_logged", False):
                    return
                raise
            response = internal_error_response(Request(scope), exc)
            await response(scope, receive, send_with_headers)
