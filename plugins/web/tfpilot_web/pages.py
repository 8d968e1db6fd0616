"""The server-rendered UI (Jinja2 + htmx): requests, catalog, request form, request page,
approvals inbox, drift overview, login.

Every page reads through the same core calls as the API, as the logged-in actor. Buttons are
shown only when the core says the actor may take the action (``platform.access.may``); posting
anyway still reaches the core, which refuses (403). Form posts carry the session's CSRF token.
The catalog is public-read: module metadata holds no request data.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from tfpilot_core.errors import (
    ConflictError,
    FieldProblem,
    ForbiddenError,
    PolicyBlockedError,
    TfpilotError,
    ValidationError,
)
from tfpilot_core.failures import latest_failure, render_failure
from tfpilot_core.models import RequestQuery, RunKind
from tfpilot_core.plan_diff import format_value
from tfpilot_core.rbac import Action
from tfpilot_web import core, review
from tfpilot_web.app import PACKAGE
from tfpilot_web.auth import client_address, end_session, start_session
from tfpilot_web.auth import login as check_login
from tfpilot_web.deps import (
    CSRF_FIELD,
    Unauthenticated,
    check_csrf,
    csrf_token,
    optional_actor,
    state_of,
)
from tfpilot_web.forms import errors_by_field, form_fields, parse_form

if TYPE_CHECKING:
    from tfpilot_core.models import Request as TfRequest
    from tfpilot_core.platform import Platform
    from tfpilot_web.problems import Problem

templates = Jinja2Templates(directory=str(PACKAGE / "templates"))

#: Statuses during which the request page refreshes itself (htmx polling).
BUSY = {"planning", "applying", "destroying", "drift_checking"}
#: The actions a request page offers, with the run each starts (``None``: no run).
ACTIONS: dict[str, tuple[Action, RunKind | None, str]] = {
    "plan": (Action.PLAN, RunKind.PLAN, "Plan"),
    "apply": (Action.APPLY, RunKind.APPLY, "Apply"),
    "check-drift": (Action.DRIFT_CHECK, RunKind.DRIFT, "Check drift"),
    "destroy": (Action.DESTROY, RunKind.DESTROY, "Destroy"),
}
#: Which statuses each action makes sense in (buttons only; the core decides).
_OFFERED = {
    "plan": {
        "request_created",
        "plan_ready",
        "approved",
        "rejected",
        "changes_requested",
        "failed",
        "applied",
    },
    "apply": {"approved"},
    "check-drift": {"applied"},
    "destroy": {"applied"},
}


def page_actor(request: Request) -> str:
    """The logged-in actor of a page (GET without one redirects to the login page)."""
    actor = optional_actor(request)
    if actor is None:
        raise Unauthenticated()
    return actor


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A page, with what the layout needs (actor, CSRF token, navigation)."""
    state = state_of(request)
    actor = optional_actor(request)
    role = state.platform.role_of(actor).value if actor else None
    base = {
        "actor": actor,
        "role": role,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request),
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def error_page(
    request: Request, problem: Problem, *, headers: dict[str, str] | None = None
) -> Response:
    """The HTML form of a problem document."""
    response = render(request, "error.html", {"problem": problem}, status_code=problem.status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _form(request: Request) -> Any:
    return request.form()


async def _checked_form(request: Request) -> dict[str, str]:
    """The posted form, after the CSRF check (403 without the session's token)."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, data.get(CSRF_FIELD))
    return data


async def _posted(request: Request) -> tuple[str, dict[str, str], Platform]:
    """What every form post starts with: the logged-in actor (:func:`page_actor`, checked
    before the body is read), the form after the CSRF check, and the platform."""
    actor = page_actor(request)
    return actor, await _checked_form(request), state_of(request).platform


def _run_started(platform: Platform, request_id: str, kind: RunKind | None, before: int) -> bool:
    if kind is None:
        return True
    return len(platform.get(request_id).attempts(kind)) > before


def run_action(
    platform: Platform, request_id: str, kind: RunKind | None, call: Any, *, wait: float = 5.0
) -> None:
    """Start a Platform action in a thread; return when its run is recorded or it finished.

    Terraform takes seconds to minutes: the page comes back as soon as the run is recorded
    (status ``planning``, ``applying``...) and refreshes itself until it ends. A refusal (403,
    409) comes before any run starts, so it is raised here and answered as usual; failures
    after that are recorded on the request by the core (``plan_failed``...).
    """
    before = len(platform.get(request_id).attempts(kind)) if kind else 0
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # reported below, or recorded by the core
            outcome.append(exc)
            if not isinstance(exc, TfpilotError):
                import structlog

                structlog.get_logger("tfpilot.web").exception("action_failed", request=request_id)

    # In a copy of the HTTP request's context: the run stays in the request's trace.
    thread = threading.Thread(
        target=contextvars.copy_context().run,
        args=(target,),
        name=f"tfpilot-{request_id}",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + wait
    while thread.is_alive() and time.monotonic() < deadline:
        if _run_started(platform, request_id, kind, before):
            return
        thread.join(0.05)
    if outcome and not (kind and _run_started(platform, request_id, kind, before)):
        raise outcome[0]


def build_pages() -> APIRouter:
    """The UI's routes (left out of the OpenAPI description)."""
    from tfpilot_core.run_logs import live

    # Request pages show Terraform's output of runs in progress here as it comes.
    live.follow()
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        github = state_of(request).settings.github_oauth is not None
        return render(
            request, "login.html", {"next": _safe_next(next), "error": None, "github": github}
        )

    @router.post("/login")
    async def login(request: Request) -> Response:
        state = state_of(request)
        client = client_address(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            state.settings.trusted_proxies,
        )
        wait = await run_in_threadpool(state.limiter.hit, client)
        if wait is not None:
            response = render(
                request,
                "login.html",
                {"next": "/", "error": "Too many attempts: wait a minute and try again."},
                status_code=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        form = await _checked_form(request)
        target = _safe_next(form.get("next", "/"))
        found = check_login(state.platform, form.get("token", ""))
        if found is None:
            return render(
                request,
                "login.html",
                {"next": target, "error": "That token is not valid (revoked or mistyped)."},
                status_code=401,
            )
        identity, key = found
        # A fresh session at login (no fixation): new CSRF token, the token's key, the user, and
        # the id of the server-side session that logout ends.
        fields = {"user": identity.actor, "token_key": key}
        sid = await run_in_threadpool(
            lambda: start_session(
                state.platform.store, fields, max_age=state.settings.session_max_age
            )
        )
        request.session.clear()
        request.session.update({**fields, "sid": sid})
        csrf_token(request)
        return RedirectResponse(target, status_code=303)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await _checked_form(request)
        # Ended on the server: a copy of the cookie no longer works, on any replica.
        session = dict(request.session)
        await run_in_threadpool(end_session, state_of(request).platform.store, session)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @router.get("/", response_class=HTMLResponse)
    def requests_page(
        request: Request,
        actor: str = Depends(page_actor),
        status: str | None = None,
        environment: str | None = None,
        module: str | None = None,
        project: str | None = None,
        author: str | None = None,
        cursor: str | None = None,
        drift: str | None = None,
    ) -> HTMLResponse:
        platform = state_of(request).platform
        filters = {
            "status": status or None,
            "environment": environment or None,
            "module": module or None,
            "project": project or None,
            "author": author or None,
        }
        page = core.list_requests(
            platform, actor, RequestQuery(**filters, limit=25, cursor=cursor or None)
        )
        rows = [core.view(platform, r) for r in page.items]
        for row in rows:
            row["drift_state"] = review.drift_state(row)
        if drift:
            # Drift is a fact of each request, not a stored filter: applied to this page.
            rows = [row for row in rows if row["drift_state"] == drift]
        next_url = None
        if page.next_cursor:
            given = {k: v for k, v in {**filters, "drift": drift}.items() if v}
            next_url = "/?" + urlencode({**given, "cursor": page.next_cursor})
        return render(
            request,
            "requests.html",
            {
                "rows": rows,
                "filters": {**filters, "drift": drift or None},
                "next_url": next_url,
                "environments": [e.key for e in platform.config.core.environments],
                "statuses": _statuses(),
            },
        )

    @router.get("/catalog", response_class=HTMLResponse)
    def catalog_page(request: Request) -> HTMLResponse:
        specs = state_of(request).platform.catalog.list()
        return render(request, "catalog.html", {"modules": specs})

    @router.get("/catalog/{name:path}", response_class=HTMLResponse)
    def module_page(request: Request, name: str, template: str = "") -> HTMLResponse:
        from tfpilot_web.form_templates import prefill

        values = prefill(request.query_params)
        return _module_form(request, name, values=values, errors={}, template=template)

    @router.post("/catalog/{name:path}")
    async def create_from_form(request: Request, name: str) -> Response:
        actor, form, platform = await _posted(request)
        spec = platform.catalog.get(name)
        fields = form_fields(spec.input_json_schema())
        inputs, problems = parse_form(fields, form)
        values = {f.name: form.get(f"input.{f.name}", "") for f in fields if not f.sensitive}
        values.update(project=form.get("project", ""), environment=form.get("environment", ""))
        from tfpilot_web.form_templates import posted_inputs

        values["template"] = form.get("template", "")
        # Opt-outs with their justifications, sent as the CLI sends them; the core checks them.
        from tfpilot_web import opt_outs

        asked = opt_outs.requested(form)
        values.update({opt_outs.PREFIX + o["rule_id"]: o["justification"] for o in asked})
        inputs, template_id, problems = posted_inputs(
            platform, name, form, inputs, problems, [f.name for f in fields]
        )
        if not any(e.key == form.get("environment") for e in platform.config.core.environments):
            problems.append(FieldProblem("environment", "allowlist", "choose an environment"))
        if not form.get("project"):
            problems.append(FieldProblem("project", "required", "is required"))
        if problems:
            return _module_form(
                request, name, values=values, errors=errors_by_field(problems), status_code=422
            )
        try:
            created = platform.create(
                actor,
                module=name,
                environment=form.get("environment", ""),
                project=form["project"],
                inputs=inputs,
                template_id=template_id,
                opt_outs=asked,
            )
        except ValidationError as exc:
            by_rule, others = opt_outs.problems_by_rule(exc.problems, asked)
            return _module_form(
                request,
                name,
                values=values,
                errors=errors_by_field(others),
                message="; ".join(
                    f"opt-out of {rule}: {', '.join(texts)}" for rule, texts in by_rule.items()
                )
                or None,
                status_code=422,
            )
        except PolicyBlockedError as exc:
            return _module_form(
                request, name, values=values, errors={}, message=exc.message, status_code=409
            )
        if form.get("plan_now") == "yes" and core.may(platform, actor, Action.PLAN, created):
            run_action(
                platform,
                created.id,
                RunKind.PLAN,
                lambda: platform.plan(actor, created.id),
            )
        return RedirectResponse(f"/requests/{created.id}", status_code=303)

    @router.get("/requests/{request_id}", response_class=HTMLResponse)
    def request_page(
        request: Request, request_id: str, actor: str = Depends(page_actor), offset: int = 0
    ) -> HTMLResponse:
        platform = state_of(request).platform
        found = core.read(platform, actor, request_id)
        context = _request_context(platform, actor, found, offset=offset)
        return render(request, "request.html", context)

    @router.get("/requests/{request_id}/live", response_class=HTMLResponse)
    def request_live(
        request: Request, request_id: str, actor: str = Depends(page_actor), n: int = 0
    ) -> HTMLResponse:
        """The parts of the request page that change during a run, as htmx out-of-band swaps:
        status (an ``aria-live`` region) and logs always; when the run is over, the sections
        the run changed too. Open ``<details>`` elsewhere and keyboard focus are untouched."""
        platform = state_of(request).platform
        found = core.read(platform, actor, request_id)
        context = _request_context(platform, actor, found)
        context["known"] = n
        return render(request, "request_live.html", context)

    @router.post("/requests/{request_id}/approve")
    async def approve(request: Request, request_id: str) -> Response:
        actor, form, platform = await _posted(request)
        digest = form.get("plan_digest", "")
        if not digest:
            raise ValidationError([FieldProblem("plan_digest", "required", "is required")])
        found = core.read(platform, actor, request_id)
        overrides = review.overrides_from_form(review.overrides_to_give(platform, found), form)
        try:
            platform.approve(
                actor,
                request_id,
                plan_digest=digest,
                comment=form.get("comment", ""),
                overrides=overrides,
            )
        except (ConflictError, PolicyBlockedError) as exc:
            return _refused(request, platform, actor, request_id, form, exc, "approve_error")
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @router.post("/requests/{request_id}/reject")
    async def reject(request: Request, request_id: str) -> Response:
        """Reject the current plan, or ask for changes, with a reason (offered only when the
        core has the lifecycle action: ``Platform.reject``)."""
        actor, form, platform = await _posted(request)
        try:
            platform.reject(
                actor,
                request_id,
                plan_digest=form.get("plan_digest", ""),
                reason=form.get("reason", ""),
                request_changes=form.get("request_changes") == "yes",
            )
        except (ConflictError, ValidationError) as exc:
            return _refused(request, platform, actor, request_id, form, exc, "reject_error")
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @router.post("/requests/{request_id}/cancel")
    async def cancel(request: Request, request_id: str) -> Response:
        """Cancel a queued run (its starter or an admin: the core decides)."""
        actor, form, platform = await _posted(request)
        try:
            await run_in_threadpool(
                platform.cancel, actor, request_id, form.get("attempt_id") or None
            )
        except ConflictError as exc:
            found = core.read(platform, actor, request_id)
            context = _request_context(platform, actor, found)
            context["cancel_error"] = exc.message
            return render(request, "request.html", context, status_code=409)
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @router.get("/requests/{request_id}/edit", response_class=HTMLResponse)
    def edit_page(
        request: Request, request_id: str, actor: str = Depends(page_actor)
    ) -> HTMLResponse:
        platform = state_of(request).platform
        found = core.read(platform, actor, request_id)
        return _edit_form(request, found, values=None, errors={})

    @router.post("/requests/{request_id}/edit")
    async def edit(request: Request, request_id: str) -> Response:
        actor, form, platform = await _posted(request)
        found = core.read(platform, actor, request_id)
        spec = platform.catalog.get(found.placement.module)
        fields = form_fields(spec.input_json_schema())
        inputs, problems = parse_form(fields, form)
        values = {f.name: form.get(f"input.{f.name}", "") for f in fields if not f.sensitive}
        if not problems:
            # A sensitive input left empty keeps its value (the form never shows it).
            for f in fields:
                if f.sensitive and f.name not in inputs and f.name in found.inputs:
                    inputs[f.name] = found.inputs[f.name]
            try:
                platform.update(actor, request_id, inputs=inputs)
            except ValidationError as exc:
                problems = list(exc.problems)
        if problems:
            return _edit_form(
                request, found, values=values, errors=errors_by_field(problems), status_code=422
            )
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @router.post("/requests/{request_id}/{action}")
    async def act(request: Request, request_id: str, action: str) -> Response:
        actor = page_actor(request)
        if action not in ACTIONS:
            from starlette.exceptions import HTTPException

            raise HTTPException(404, f"no action {action!r}")
        form = await _checked_form(request)
        platform = state_of(request).platform
        if action in ("apply", "destroy"):
            found = core.read(platform, actor, request_id)
            if review.needs_confirmation(platform, found) and form.get("confirm") != request_id:
                context = _request_context(platform, actor, found)
                context["confirm_error"] = (
                    action,
                    f"type the request's id ({request_id}) to confirm: {action} in protected "
                    f"environment {found.placement.environment}",
                )
                return render(request, "request.html", context, status_code=422)
        _, kind, _ = ACTIONS[action]
        method = getattr(platform, action.replace("-", "_"))
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(
            run_action, platform, request_id, kind, lambda: method(actor, request_id)
        )
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    @router.get("/approvals", response_class=HTMLResponse)
    def approvals_page(
        request: Request, actor: str = Depends(page_actor), sort: str = "age"
    ) -> HTMLResponse:
        platform = state_of(request).platform
        page = core.list_requests(platform, actor, RequestQuery(status="plan_ready", limit=200))
        rows = [
            review.inbox_row(platform, r, core.view(platform, r), core.current_plan_digest(r))
            for r in page.items
            if core.may(platform, actor, Action.APPROVE, r)
        ]
        key = sort.lstrip("-")
        if key not in review.INBOX_SORTS:
            key, sort = "age", "age"
        rows.sort(key=review.INBOX_SORTS[key], reverse=sort.startswith("-"))
        return render(
            request, "approvals.html", {"rows": rows, "sort": sort, "sorts": review.INBOX_SORTS}
        )

    @router.get("/drift", response_class=HTMLResponse)
    def drift_page(request: Request, actor: str = Depends(page_actor)) -> HTMLResponse:
        from tfpilot_web.api import drift_items

        platform = state_of(request).platform
        items = drift_items(platform, actor, 500)
        # The attribute paths are on each drifted request's last check (read only for those).
        paths = {
            i.id: review.drift_paths(core.read(platform, actor, i.id))
            for i in items
            if i.drift is not None and i.drift.result.value == "drifted"
        }
        return render(request, "drift.html", {"items": items, "paths": paths})

    return router


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect after login would hand the session to a phishing page.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _statuses() -> list[str]:
    from tfpilot_core.lifecycle import RequestStatus

    return [s.value for s in RequestStatus]


def _module_form(
    request: Request,
    name: str,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    message: str | None = None,
    status_code: int = 200,
    template: str = "",
) -> HTMLResponse:
    platform = state_of(request).platform
    spec = platform.catalog.get(name)
    from tfpilot_web.form_templates import form_context

    fields = form_fields(spec.input_json_schema())
    chosen = template or values.get("template", "")
    extra = form_context(
        platform, name, chosen, values, [f.name for f in fields], actor=optional_actor(request)
    )
    actor = optional_actor(request)
    environments = [e.key for e in platform.config.core.environments]
    may_create = actor is not None and any(
        platform.access.may(
            actor, Action.CREATE, project=values.get("project") or "x", environment=e
        )
        if hasattr(platform, "access")
        else True
        for e in environments
    )
    return render(
        request,
        "module.html",
        {
            "spec": spec,
            "fields": fields,
            "values": values,
            "errors": errors,
            "message": message,
            "environments": environments,
            "may_create": may_create,
            **extra,
        },
        status_code=status_code,
    )


def _refused(
    request: Request,
    platform: Platform,
    actor: str,
    request_id: str,
    form: Mapping[str, str],
    exc: TfpilotError,
    error_key: str,
) -> Response:
    """A refused approve or reject: back to the page with what the reviewer wrote kept and the
    reason; a stale digest (409) shows the new plan, the page being of the current one, with a
    link to it; invalid input is 422."""
    found = core.read(platform, actor, request_id)
    context = _request_context(platform, actor, found)
    context[error_key] = exc.message
    context["stale"] = isinstance(exc, ConflictError)
    context["form"] = form
    code = 422 if isinstance(exc, ValidationError) else 409
    return render(request, "request.html", context, status_code=code)


def _request_context(
    platform: Platform, actor: str, request: TfRequest, *, offset: int = 0
) -> dict[str, Any]:
    data = core.view(platform, request)
    status = data["status"]
    digest = core.current_plan_digest(request)
    needed = review.overrides_to_give(platform, request)
    running = any(a.status.value != "completed" for runs in request.runs.values() for a in runs)
    busy = status in BUSY or running
    destroying = review.destroy_requester(request) is not None
    buttons = [
        {"action": key, "label": "Apply the destroy" if destroying and key == "apply" else label}
        for key, (action, _, label) in ACTIONS.items()
        if status in _OFFERED[key]
        and core.may(platform, actor, action, request)
        # Applying a destroy plan destroys: the core asks for the destroy right too.
        and not (
            key == "apply" and destroying and not core.may(platform, actor, Action.DESTROY, request)
        )
    ]
    may_approve = (
        status == "plan_ready"
        and digest is not None
        and core.may(platform, actor, Action.APPROVE, request)
    )
    # A reviewer may refuse a ready plan, or one another approver approved (not applied yet).
    may_reject = (
        status in ("plan_ready", "approved")
        and digest is not None
        and core.may(platform, actor, Action.APPROVE, request)
    )
    queued = review.queued_run(request)
    may_cancel = queued is not None and review.may_cancel(platform, actor, request, queued)
    try:
        events = core.timeline(platform, actor, request.id)
    except ForbiddenError:
        events = []
    plan = request.latest(RunKind.PLAN)
    counts = plan.details.get("counts", {}) if plan is not None else {}
    from tfpilot_web.api import _has_module, run_logs

    logs = run_logs(platform, actor, request.id) if _has_module("tfpilot_core.run_logs") else []
    from tfpilot_core.run_logs import live

    for entry in logs:  # the actor may read this request (run_logs checked)
        if entry["log"] is None and entry["status"] != "completed":
            entry["live"] = live.current(platform.store, request.id, entry["attempt"])
    drift = request.drift
    drifted = drift is not None and drift.result.value == "drifted" and status == "applied"
    failure = latest_failure(request)
    return {
        # Why the latest run failed and what to do (issue 28), masked like the log.
        "failure": render_failure(failure) if failure is not None else None,
        "r": data,
        "status": status,
        "shown_status": "drifted" if drifted else status,
        "destroy_plan": review.destroy_requester(request) is not None,
        "destroy_by": review.destroy_requester(request),
        "busy": busy,
        "logs": logs,
        "digest": digest,
        "buttons": buttons,
        "may_approve": may_approve,
        "may_reject": may_reject,
        "queued": queued if may_cancel else None,
        "rejections": review.rejections(request),
        "may_edit": status not in BUSY
        and status != "destroyed"
        and core.may(platform, actor, Action.UPDATE, request),
        "events": events,
        "timeline": review.timeline_groups(events),
        "counts": counts,
        "diff": review.diff_document(platform, request, digest, offset=offset),
        "page_size": review.PAGE,
        "open_up_to": review.OPEN_UP_TO,
        "next": review.next_step(platform, actor, request, status),
        "approvals": review.approvals(request, digest),
        "confirm": review.needs_confirmation(platform, request),
        "mandatory": [o for o in needed if o["kind"] == "finding"],
        "accept_opt_outs": [o for o in needed if o["kind"] == "opt_out"],
        "blocking": [f for f in request.policy_findings if f.level.value == "blocking"],
        "drifted": drifted,
        "drift": drift,
        "drift_paths": review.drift_paths(request),
        "approve_error": None,
        "reject_error": None,
        "cancel_error": None,
        "confirm_error": None,
        "stale": False,
        "form": {},
        "format_value": format_value,
    }


def _edit_form(
    request: Request,
    found: TfRequest,
    *,
    values: dict[str, str] | None,
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    platform = state_of(request).platform
    spec = platform.catalog.get(found.placement.module)
    fields = form_fields(spec.input_json_schema())
    if values is None:
        from tfpilot_core.catalog.validation import RESERVED_TAG_PREFIX

        view = dict(core.view(platform, found)["inputs"])
        tags = view.get(spec.tags_input or "")
        if isinstance(tags, dict):
            # The tags tfpilot sets itself are not the user's to edit (the core refuses them).
            view[spec.tags_input or ""] = {
                k: v for k, v in tags.items() if not k.startswith(RESERVED_TAG_PREFIX)
            }
        values = {f.name: _form_value(view.get(f.name)) for f in fields if not f.sensitive}
    return render(
        request,
        "edit.html",
        {
            "r": core.view(platform, found),
            "spec": spec,
            "fields": fields,
            "values": values,
            "errors": errors,
        },
        status_code=status_code,
    )


def _form_value(value: Any) -> str:
    import json

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)
