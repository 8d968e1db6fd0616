"""The request form's policy preview as the user types (htmx, debounced in the page).

``POST /catalog-preview/{module}`` takes the form as it stands and answers an HTML fragment: the
problems and policy findings per field, from :func:`tfpilot_core.assistant.draft_request` (the
same validation and request-stage policy as a create; nothing is stored, no event written). A
chosen template is applied first, as a create would apply it. A finding whose rule may be opted
out of offers a justification field (:mod:`tfpilot_web.opt_outs`); the opt-outs typed there go
to the draft as they will go to the create, so the preview shows the core's verdict on them
(problems by field, or the finding graded as opted out).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tfpilot_core.errors import TfpilotError, ValidationError
from tfpilot_web.deps import state_of


def preview(platform: Any, actor: str, module: str, form: dict[str, str]) -> dict[str, Any]:
    """Problems and findings by form field for the posted form (``form`` keys as posted)."""
    from tfpilot_core.assistant import draft_request
    from tfpilot_web import opt_outs
    from tfpilot_web.form_templates import chosen, posted_inputs
    from tfpilot_web.forms import form_fields, parse_form

    spec = platform.catalog.get(module)
    fields = form_fields(spec.input_json_schema())
    inputs, problems = parse_form(fields, form)
    names = [f.name for f in fields]
    inputs, template_id, problems = posted_inputs(platform, module, form, inputs, problems, names)
    environment, project = form.get("environment", ""), form.get("project", "")
    by_field: dict[str, list[dict[str, str]]] = {}

    def add(field: str, kind: str, level: str, text: str) -> None:
        key = field.removeprefix("inputs.").split(".")[0].split("[")[0] or "request"
        by_field.setdefault(key, []).append({"kind": kind, "level": level, "text": text})

    for p in problems:
        add(p.field, "problem", "invalid", p.message)
    if not project:
        return {"by_field": by_field, "waiting": "Fill in the project to see the policy preview."}
    template = chosen(platform, module, template_id or "")
    asked = opt_outs.requested(form)
    try:
        if template is not None:
            from tfpilot_core.templates import apply

            inputs = apply(template, inputs, environment=environment, project=project)
        draft = draft_request(
            platform,
            actor,
            module=module,
            environment=environment,
            project=project,
            inputs=inputs,
            opt_outs=asked,
        )
    except ValidationError as exc:
        for p in exc.problems:
            add(p.field, "problem", "invalid", p.message)
        return {"by_field": by_field, "waiting": None}
    except TfpilotError as exc:
        return {"by_field": by_field, "waiting": exc.message}
    errors, others = opt_outs.problems_by_rule(draft.problems, asked)
    for p in others:
        add(p.field, "problem", "invalid", p.message)
    for f in draft.findings:
        add(f.address or "request", "policy", f.level.value, f"{f.rule_id}: {f.message}")
    # One justification field per rule that may be opted out of and has a finding here (or
    # an opt-out already typed, so that an error about it stays beside it).
    allowed = opt_outs.allowed_rules(platform)
    typed = opt_outs.posted(form)
    offered = sorted({f.rule_id for f in draft.findings if f.rule_id in allowed} | set(errors))
    return {
        "by_field": by_field,
        "waiting": None,
        "blocked": draft.blocked,
        "allowed": draft.allowed,
        "clean": not by_field and not offered,
        "opt_outs": [
            {
                "rule": rule,
                "slug": re.sub(r"[^a-z0-9]+", "-", rule.lower()),
                "justification": typed.get(rule, ""),
                "errors": errors.get(rule, []),
            }
            for rule in offered
        ],
    }


def build_preview_pages() -> APIRouter:
    """``POST /catalog-preview/{module}``: the fragment the form's preview area shows."""
    from starlette.concurrency import run_in_threadpool

    from tfpilot_web.pages import _checked_form, page_actor, templates

    router = APIRouter(include_in_schema=False)

    @router.post("/catalog-preview/{name:path}", response_class=HTMLResponse)
    async def policy_preview(
        request: Request, name: str, actor: str = Depends(page_actor)
    ) -> HTMLResponse:
        form = await _checked_form(request)
        platform = state_of(request).platform
        result = await run_in_threadpool(preview, platform, actor, name, form)
        return templates.TemplateResponse(request, "_policy_preview_result.html", result)

    return router
