"""Request templates in the browser: list, show (versions, diff between two, the requests made
from each version), and for admins create, update (a new version) and retire.

Reads and writes go through :class:`tfpilot_core.templates.Templates` (writes need the admin
role: the core refuses others with 403). The requests listed are those the caller may read
(``platform.list`` as the caller).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_core.models import RequestQuery, Role
from tfpilot_web import core
from tfpilot_web.deps import state_of

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_core.templates import Template, Templates

#: How many requests of a template's module the show page looks through for its users.
SCAN_LIMIT = 5000


def _templates(platform: Platform) -> Templates:
    from tfpilot_core.templates import Templates

    return Templates(platform)


def requests_by_version(
    platform: Platform, actor: str, name: str, module: str
) -> dict[int, list[dict[str, Any]]]:
    """The requests ``actor`` may read that were made from template ``name``, by version."""
    found: dict[int, list[dict[str, Any]]] = {}
    cursor: str | None = None
    scanned = 0
    while scanned < SCAN_LIMIT:
        page = core.list_requests(
            platform, actor, RequestQuery(module=module, limit=1000, cursor=cursor)
        )
        scanned += len(page.items) + len(page.unreadable)
        for request in page.items:
            placement = request.placement
            if placement.template_id == name:
                version = getattr(placement, "template_version", None) or 0
                found.setdefault(version, []).append(core.view(platform, request))
        cursor = page.next_cursor
        if cursor is None:
            break
    return dict(sorted(found.items()))


def version_diff(before: Template, after: Template) -> list[dict[str, Any]]:
    """Field by field, what differs between two versions (defaults key by key)."""
    rows: list[dict[str, Any]] = []
    for field in ("description", "environment", "project", "locked", "allowed_overrides"):
        a, b = getattr(before, field), getattr(after, field)
        if a != b:
            rows.append({"field": field, "before": a, "after": b})
    for key in sorted(set(before.defaults) | set(after.defaults)):
        a, b = before.defaults.get(key, "—"), after.defaults.get(key, "—")
        if a != b:
            rows.append({"field": f"defaults.{key}", "before": a, "after": b})
    return rows


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def fields_from_form(form: dict[str, str]) -> dict[str, Any]:
    """Template fields from the admin form (defaults as a JSON object, lists comma-separated)."""
    try:
        defaults = json.loads(form.get("defaults") or "{}")
    except ValueError as exc:
        raise ValidationError(
            [FieldProblem("defaults", "json", f"not a JSON object: {exc}")], subject="template"
        ) from None
    if not isinstance(defaults, dict):
        raise ValidationError(
            [FieldProblem("defaults", "json", "must be a JSON object")], subject="template"
        )
    overrides = form.get("allowed_overrides", "").strip()
    return {
        "description": form.get("description", "")[:500],
        "environment": form.get("environment") or None,
        "project": form.get("project") or None,
        "defaults": defaults,
        "locked": _names(form.get("locked", "")),
        "allowed_overrides": None if form.get("any_override") == "yes" else _names(overrides),
    }


def build_templates_pages() -> APIRouter:
    """``/templates``, ``/templates/new``, ``/templates/{name}`` and the admin posts."""
    from tfpilot_web.pages import _checked_form, page_actor, render

    router = APIRouter(include_in_schema=False)

    def admin(platform: Platform, actor: str) -> bool:
        return platform.role_of(actor) is Role.ADMIN

    @router.get("/templates", response_class=HTMLResponse)
    def templates_page(
        request: Request, actor: str = Depends(page_actor), retired: str = "", module: str = ""
    ) -> HTMLResponse:
        platform = state_of(request).platform
        records = _templates(platform).list(
            module=module[:200] or None, include_retired=retired == "1"
        )
        return render(
            request,
            "templates_list.html",
            {
                "records": records,
                "retired": retired == "1",
                "module": module,
                "is_admin": admin(platform, actor),
            },
        )

    def form_page(
        request: Request,
        platform: Platform,
        *,
        record: Any = None,
        values: dict[str, Any] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return render(
            request,
            "template_form.html",
            {
                "record": record,
                "values": values or {},
                "error": error,
                "modules": [s.name for s in platform.catalog.list()],
                "environments": [e.key for e in platform.config.core.environments],
            },
            status_code=status_code,
        )

    @router.get("/templates/new", response_class=HTMLResponse)
    def new_template(request: Request, actor: str = Depends(page_actor)) -> HTMLResponse:
        return form_page(request, state_of(request).platform)

    @router.post("/templates/new")
    async def create_template(request: Request, actor: str = Depends(page_actor)) -> Response:
        form = await _checked_form(request)
        platform = state_of(request).platform
        try:
            fields = fields_from_form(form)
            _templates(platform).create(
                actor, form.get("name", ""), module=form.get("module", ""), **fields
            )
        except ValidationError as exc:
            message = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
            return form_page(request, platform, values=form, error=message, status_code=422)
        return RedirectResponse(f"/templates/{form['name']}", status_code=303)

    @router.get("/templates/{name}", response_class=HTMLResponse)
    def template_page(
        request: Request,
        name: str,
        actor: str = Depends(page_actor),
        a: int | None = None,
        b: int | None = None,
        edit: str = "",
    ) -> HTMLResponse:
        platform = state_of(request).platform
        record = _templates(platform).record(name)
        current = record.current
        if edit == "1":
            values = {
                **current.model_dump(),
                "defaults": json.dumps(current.defaults, indent=2),
                "locked": ", ".join(current.locked),
                "allowed_overrides": ", ".join(current.allowed_overrides or []),
                "any_override": current.allowed_overrides is None,
            }
            return form_page(request, platform, record=record, values=values)
        versions = {t.version: t for t in record.versions}
        b_version = b if b in versions else current.version
        a_version = a if a in versions else max(1, b_version - 1)
        diff = version_diff(versions[a_version], versions[b_version])
        return render(
            request,
            "template.html",
            {
                "record": record,
                "t": current,
                "a": a_version,
                "b": b_version,
                "diff": diff,
                "used": requests_by_version(platform, actor, name, current.module),
                "is_admin": admin(platform, actor),
            },
        )

    @router.post("/templates/{name}")
    async def update_template(
        request: Request, name: str, actor: str = Depends(page_actor)
    ) -> Response:
        form = await _checked_form(request)
        platform = state_of(request).platform
        templates = _templates(platform)
        try:
            templates.update(actor, name, **fields_from_form(form))
        except ValidationError as exc:
            message = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
            return form_page(
                request,
                platform,
                record=templates.record(name),
                values=form,
                error=message,
                status_code=422,
            )
        return RedirectResponse(f"/templates/{name}", status_code=303)

    @router.post("/templates/{name}/retire")
    async def retire_template(
        request: Request, name: str, actor: str = Depends(page_actor)
    ) -> Response:
        await _checked_form(request)
        _templates(state_of(request).platform).retire(actor, name)
        return RedirectResponse(f"/templates/{name}", status_code=303)

    return router
