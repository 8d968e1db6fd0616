"""Notification preferences (``/notifications``) and, for admins, the outbox.

Everything goes through the core's notifications package (``platform.notifications``):
``preferences``/``set_preferences`` (users set their own, admins anyone's: the core decides),
``list`` and ``retry`` for the outbox. The outbox page lists only deliveries about requests the
caller may read, as ``tfpilot notify list`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tfpilot_core.errors import ForbiddenError, NotFoundError
from tfpilot_core.models import Role
from tfpilot_core.rbac import Action
from tfpilot_web.deps import state_of

if TYPE_CHECKING:
    from tfpilot_core.notifications.preferences import Preferences
    from tfpilot_core.platform import Platform

#: Outbox tabs: name -> (label, states, only those with an error).
OUTBOX_VIEWS = {
    "pending": ("Pending", ("pending", "sending", "held"), False),
    "failed": ("Failed (retrying)", ("pending", "sending", "held"), True),
    "dead": ("Dead-lettered", ("dead",), False),
}


def preferences_from_form(form: dict[str, str], platform: Platform) -> tuple[Any, dict[str, str]]:
    """A :class:`Preferences` from the posted form, or the problems by form field."""
    from pydantic import ValidationError as PydanticError

    from tfpilot_core.notifications.preferences import Preferences

    settings = platform.config.notifications
    channels: dict[str, str | None] = {}
    for name in _notifier_names(platform):
        if form.get(f"off.{name}") == "yes":
            channels[name] = None
        elif form.get(f"channel.{name}", "").strip():
            channels[name] = form[f"channel.{name}"].strip()
    events = None
    if form.get("events_all") != "yes":
        events = [e for e in settings.events if form.get(f"event.{e}") == "yes"]
    environments = None
    if form.get("environments_all") != "yes":
        environments = [
            e.key
            for e in platform.config.core.environments
            if form.get(f"environment.{e.key}") == "yes"
        ]
    quiet = None
    if form.get("quiet_start") or form.get("quiet_end"):
        quiet = {
            "start": form.get("quiet_start", ""),
            "end": form.get("quiet_end", ""),
            "timezone": form.get("quiet_timezone") or "UTC",
        }
    raw = {
        "channels": channels,
        "events": events,
        "environments": environments,
        "mute": form.get("mute") == "yes",
        "quiet_hours": quiet,
        "drift_digest": form.get("drift_digest") == "yes",
    }
    try:
        return Preferences.model_validate(raw), {}
    except PydanticError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            field = "quiet_" + loc[1] if loc[:1] == ["quiet_hours"] and len(loc) > 1 else loc[0]
            if loc[:1] == ["quiet_hours"] and len(loc) == 1:
                field = "quiet_start"
            message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            errors.setdefault(field, message)
        return None, errors


def _notifier_names(platform: Platform) -> list[str]:
    return sorted({name for name, _ in platform.host.notifiers()} | {"slack", "email"})


def _context(
    platform: Platform, user: str, prefs: Preferences, errors: dict[str, str], saved: bool
) -> dict[str, Any]:
    settings = platform.config.notifications
    return {
        "user": user,
        "prefs": prefs,
        "errors": errors,
        "saved": saved,
        "notifiers": _notifier_names(platform),
        "events": list(settings.events),
        "environments": [e.key for e in platform.config.core.environments],
    }


def build_prefs_pages() -> APIRouter:
    """``/notifications`` (preferences) and ``/notifications/outbox`` (admins)."""
    from tfpilot_web.pages import _checked_form, page_actor, render

    router = APIRouter(include_in_schema=False)

    @router.get("/notifications", response_class=HTMLResponse)
    def preferences_page(
        request: Request, actor: str = Depends(page_actor), user: str = "", saved: str = ""
    ) -> HTMLResponse:
        platform = state_of(request).platform
        who = user[:64] or actor
        if who != actor and platform.role_of(actor) is not Role.ADMIN:
            raise ForbiddenError(f"{actor} may not see the notification preferences of {who}")
        prefs = platform.notifications.preferences(who)
        return render(
            request, "notifications.html", _context(platform, who, prefs, {}, saved == "1")
        )

    @router.post("/notifications")
    async def save_preferences(request: Request, actor: str = Depends(page_actor)) -> Response:
        form = await _checked_form(request)
        platform = state_of(request).platform
        who = form.get("user", "")[:64] or actor
        prefs, errors = preferences_from_form(form, platform)
        if errors:
            current = platform.notifications.preferences(who)
            return render(
                request,
                "notifications.html",
                _context(platform, who, current, errors, False),
                status_code=422,
            )
        platform.notifications.set_preferences(actor, who, prefs)  # the core checks who may
        suffix = f"&user={who}" if who != actor else ""
        return RedirectResponse(f"/notifications?saved=1{suffix}", status_code=303)

    @router.get("/notifications/outbox", response_class=HTMLResponse)
    def outbox_page(
        request: Request, actor: str = Depends(page_actor), view: str = "failed"
    ) -> HTMLResponse:
        platform = state_of(request).platform
        _admin(platform, actor)
        chosen = view if view in OUTBOX_VIEWS else "failed"
        rows = outbox_rows(platform, actor, chosen)
        return render(
            request,
            "outbox.html",
            {"rows": rows, "view": chosen, "views": OUTBOX_VIEWS},
        )

    @router.post("/notifications/outbox/{delivery_id}/retry")
    async def retry(
        request: Request, delivery_id: str, actor: str = Depends(page_actor)
    ) -> Response:
        await _checked_form(request)
        platform = state_of(request).platform
        _admin(platform, actor)
        record = platform.notifications.get(delivery_id)
        if not _readable(platform, actor, [dict(record.value)]):
            raise ForbiddenError(f"{actor} may not read the request of {delivery_id}")
        platform.notifications.retry(delivery_id)
        return RedirectResponse("/notifications/outbox?view=dead", status_code=303)

    return router


def _admin(platform: Platform, actor: str) -> None:
    if platform.role_of(actor) is not Role.ADMIN:
        raise ForbiddenError(f"{actor} may not see the notification outbox: needs role admin")


def _readable(platform: Platform, actor: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    readable: dict[str, bool] = {}
    shown = []
    for row in rows:
        request_id = str(row.get("request_id"))
        if request_id not in readable:
            try:
                found = platform.store.get_request(request_id)
                readable[request_id] = bool(platform.access.may(actor, Action.READ, found))
            except NotFoundError:
                readable[request_id] = False
        if readable[request_id]:
            shown.append(row)
    return shown


def outbox_rows(platform: Platform, actor: str, view: str) -> list[dict[str, Any]]:
    """The deliveries of ``view`` about requests ``actor`` may read, as the CLI shows them."""
    from tfpilot_core.cli.notify import _public

    _, states, with_error = OUTBOX_VIEWS[view]
    rows = [
        r
        for r in platform.notifications.list(states=states)
        if not with_error or r.get("last_error")
    ]
    if view == "pending":
        rows = [r for r in rows if not r.get("last_error")]
    return [_public(r) for r in _readable(platform, actor, rows)]
