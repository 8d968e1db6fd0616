"""What every route depends on: the app's state, the authenticated actor, CSRF checks."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tfpilot_web.auth import Identity, RateLimiter, StoreRateLimiter, resolve_actor
from tfpilot_web.core import ViewCache

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from tfpilot_core.platform import Platform
    from tfpilot_web.settings import GithubOAuthSettings, WebSettings

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class WebState:
    """Everything the routes share: the platform, the settings, the login rate limiter."""

    platform: Platform
    settings: WebSettings
    limiter: RateLimiter | StoreRateLimiter
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (plugin, prefix)
    views: ViewCache = field(default_factory=lambda: ViewCache())


class Unauthenticated(Exception):
    """No valid credentials: 401 for the API, a redirect to the login page for pages."""


class CsrfFailed(Exception):
    """A form post or cookie-authenticated API call without the session's CSRF token."""


def state_of(request: Request) -> WebState:
    """The app's :class:`WebState`."""
    return request.app.state.web  # type: ignore[no-any-return]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (forms and htmx send it back)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, given: str | None) -> None:
    """Refuse an unsafe call authenticated by cookie unless it carries the session's token."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not given or not secrets.compare_digest(expected, given):
        raise CsrfFailed()


async def require_actor(request: Request) -> str:
    """The authenticated actor; :class:`Unauthenticated` when there is none.

    A cookie session (not a bearer token) calling an unsafe API method must also send the
    session's CSRF token in ``X-CSRF-Token``: a browser sends cookies to any site's form posts.
    ``async`` because it only reads what the identity middleware resolved: FastAPI runs a plain
    ``def`` dependency in a worker thread of its own, a thread hop per request for nothing.
    """
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None and pending_identity(request) is not None:
        identity = await run_in_threadpool(settle_identity, request)
    if identity is None:
        raise Unauthenticated()
    if identity.via == "session" and request.method not in _SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return identity.actor


#: The authenticated actor of an API route (401 without credentials).
Actor = Annotated[str, Depends(require_actor)]


def pending_identity(request: Request) -> Callable[[], Identity | None] | None:
    """The caller's credentials not checked yet (an API read: see :class:`IdentityMiddleware`)."""
    return getattr(request.state, "resolve_identity", None)


def settle_identity(request: Request) -> Identity | None:
    """Check the pending credentials (a store read: call it in a worker thread) and record who
    the caller is, as the middleware does for every other request."""
    resolve = pending_identity(request)
    identity: Identity | None = getattr(request.state, "identity", None)
    if resolve is not None:
        identity = resolve()
        request.state.identity = identity
        request.state.actor = identity.actor if identity else None
        request.state.resolve_identity = None
    return identity


def reading_actor(request: Request) -> str:
    """The authenticated actor of an API read, checked now: call it in the route's own worker
    thread, so that checking the credentials (a store read) shares that hop with the read itself
    instead of costing one of its own. Raises :class:`Unauthenticated` (401) without valid
    credentials. Safe methods only (no CSRF check is needed for them). A plain function, not a
    dependency: solving one cost a route more than the check (issue 31)."""
    identity = settle_identity(request)
    if identity is None:
        raise Unauthenticated()
    return identity.actor


def optional_actor(request: Request) -> str | None:
    """The authenticated actor, or ``None``."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity.actor if identity else None


#: Reads (GET, HEAD, OPTIONS) under this prefix check their credentials in the route.
_DEFERRED_PREFIX = "/api/"


class IdentityMiddleware:
    """Resolves the caller of every HTTP request (API, pages and mounted plugin routes).

    Sets ``request.state.identity`` (an :class:`~tfpilot_web.auth.Identity` or ``None``) and
    ``request.state.actor``. Runs inside the session middleware, so signed sessions are read.
    API reads (safe methods under ``/api/``, tfpilot's own router: no plugin route lives there)
    are the exception: their credentials are checked by the route's actor dependency, so that a
    sync route checks them in its own worker thread (one thread hop per request, not two).
    """

    def __init__(
        self, app: ASGIApp, platform: Platform, github: GithubOAuthSettings | None = None
    ) -> None:
        self.app = app
        self.platform = platform
        self.github = github

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bearer = None
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    scheme, _, credential = value.decode("latin-1").partition(" ")
                    if scheme.lower() == "bearer":
                        bearer = credential.strip()
            session: dict[str, Any] | None = scope.get("session")
            identity = None
            state = scope.setdefault("state", {})
            state["resolve_identity"] = None
            if bearer or (session and (session.get("token_key") or session.get("github_login"))):
                resolve = functools.partial(
                    resolve_actor, self.platform, bearer=bearer, session=session, github=self.github
                )
                if scope.get("method") in _SAFE_METHODS and scope.get("path", "").startswith(
                    _DEFERRED_PREFIX
                ):
                    # An API read: its route checks the credentials (``require_actor`` or
                    # ``reading_actor``), in the same worker-thread hop as its own work where it
                    # can.
                    state["resolve_identity"] = resolve
                else:
                    # The store is synchronous (SQLite, S3): keep it off the event loop.
                    identity = await run_in_threadpool(resolve)
            state["identity"] = identity
            state["actor"] = identity.actor if identity else None
        await self.app(scope, receive, send)
