"""Promotion in the browser: the panel on a request's page, its own page, and the promote action.

The panel shows the promotion chain the request is on (every step linked, both ways), and for
the source of a possible promotion the next environment, each gate with its state (applied,
drift-free, the drift check's age, the soak time left, the path), the dry run's input diff
(source value, target value, why they differ) and, for whoever may promote, the promote button.

Everything comes from the core: the dry run is :meth:`tfpilot_core.promotion.Promotions.preview`
(it evaluates the gates and computes the diff and stores nothing), the chain is
:meth:`~tfpilot_core.promotion.Promotions.chain` as the caller (steps they may not read show only
their id), and the action is ``Platform.promote`` (the core checks the promote right and every
gate again). Routes:

``GET /requests/{id}/promotion``
    the panel alone (the request page loads it with htmx);
``GET /promote/{id}``
    the panel as a page (without JavaScript, and to link to);
``POST /promote/{id}``
    promote; on success to the new request's page, on a refusal the page again with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tfpilot_core.errors import ForbiddenError, NotFoundError, TfpilotError
from tfpilot_core.rbac import Action
from tfpilot_web import core
from tfpilot_web.deps import state_of
from tfpilot_web.problems import status_of

if TYPE_CHECKING:
    from tfpilot_core.models import Request as TfRequest
    from tfpilot_core.platform import Platform

#: What each gate checks, as the panel names it.
GATE_LABELS = {
    "applied": "Applied",
    "drift_free": "Drift-free",
    "drift_check_age": "Drift check age",
    "soak": "Soak time",
    "path": "Next environment",
}


def panel_context(platform: Platform, actor: str, request: TfRequest) -> dict[str, Any]:
    """What the promotion panel shows to ``actor`` (who may read ``request``)."""
    from tfpilot_core.promotion import Promotions

    promotions = Promotions(platform)
    chain = promotions.chain(request, actor)
    preview: dict[str, Any] | None = None
    preview_error: str | None = None
    try:
        preview = promotions.preview(actor, request.id)
    except TfpilotError as exc:  # a configuration problem (two templates pinned, a bad path)
        preview_error = str(exc)
    gates = [
        {**gate, "label": GATE_LABELS.get(gate["gate"], gate["gate"])}
        for gate in (preview or {}).get("gates", [])
    ]
    path_gate = next((g for g in gates if g["gate"] == "path"), None)
    return {
        "request_id": request.id,
        "environment": request.placement.environment,
        "chain": chain if len(chain) > 1 else [],
        "promoted_from": request.promoted_from,
        "promoted_to": list(request.promoted_to),
        "preview": preview,
        "preview_error": preview_error,
        "gates": gates,
        # The last environment of its path: nothing to promote to, so no gates to show.
        "last": path_gate is not None
        and not path_gate["ok"]
        and preview is not None
        and preview.get("to") is None,
        "changed": [row for row in (preview or {}).get("inputs", []) if not row["same"]],
        "may_promote": core.may(platform, actor, Action.PROMOTE, request),
        "promote_error": None,
    }


def build_promotion_pages() -> APIRouter:
    """The promotion panel, the promotion page and the promote action."""
    from tfpilot_web.pages import _checked_form, page_actor, render

    router = APIRouter(include_in_schema=False)

    @router.get("/requests/{request_id}/promotion", response_class=HTMLResponse)
    def promotion_panel(
        request: Request, request_id: str, actor: str = Depends(page_actor)
    ) -> HTMLResponse:
        platform = state_of(request).platform
        found = core.read(platform, actor, request_id)
        return render(request, "_req_promotion.html", panel_context(platform, actor, found))

    @router.get("/promote/{request_id}", response_class=HTMLResponse)
    def promotion_page(
        request: Request, request_id: str, actor: str = Depends(page_actor)
    ) -> HTMLResponse:
        platform = state_of(request).platform
        found = core.read(platform, actor, request_id)
        return render(request, "promotion.html", panel_context(platform, actor, found))

    @router.post("/promote/{request_id}")
    async def promote(request: Request, request_id: str) -> Response:
        actor = page_actor(request)
        form = await _checked_form(request)
        platform = state_of(request).platform
        from starlette.concurrency import run_in_threadpool

        try:
            promoted = await run_in_threadpool(
                platform.promote, actor, request_id, to=form.get("to") or None
            )
        except (ForbiddenError, NotFoundError):
            raise  # the usual 403/404 page
        except TfpilotError as exc:  # a gate refused, the target's template or policy said no
            found = core.read(platform, actor, request_id)
            context = panel_context(platform, actor, found)
            context["promote_error"] = exc.message
            return render(request, "promotion.html", context, status_code=status_of(exc))
        return RedirectResponse(f"/requests/{promoted.id}", status_code=303)

    return router


__all__ = ["GATE_LABELS", "build_promotion_pages", "panel_context"]
