"""What every route depends on: the app's state, the authenticated actor, CSRF checks."""

from __future__ import annotations

import secrets
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


def require_actor(request: Request) -> str:
    """The authenticated actor; :class:`Unauthenticated` when there is none.

    A cookie session (not a bearer token) calling an unsafe API method must also send the
    session's CSRF token in ``X-CSRF-Token``: a browser sends cookies to any site's form posts.
    """
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None:
        raise Unauthenticated()
    if identity.via == "session" and request.method not in _SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return identity.actor


#: The authenticated actor of an API route (401 without credentials).
Actor = Annotated[str, Depends(require_actor)]


def optional_actor(request: Request) -> str | None:
    """The authenticated actor, or ``None``."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity.actor if identity else None


class IdentityMiddleware:
    """Resolves the caller of every HTTP request (API, pages and mounted plugin routes).

    Sets ``request.state.identity`` (an :class:`~tfpilot_web.auth.Identity` or ``None``) and
    ``request.state.actor``. Runs inside the session middleware, so signed sessions are read.
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
            if bearer or (session and (session.get("token_key") or session.get("github_login"))):
                # The store is synchronous (SQLite, S3): keep it off the event loop.
                identity = await run_in_threadpool(
                    lambda: resolve_actor(
                        self.platform, bearer=bearer, session=session, github=self.github
                    )
                )
            state = scope.setdefault("state", {})
            state["identity"] = identity
            state["actor"] = identity.actor if identity else None
        await self.app(scope, receive, send)
