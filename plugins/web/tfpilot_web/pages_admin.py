"""The admin page (``/admin``): users, roles and grants as the configuration defines them, and
API tokens (create with an optional expiry, revoke). Admins only (the token functions of
:mod:`tfpilot_web.auth` check the role again); a new token is shown once, on the answer page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_web.auth import create_token, list_tokens, require_admin, revoke_token
from tfpilot_web.deps import state_of

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

#: Expiry choices of the token form (days; 0: never).
EXPIRY_DAYS = (0, 1, 7, 30, 90, 365)


def users_view(platform: Platform) -> list[dict[str, Any]]:
    """Each configured user: role (or the default), grants, channels. No secrets are shown."""
    config = platform.config
    rows = []
    for name, user in sorted(config.users.items()):
        rows.append(
            {
                "name": name,
                "role": user.role.value if user.role else None,
                "effective": platform.role_of(name).value,
                "grants": [
                    {
                        "role": g.role.value,
                        "projects": ", ".join(g.projects) or "every project",
                        "environments": ", ".join(g.environments) or "every environment",
                    }
                    for g in user.grants
                ],
                "email": bool(user.email),
                "slack": bool(user.slack),
            }
        )
    return rows


def expiry(days_text: str) -> datetime | None:
    """The expiry of a token made now for ``days_text`` days (``"0"``: never)."""
    if not days_text.isdigit() or int(days_text) not in EXPIRY_DAYS:
        raise ValidationError(
            [FieldProblem("expires_in_days", "choice", f"one of {list(EXPIRY_DAYS)}")]
        )
    days = int(days_text)
    return datetime.now(UTC) + timedelta(days=days) if days else None


def build_admin_pages() -> APIRouter:
    """``GET /admin``, ``POST /admin/tokens``, ``POST /admin/tokens/{id}/revoke``."""
    from tfpilot_web.pages import _checked_form, page_actor, render

    router = APIRouter(include_in_schema=False)

    def page(
        request: Request,
        platform: Platform,
        actor: str,
        *,
        created: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return render(
            request,
            "admin.html",
            {
                "users": users_view(platform),
                "default_role": platform.config.core.default_role.value,
                "tokens": list_tokens(platform, actor),
                "created": created,
                "expiry_days": EXPIRY_DAYS,
            },
            status_code=status_code,
        )

    @router.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request, actor: str = Depends(page_actor)) -> HTMLResponse:
        platform = state_of(request).platform
        require_admin(platform, actor)
        return page(request, platform, actor)

    @router.post("/admin/tokens")
    async def make_token(request: Request, actor: str = Depends(page_actor)) -> Response:
        form = await _checked_form(request)
        platform = state_of(request).platform
        token, token_id = create_token(
            platform,
            actor,
            user=form.get("user", "").strip(),
            name=form.get("name", ""),
            expires_at=expiry(form.get("expires_in_days", "0")),
        )
        # Shown once, on this answer (never stored or logged); not a redirect, so a reload
        # does not show it again from a URL.
        response = page(
            request, platform, actor, created={"token": token, "id": token_id}, status_code=201
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.post("/admin/tokens/{token_id}/revoke")
    async def revoke(request: Request, token_id: str, actor: str = Depends(page_actor)) -> Response:
        await _checked_form(request)
        revoke_token(state_of(request).platform, actor, token_id)
        return RedirectResponse("/admin", status_code=303)

    return router
