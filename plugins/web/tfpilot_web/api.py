"""The JSON API under ``/api``: the Platform API over HTTP, every call as the authenticated actor.

Actions call the Platform with the caller as the actor; the core decides (RBAC, four eyes,
lifecycle) and its errors become problem details (:mod:`tfpilot_web.problems`). A caller without
credentials gets 401 before anything runs; a viewer gets the core's 403.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from tfpilot_core.errors import NotFoundError
from tfpilot_core.models import RequestQuery
from tfpilot_core.rbac import Action
from tfpilot_core.templates import TemplateRecord
from tfpilot_web import core
from tfpilot_web.deps import Actor, reading_actor, state_of
from tfpilot_web.problems import responses
from tfpilot_web.schemas import (
    ApproveBody,
    AskAnswer,
    AskBody,
    CostReport,
    CreateRequestBody,
    CreateTemplateBody,
    DriftItem,
    ModuleDetail,
    ModuleSummary,
    RejectBody,
    RequestList,
    RequestView,
    Timeline,
    UpdateRequestBody,
    UpdateTemplateBody,
    WhoAmI,
)

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_core.templates import Templates

#: Statuses every read may answer.
READ_ERRORS = responses(401, 403, 404, 422)
#: Statuses every action may answer (policy and conflicts are 409; Terraform failing is 502).
ACTION_ERRORS = responses(401, 403, 404, 409, 422, 502)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="Repeat the same call with the same key to get the first result again.",
    ),
]


def _platform(request: Request) -> Platform:
    return state_of(request).platform


def check_environment(platform: Platform, key: str, field: str = "environment") -> str:
    """``key`` if it is a configured environment, else a 422 naming the field.

    The core reads an unknown environment as a configuration error (500); from a caller it is
    invalid input.
    """
    from tfpilot_core.errors import FieldProblem, ValidationError

    known = [e.key for e in platform.config.core.environments]
    if key not in known:
        raise ValidationError(
            [FieldProblem(field, "allowlist", f"must be one of {', '.join(known)}")]
        )
    return key


def _view(platform: Platform, request: Any) -> RequestView:
    return RequestView.model_validate(core.view(platform, request))


def build_router(platform: Platform | None = None) -> APIRouter:
    """The ``/api`` router; routes for capabilities the core offers are added when it has them.

    Mounted when present: ``platform.verify_audit`` (``/audit/verify``),
    ``platform.suggestions`` (``/suggestions``), captured logs (``tfpilot_core.run_logs``,
    ``/logs``) and metrics (``tfpilot_core.metrics``, ``/api/metrics``). Always: templates
    (``tfpilot_core.templates``), the stored cost estimate (``tfpilot_core.cost`` renderers) and
    ask (``tfpilot_core.ask``).
    """
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/whoami", response_model=WhoAmI, responses=responses(401))
    def whoami(request: Request, actor: Actor) -> WhoAmI:
        """The authenticated caller and their global role."""
        identity = request.state.identity
        return WhoAmI(actor=actor, role=_platform(request).role_of(actor).value, via=identity.via)

    @router.get("/requests", response_model=RequestList, responses=responses(401, 403, 422))
    def list_requests(
        request: Request,
        actor: Actor,
        status: Annotated[str | None, Query(max_length=40)] = None,
        environment: Annotated[str | None, Query(max_length=12)] = None,
        module: Annotated[str | None, Query(max_length=200)] = None,
        author: Annotated[str | None, Query(max_length=128)] = None,
        project: Annotated[str | None, Query(max_length=40)] = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> Response:
        """Requests the caller may read, newest first, filtered, one page at a time."""
        platform = _platform(request)
        query = RequestQuery(
            status=status,
            environment=environment,
            module=module,
            author=author,
            project=project,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        page = core.list_requests(platform, actor, query)
        # Encoded directly from cached views (``core.ViewCache``, exact per stored version):
        # validating 1,000 nested models again against RequestList would double the time.
        cache = state_of(request).views
        items = b",".join(cache.encoded(platform, r) for r in page.items)
        following = json.dumps(page.next_cursor).encode()
        body = b'{"items":[' + items + b'],"next_cursor":' + following + b"}"
        return Response(body, media_type="application/json")

    @router.post(
        "/requests",
        status_code=201,
        response_model=RequestView,
        responses=ACTION_ERRORS,
    )
    def create_request(
        request: Request, body: CreateRequestBody, actor: Actor, key: IdempotencyKey = None
    ) -> RequestView:
        """Create a request (validated against the module's schema and pre-plan policy)."""
        platform = _platform(request)
        check_environment(platform, body.environment)
        created = platform.create(
            actor,
            module=body.module,
            environment=body.environment,
            project=body.project,
            inputs=body.inputs,
            template_id=body.template_id,
            opt_outs=[o.model_dump() for o in body.opt_outs],
            idempotency_key=key,
        )
        return _view(platform, created)

    @router.get("/requests/{request_id}", response_model=RequestView, responses=READ_ERRORS)
    def show_request(request: Request, request_id: str) -> Response:
        """One request."""
        platform = _platform(request)
        # Identified, authorised, read and encoded in this one worker-thread hop: the caller
        # is checked here (``deps.reading_actor``), and the body is the listing's encoded view
        # (``core.ViewCache``, exact per stored version), not a RequestView validated here and
        # again by FastAPI on the way out (two more hops under a sync endpoint).
        found = core.read(platform, reading_actor(request), request_id)
        body = state_of(request).views.encoded(platform, found)
        return Response(body, media_type="application/json")

    @router.patch("/requests/{request_id}", response_model=RequestView, responses=ACTION_ERRORS)
    def update_request(
        request: Request,
        request_id: str,
        body: UpdateRequestBody,
        actor: Actor,
        key: IdempotencyKey = None,
    ) -> RequestView:
        """Change inputs: a new revision, which voids earlier plans and approvals."""
        platform = _platform(request)
        updated = platform.update(actor, request_id, body.inputs, idempotency_key=key)
        return _view(platform, updated)

    def action(name: str, summary: str) -> None:
        def run(request: Request, request_id: str, actor: Actor) -> RequestView:
            platform = _platform(request)
            method = getattr(platform, name)
            return _view(platform, method(actor, request_id))

        run.__doc__ = summary
        router.add_api_route(
            f"/requests/{{request_id}}/{name.replace('_', '-')}",
            run,
            methods=["POST"],
            response_model=RequestView,
            responses=ACTION_ERRORS,
            name=f"{name}_request",
            summary=summary,
        )

    action("plan", "Plan: Terraform plan, policy, cost and summary on the plan.")
    action("apply", "Apply exactly the approved plan.")
    action("check_drift", "Check an applied request for drift.")
    action("promote", "Copy an applied request's inputs to the next environment.")

    @router.post(
        "/requests/{request_id}/destroy", response_model=RequestView, responses=ACTION_ERRORS
    )
    def destroy_request(
        request: Request,
        request_id: str,
        actor: Actor,
        yes: Annotated[bool, Query(description="Plan and apply the destroy at once.")] = False,
    ) -> RequestView:
        """Plan the destroy of an applied request (approve and apply it next), or with
        ``yes=true`` in an unprotected environment, destroy at once."""
        platform = _platform(request)
        return _view(platform, platform.destroy(actor, request_id, yes=yes))

    @router.post(
        "/requests/{request_id}/approve", response_model=RequestView, responses=ACTION_ERRORS
    )
    def approve_request(
        request: Request, request_id: str, body: ApproveBody, actor: Actor
    ) -> RequestView:
        """Approve the plan with this digest (four eyes and overrides are the core's)."""
        platform = _platform(request)
        approved = platform.approve(
            actor,
            request_id,
            plan_digest=body.plan_digest,
            comment=body.comment,
            overrides=[o.model_dump(exclude_none=True) for o in body.overrides],
        )
        return _view(platform, approved)

    @router.post(
        "/requests/{request_id}/reject", response_model=RequestView, responses=ACTION_ERRORS
    )
    def reject_request(
        request: Request, request_id: str, body: RejectBody, actor: Actor
    ) -> RequestView:
        """Reject the plan with this digest, or ask for changes, with a reason (who may is who
        may approve; a rejected plan cannot be approved or applied until a new plan)."""
        platform = _platform(request)
        rejected = platform.reject(
            actor,
            request_id,
            plan_digest=body.plan_digest,
            reason=body.reason,
            request_changes=body.request_changes,
        )
        return _view(platform, rejected)

    @router.post(
        "/requests/{request_id}/cancel", response_model=RequestView, responses=ACTION_ERRORS
    )
    def cancel_request(
        request: Request,
        request_id: str,
        actor: Actor,
        attempt: Annotated[
            str | None, Query(max_length=100, description="The queued attempt [default: any].")
        ] = None,
    ) -> RequestView:
        """Cancel a queued run (dispatched, not started): its starter or an admin; a running
        run cannot be cancelled (409)."""
        platform = _platform(request)
        return _view(platform, platform.cancel(actor, request_id, attempt))

    @router.get("/requests/{request_id}/timeline", response_model=Timeline, responses=READ_ERRORS)
    def timeline(request: Request, request_id: str, actor: Actor) -> Timeline:
        """The request's events, oldest first."""
        events = core.timeline(_platform(request), actor, request_id)
        return Timeline(request_id=request_id, events=events)

    @router.get("/requests/{request_id}/audit", responses=READ_ERRORS)
    def audit(request: Request, request_id: str, actor: Actor) -> dict[str, Any]:
        """The request's change decision record (derived only from what is stored)."""
        return core.audit(_platform(request), actor, request_id)

    if platform is not None and hasattr(platform, "verify_audit"):

        @router.get("/requests/{request_id}/audit/verify", responses=READ_ERRORS)
        def verify_audit(request: Request, request_id: str, actor: Actor) -> dict[str, Any]:
            """Check the request's event hash chain (``ok``, head, first break)."""
            report = _platform(request).verify_audit(actor, request_id)
            return report.to_dict() if hasattr(report, "to_dict") else _jsonable(report)

    if platform is not None and hasattr(platform, "suggestions"):

        @router.get("/requests/{request_id}/suggestions", responses=READ_ERRORS)
        def suggestions(request: Request, request_id: str, actor: Actor) -> dict[str, Any]:
            """Checked suggestions (safer or cheaper inputs) for the current revision.

            Without what-if plans: a GET never runs Terraform.
            """
            report = _platform(request).suggestions.for_request(actor, request_id, what_if=False)
            return _jsonable(report)

    if _has_module("tfpilot_core.run_logs"):

        @router.get("/requests/{request_id}/logs", responses=READ_ERRORS)
        def logs(request: Request, request_id: str, actor: Actor) -> list[dict[str, Any]]:
            """Captured Terraform output of each run attempt, oldest first (masked by the core)."""
            return run_logs(_platform(request), actor, request_id)

    if _has_module("tfpilot_core.metrics"):

        @router.get("/metrics", responses=responses(401, 422))
        def metrics(
            request: Request,
            actor: Actor,
            since: Annotated[str, Query(max_length=12, description="30m, 12h, 7d, 2w")] = "7d",
            by: Annotated[str | None, Query(pattern="^(module|env|project)$")] = None,
        ) -> dict[str, Any]:
            """Lifecycle metrics over the requests the caller may read (p50/p95/p99, counts)."""
            from tfpilot_core.metrics import metrics as report_metrics
            from tfpilot_core.metrics import parse_since

            platform = _platform(request)
            window = parse_since(since)

            def visible(project: str, environment: str) -> bool:
                return bool(
                    platform.access.may(
                        actor, Action.READ, project=project, environment=environment
                    )
                )

            return _jsonable(report_metrics(platform.store, since=window, by=by, visible=visible))

    @router.get("/requests/{request_id}/cost", response_model=CostReport, responses=READ_ERRORS)
    def cost(
        request: Request,
        request_id: str,
        actor: Actor,
        top: Annotated[int, Query(ge=0, le=1000, description="Resources to list.")] = 5,
    ) -> CostReport:
        """The cost estimate stored with the current plan: totals, delta, top resources.

        Runs no estimator; 404 when the request has no estimate yet (plan it first).
        """
        return cost_report(core.read(_platform(request), actor, request_id), top)

    @router.get("/requests/{request_id}/diff", responses=READ_ERRORS)
    def diff(
        request: Request,
        request_id: str,
        actor: Actor,
        offset: Annotated[int, Query(ge=0, description="First resource to return.")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Resources to return.")] = 100,
    ) -> dict[str, Any]:
        """The structured diff of the current plan (:mod:`tfpilot_core.plan_diff`): per
        resource the action (with Terraform's reason), the attributes before and after
        (unknown and sensitive marked, sensitive values masked), its findings and cost; the
        counts and cost totals of the whole plan. 404 when the current plan has no recorded
        diff (not planned yet).
        """
        from tfpilot_web.review import diff_document

        platform = _platform(request)
        found = core.read(platform, actor, request_id)
        document = diff_document(
            platform, found, core.current_plan_digest(found), offset=offset, limit=limit
        )
        if document is None:
            raise NotFoundError(f"request {request_id} has no plan diff: plan it first")
        return document

    @router.post("/ask", response_model=AskAnswer, responses=responses(401, 422))
    def ask(request: Request, body: AskBody, actor: Actor) -> AskAnswer:
        """Answer a question about requests (offline), with the query it ran.

        Only requests the caller may read are counted or shown. A question that is not
        understood is 422, naming forms that work (the CLI's exit code 3).
        """
        from tfpilot_core.ask import ask as answer_question
        from tfpilot_core.errors import FieldProblem, ValidationError

        answer = answer_question(_platform(request), actor, body.question)
        if not answer.answered:
            forms = "; ".join(repr(e) for e in answer.suggestions)
            raise ValidationError(
                [FieldProblem("question", "understood", f"{answer.text} {forms}")]
            )
        return AskAnswer.model_validate(answer.to_dict())

    @router.get("/templates", response_model=list[TemplateRecord], responses=responses(401, 422))
    def list_templates(
        request: Request,
        actor: Actor,
        module: Annotated[str | None, Query(max_length=200)] = None,
        environment: Annotated[str | None, Query(max_length=12)] = None,
        include_retired: bool = False,
    ) -> list[TemplateRecord]:
        """Templates by name, each with every version (current: the last), matching the filters."""
        return _templates(request).list(
            module=module, environment=environment, include_retired=include_retired
        )

    @router.get(
        "/templates/{name}", response_model=TemplateRecord, responses=responses(401, 404, 422)
    )
    def show_template(request: Request, name: str, actor: Actor) -> TemplateRecord:
        """One template with every version."""
        return _templates(request).record(name)

    @router.post(
        "/templates", status_code=201, response_model=TemplateRecord, responses=ACTION_ERRORS
    )
    def create_template(request: Request, body: CreateTemplateBody, actor: Actor) -> TemplateRecord:
        """Create a template at version 1 (admins; 409 if the name is taken)."""
        templates = _templates(request)
        if body.environment is not None:
            check_environment(_platform(request), body.environment)
        fields = body.model_dump(exclude={"name"})
        templates.create(actor, body.name, **fields)
        return templates.record(body.name)

    @router.patch("/templates/{name}", response_model=TemplateRecord, responses=ACTION_ERRORS)
    def update_template(
        request: Request, name: str, body: UpdateTemplateBody, actor: Actor
    ) -> TemplateRecord:
        """A new version with the given fields changed (admins); existing requests keep theirs."""
        templates = _templates(request)
        changes = body.model_dump(exclude_unset=True)
        if changes.get("environment") is not None:
            check_environment(_platform(request), changes["environment"])
        for field in ("description", "defaults", "locked"):
            if field in changes and changes[field] is None:
                del changes[field]  # null for these means "unchanged"; only pins are removable
        templates.update(actor, name, **changes)
        return templates.record(name)

    @router.post("/templates/{name}/retire", response_model=TemplateRecord, responses=ACTION_ERRORS)
    def retire_template(request: Request, name: str, actor: Actor) -> TemplateRecord:
        """Retire a template (admins): new requests cannot use it, existing ones are unchanged."""
        return _templates(request).retire(actor, name)

    @router.get("/catalog", response_model=list[ModuleSummary])
    def catalog(request: Request) -> list[ModuleSummary]:
        """Every module in the catalog (public: module metadata holds no request data)."""
        return [_summary(s) for s in _platform(request).catalog.list()]

    @router.get("/catalog/{name:path}", response_model=ModuleDetail, responses=responses(404))
    def module(request: Request, name: str) -> ModuleDetail:
        """One module with its input JSON Schema."""
        spec = _platform(request).catalog.get(name)
        return ModuleDetail(
            **_summary(spec).model_dump(),
            input_schema=spec.input_json_schema(),
            examples=[e.model_dump(mode="json") for e in spec.examples],
        )

    @router.get("/policy", responses=responses(401, 404, 422))
    def policy(
        request: Request,
        actor: Actor,
        environment: Annotated[str | None, Query(max_length=12)] = None,
    ) -> dict[str, Any]:
        """The policy in force per environment (rules, levels, parameters) of every engine."""
        return effective_policy(_platform(request), environment)

    @router.get("/drift", response_model=list[DriftItem], responses=responses(401, 403, 422))
    def drift(
        request: Request, actor: Actor, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> list[DriftItem]:
        """Applied requests the caller may read, with their latest drift check."""
        return drift_items(_platform(request), actor, limit)

    return router


def _templates(request: Request) -> Templates:
    from tfpilot_core.templates import Templates

    return Templates(_platform(request))


def cost_report(found: Any, top: int = 5) -> CostReport:
    """The stored estimate of ``found`` through the core's renderers (404 without one)."""
    from tfpilot_core.cost import delta_phrase, estimate_dict, render_markdown

    estimate = found.cost
    if estimate is None:
        raise NotFoundError(
            f"request {found.id} has no cost estimate: plan it first, with a cost estimator "
            "installed"
        )
    data = estimate_dict(estimate, top=top)
    return CostReport.model_validate(
        {
            **{k: v for k, v in data.items() if k in CostReport.model_fields},
            "request_id": found.id,
            "phrase": delta_phrase(estimate),
            "markdown": render_markdown(estimate, top=top),
        }
    )


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def run_logs(platform: Platform, actor: str, request_id: str) -> list[dict[str, Any]]:
    """Each run attempt of a readable request with its captured (masked) log, oldest first."""
    from tfpilot_core.run_logs import read as read_log

    found = core.read(platform, actor, request_id)
    attempts = sorted((a for runs in found.runs.values() for a in runs), key=lambda a: a.created_at)
    items = []
    for attempt in attempts:
        try:
            text: str | None = read_log(platform.store, found.id, attempt.id)
        except NotFoundError:
            text = None
        items.append(
            {
                "attempt": attempt.id,
                "kind": attempt.kind.value,
                "status": attempt.status.value,
                "conclusion": attempt.conclusion.value if attempt.conclusion else None,
                "log": text,
            }
        )
    return items


def _jsonable(value: Any) -> dict[str, Any]:
    import dataclasses

    from fastapi.encoders import jsonable_encoder

    data = (
        dataclasses.asdict(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type)
        else value
    )
    encoded = jsonable_encoder(data)
    return encoded if isinstance(encoded, dict) else {"value": encoded}


def _summary(spec: Any) -> ModuleSummary:
    return ModuleSummary(
        name=spec.name,
        version=spec.version,
        category=spec.category,
        risk=str(spec.risk),
        description=spec.description,
    )


def drift_items(platform: Platform, actor: str, limit: int) -> list[DriftItem]:
    """Applied requests and their drift, drifted ones first."""
    page = core.list_requests(platform, actor, RequestQuery(status="applied", limit=limit))
    items = [
        DriftItem(
            id=r.id,
            module=r.placement.module,
            environment=r.placement.environment,
            project=r.placement.project,
            status=platform.status(r).value,
            drift=r.drift,
        )
        for r in page.items
    ]
    order = {"drifted": 0, "error": 1, "none": 3}
    return sorted(items, key=lambda i: order.get(i.drift.result.value, 2) if i.drift else 2)


def effective_policy(platform: Platform, environment: str | None) -> dict[str, Any]:
    """What each policy engine in force says it enforces, per environment."""
    from tfpilot_core.registrations import Kind

    config = platform.config
    if environment:
        check_environment(platform, environment)
    envs = [config.environment(environment)] if environment else list(config.core.environments)
    selected = config.core.policy_engines
    engines: dict[str, Any] = {}
    host = platform.host
    for _plugin, registration in host.registrations(Kind.POLICY_ENGINE):
        if selected is not None and registration.name not in selected:
            continue
        engine = registration.build_factory()(host.settings_for(registration), host.context)
        describe = getattr(engine, "effective_policy", None)
        engines[registration.name] = (
            describe(envs) if describe is not None else {"description": registration.description}
        )
    return {"environments": [e.key for e in envs], "engines": engines}


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    """A problem document response."""
    from tfpilot_web.problems import PROBLEM_JSON

    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
