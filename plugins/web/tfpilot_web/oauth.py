"""Log in with GitHub (OAuth web flow): ``/login/github`` and ``/login/github/callback``.

Mounted only when ``[plugins.web] github_oauth`` is configured. ``/login/github`` stores a random
``state`` in the signed session and sends the browser to GitHub's authorize URL; the callback
checks ``state`` (constant time, once: it is removed from the session whatever the outcome),
exchanges the code at the token URL (POST, ``Accept: application/json``, with the client id and
secret), reads the login from ``GET {api_url}/user`` and maps it to a tfpilot user through
``github_oauth.users``. A login that is not mapped is refused: GitHub proves who someone is, the
table says who they are in tfpilot. On success the session is started afresh, as token login does
(new CSRF token, no fixation), holding the user and the GitHub login; it lasts while the mapping
does (:func:`tfpilot_web.auth.resolve_actor`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tfpilot_web.auth import client_address, start_session
from tfpilot_web.deps import csrf_token, state_of

if TYPE_CHECKING:
    from tfpilot_web.settings import GithubOAuthSettings

log = structlog.get_logger("tfpilot.web.oauth")

CALLBACK = "/login/github/callback"
_STATE = "github_oauth_state"
_NEXT = "github_oauth_next"


class GithubRefused(Exception):
    """GitHub did not prove a login: ``status`` and a sentence for the login page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _callback_url(request: Request) -> str:
    public = state_of(request).settings.public_url
    if public:
        return public.rstrip("/") + CALLBACK
    return str(request.url_for("github_callback"))


def github_login(settings: GithubOAuthSettings, code: str, redirect_uri: str) -> str:
    """The GitHub login that ``code`` proves: the token exchange, then ``GET /user``.

    :raises GithubRefused: GitHub refused the code (401) or failed or was unreachable (502).
    """
    import httpx

    try:
        with httpx.Client(timeout=settings.timeout, follow_redirects=False) as http:
            exchanged = http.post(
                settings.token_url,
                data={
                    "client_id": settings.client_id,
                    "client_secret": settings.client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                },
                headers={"Accept": "application/json"},
            )
            if exchanged.status_code >= 500 or exchanged.status_code == 429:
                raise GithubRefused(
                    502, f"GitHub's token endpoint answered {exchanged.status_code}"
                )
            try:
                body: Any = exchanged.json()
            except ValueError:
                body = {}
            token = body.get("access_token") if isinstance(body, dict) else None
            if exchanged.status_code != 200 or not isinstance(token, str) or not token:
                # GitHub answers a bad or expired code with 200 and {"error": ...}.
                reason = body.get("error") if isinstance(body, dict) else None
                raise GithubRefused(
                    401, f"GitHub refused the login ({reason or exchanged.status_code})"
                )
            user = http.get(
                settings.api_url.rstrip("/") + "/user",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                },
            )
    except httpx.HTTPError as exc:
        raise GithubRefused(502, f"GitHub could not be reached ({type(exc).__name__})") from None
    if user.status_code != 200:
        raise GithubRefused(502, f"GitHub's user API answered {user.status_code}")
    try:
        data: Any = user.json()
    except ValueError:
        data = None
    login = data.get("login") if isinstance(data, dict) else None
    if not isinstance(login, str) or not login or len(login) > 100:
        raise GithubRefused(502, "GitHub's user API sent no login")
    return login


def build_github_login(settings: GithubOAuthSettings) -> APIRouter:
    """The two routes of GitHub login (left out of the OpenAPI description)."""
    from tfpilot_web.pages import _safe_next, render

    router = APIRouter(include_in_schema=False)

    def refused(request: Request, status: int, message: str) -> Response:
        return render(
            request,
            "login.html",
            {"next": "/", "error": message, "github": True},
            status_code=status,
        )

    @router.get("/login/github")
    def start(request: Request, next: str = "/") -> Response:
        """Send the browser to GitHub with a fresh ``state`` kept in the signed session."""
        state = secrets.token_urlsafe(32)
        request.session[_STATE] = state
        request.session[_NEXT] = _safe_next(next)
        query = {
            "client_id": settings.client_id,
            "redirect_uri": _callback_url(request),
            "state": state,
            "allow_signup": "false",
        }
        if settings.scope:
            query["scope"] = settings.scope
        separator = "&" if "?" in settings.authorize_url else "?"
        return RedirectResponse(
            settings.authorize_url + separator + urlencode(query), status_code=303
        )

    @router.get("/login/github/callback", name="github_callback")
    def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> Response:
        """Check ``state``, prove the login with GitHub, map it, start the session."""
        web = state_of(request)
        client = client_address(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            web.settings.trusted_proxies,
        )
        wait = web.limiter.hit(client)
        if wait is not None:
            response = refused(request, 429, "Too many attempts: wait a minute and try again.")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        # One use: whatever happens next, this state cannot be presented again.
        expected = request.session.pop(_STATE, None)
        target = request.session.pop(_NEXT, "/")
        if (
            not isinstance(expected, str)
            or not state
            or not secrets.compare_digest(expected.encode(), state.encode())
        ):
            log.warning("github_login_bad_state", client=client)
            return refused(
                request, 400, "The GitHub login could not be checked (state mismatch): try again."
            )
        if error or not code:
            return refused(request, 401, f"GitHub did not log you in ({error or 'no code'}).")
        try:
            login = github_login(settings, code[:200], _callback_url(request))
        except GithubRefused as exc:
            log.warning("github_login_refused", client=client, reason=exc.message)
            return refused(request, exc.status, exc.message + ".")
        user = settings.user_for(login)
        if user is None:
            log.warning("github_login_unmapped", login=login)
            return refused(
                request,
                403,
                f"GitHub user {login} is not mapped to a tfpilot user: ask an admin to add it to "
                "[plugins.web] github_oauth.users.",
            )
        # A fresh session at login (no fixation), as token login starts it.
        fields = {"user": user, "github_login": login}
        sid = start_session(web.platform.store, fields, max_age=web.settings.session_max_age)
        request.session.clear()
        request.session.update({**fields, "sid": sid})
        csrf_token(request)
        log.info("github_login", login=login, user=user)
        return RedirectResponse(_safe_next(target if isinstance(target, str) else "/"), 303)

    return router
