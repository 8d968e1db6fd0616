"""Create and update: the inputs of a request, validated, judged by policy, stored as a revision."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from secrets import token_hex as secrets_token
from typing import Any

from opentelemetry import trace

from tfpilot_core.catalog import ephemeral
from tfpilot_core.catalog.ids import module_code, new_request_id, validate_request_id
from tfpilot_core.catalog.spec import ModuleSpec
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldProblem,
    ForbiddenError,
    NotFoundError,
    PolicyBlockedError,
    ValidationError,
    did_you_mean,
)
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.lifecycle.kernel import Kernel, masked_inputs
from tfpilot_core.limits import check_input_limits, check_placement
from tfpilot_core.log import get_logger
from tfpilot_core.masking import scrub_text, sensitive_strings
from tfpilot_core.models import (
    OptOut,
    Placement,
    PolicyFinding,
    PolicyLevel,
    Request,
    RevisionAuthor,
    Role,
)
from tfpilot_core.rbac import Action

log = get_logger("tfpilot.lifecycle")
tracer = trace.get_tracer("tfpilot")

#: While these hold, a request's inputs cannot change (a run is using them, or it is gone).
UPDATE_BLOCKED = frozenset(
    {
        RequestStatus.APPLYING,
        RequestStatus.DESTROYING,
        RequestStatus.DESTROYED,
        RequestStatus.PLANNING,
    }
)


def refuse_blocking(findings: Sequence[PolicyFinding], *, action: str | None = None) -> None:
    """Stop a create, update (or one-step destroy) that a blocking finding refuses.

    :raises PolicyBlockedError: naming every blocking rule and its message.
    """
    blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
    if blocking:
        # A refused create has no request to carry an event: the log and the trace say so,
        # and the caller keeps it in the audit trail (record_refusal).
        rules = sorted({f.rule_id for f in blocking})
        log.warning("policy_refused", rules=rules, findings=len(blocking))
        trace.get_current_span().add_event("policy_refused", {"tfpilot.rules": rules})
        lines = "; ".join(f"{f.rule_id}: {f.message}" for f in blocking)
        raise PolicyBlockedError(f"{action + ' ' if action else ''}blocked by policy: {lines}")


def normalize(
    spec: ModuleSpec,
    inputs: Mapping[str, Any],
    *,
    previous: Mapping[str, Any] | None = None,
    request_id: str,
    server_tags: Mapping[str, str],
) -> dict[str, Any]:
    """The inputs to store: :func:`normalize_inputs` for every input but the ephemeral ones,
    which are kept as environment references (literals refused, :mod:`~tfpilot_core.catalog.
    ephemeral`), and which, on an update, keep their reference when not given."""
    names = spec.ephemeral_inputs
    if not names:
        return normalize_inputs(
            spec, inputs, previous=previous, request_id=request_id, server_tags=server_tags
        )
    others, references = ephemeral.split(inputs, names)
    rest = {k: v for k, v in spec.inputs.items() if k not in names}
    normalized = normalize_inputs(
        spec.model_copy(update={"inputs": rest}),
        others,
        previous=previous,
        request_id=request_id,
        server_tags=server_tags,
    )
    kept = {n: previous[n] for n in names if previous and previous.get(n) is not None}
    kept.update(references)
    missing = [n for n in names if spec.inputs[n].required and n not in kept]
    if missing:
        raise ValidationError(
            [
                FieldProblem(
                    f"inputs.{n}",
                    "required",
                    'is required: give an environment reference {"$env": "TFPILOT_INPUT_..."}',
                )
                for n in missing
            ],
            subject="inputs",
        )
    return {**normalized, **kept}


#: The store namespace of refused creates and updates (no request holds them).
REFUSALS = "refusals"


def record_refusal(
    kernel: Kernel,
    actor: str,
    action: str,
    request: Request,
    spec: ModuleSpec,
    findings: Sequence[PolicyFinding],
) -> None:
    """Keep a policy refusal in the audit trail: who asked for what (sensitive inputs masked)
    and which rules refused it, as a record in ``refusals``, without storing a request.

    Never raises: the refusal is the answer the caller gets; a store that cannot record it is
    logged (and the action stays refused).
    """
    blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
    now = kernel.now()
    secrets = sensitive_strings(request.inputs, {k: True for k in spec.sensitive_inputs})
    value = {
        "at": now.isoformat(),
        "actor": actor,
        "action": action,
        "request_id": request.id if action != "create" else None,
        "project": request.placement.project,
        "environment": request.placement.environment,
        "module": request.placement.module,
        "module_version": request.placement.module_version,
        "inputs": masked_inputs(spec, request.inputs),
        "rules": sorted({f.rule_id for f in blocking}),
        "findings": [
            {
                "rule_id": f.rule_id,
                "level": f.level.value,
                "address": f.address,
                # A rule may quote an input: a sensitive one never reaches the record.
                "message": scrub_text(f.message, secrets),
            }
            for f in blocking
        ],
    }
    # Time first, so the namespace lists oldest to newest; the suffix keeps keys unique.
    key = f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{secrets_token(6)}"
    try:
        kernel.store.put_record(REFUSALS, key, value, expected_version=None)
    except Exception as exc:  # the refusal stands; only its record is missing
        log.error("refusal_not_recorded", error=type(exc).__name__, rules=value["rules"])


def refusals(kernel: Kernel, actor: str) -> list[dict[str, Any]]:
    """The recorded refusals ``actor`` may audit, oldest first: those of the projects and
    environments where ``actor`` is an admin (who asked is not theirs to see otherwise)."""
    rows: list[dict[str, Any]] = []
    for record in kernel.store.list_records(REFUSALS):
        value = dict(record.value)
        role = kernel.access.role(
            actor, project=str(value.get("project")), environment=str(value.get("environment"))
        )
        if role is Role.ADMIN:
            rows.append({"id": record.key, **value})
    return rows


#: The shortest justification an opt-out may carry (``OptOut.justification``).
MIN_JUSTIFICATION = 10


def opt_out_rules(kernel: Kernel) -> dict[str, bool]:
    """Every rule id the selected policy engines declare, and whether a request may opt out of
    it (only security defaults can be opted out of; other rules' levels are configuration).

    An engine declares its rules with an optional ``opt_out_rules()`` method (``{rule id:
    security default}``); an engine without one declares none.
    """
    rules: dict[str, bool] = {}
    for _, engine in kernel.host.policy_engines():
        declared = getattr(engine, "opt_out_rules", None)
        if callable(declared):
            for rule_id, security_default in dict(declared()).items():
                rules[str(rule_id)] = rules.get(str(rule_id), False) or bool(security_default)
    return rules


def validate_opt_outs(
    kernel: Kernel, actor: str, opt_outs: Sequence[Mapping[str, Any]]
) -> list[OptOut]:
    """The opt-outs of a new request, checked: each names a security default of a selected
    policy engine, once, with a justification of at least ``MIN_JUSTIFICATION`` characters.

    The one check of opt-outs, for the CLI, the API, the web form and the service catalog.

    :raises ValidationError: every problem, naming ``opt_outs[i].rule_id`` or
        ``.justification`` and the rule broken.
    """
    if not opt_outs:
        return []
    rules = opt_out_rules(kernel)
    allowed = sorted(r for r, security_default in rules.items() if security_default)
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, given in enumerate(opt_outs):
        where = f"opt_outs[{i}]"
        if not isinstance(given, Mapping):
            problems.append(FieldProblem(where, "type", "give a rule_id and a justification"))
            continue
        extra = sorted(set(given) - {"rule_id", "justification"})
        if extra:
            problems.append(
                FieldProblem(where, "keys", f"unknown keys {', '.join(map(repr, extra))}")
            )
        rule_id, justification = given.get("rule_id"), given.get("justification")
        if not isinstance(rule_id, str) or not rule_id.strip():
            problems.append(FieldProblem(f"{where}.rule_id", "required", "name a policy rule"))
        elif rule_id in seen:
            problems.append(
                FieldProblem(f"{where}.rule_id", "unique", f"{rule_id!r} is opted out twice")
            )
        elif rule_id not in rules:
            listed = ", ".join(allowed) or "none"
            problems.append(
                FieldProblem(
                    f"{where}.rule_id",
                    "known_rule",
                    f"unknown policy rule {rule_id!r}{did_you_mean(rule_id, rules)} "
                    f"(rules that can be opted out of: {listed})",
                )
            )
        elif not rules[rule_id]:
            problems.append(
                FieldProblem(
                    f"{where}.rule_id",
                    "security_default",
                    f"{rule_id!r} is not a security default: only security defaults can be "
                    f"opted out of (its level is set in the configuration)",
                )
            )
        if isinstance(rule_id, str):
            seen.add(rule_id)
        text = justification.strip() if isinstance(justification, str) else ""
        if len(text) < MIN_JUSTIFICATION:
            problems.append(
                FieldProblem(
                    f"{where}.justification",
                    "min_length",
                    f"explain why, in at least {MIN_JUSTIFICATION} characters (got {len(text)})",
                )
            )
    if problems:
        raise ValidationError(problems, subject="opt-outs")
    now = kernel.now()
    return [
        OptOut(
            rule_id=str(o["rule_id"]), justification=str(o["justification"]), actor=actor, at=now
        )
        for o in opt_outs
    ]


def create(
    kernel: Kernel,
    actor: str,
    *,
    module: str,
    environment: str,
    project: str,
    inputs: Mapping[str, Any] | None = None,
    template_id: str | None = None,
    opt_outs: Sequence[Mapping[str, str]] = (),
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> Request:
    """Validate and store a new request; policy runs on its inputs before anything is stored.

    ``request_id``: the id to use, already shown to the user (the request assistant's
    preview, whose resource names carry its suffix); it must be a request id of this
    environment and module, and not taken. Without it a fresh id is drawn.

    :raises ValidationError: every problem of the inputs, together; a malformed ``request_id``.
    :raises AlreadyExistsError: ``request_id`` is taken.
    :raises PolicyBlockedError: a blocking policy finding on the inputs.
    """
    env = kernel.environment(environment)
    check_placement(project=project)
    kernel.access.check(actor, Action.CREATE, project=project, environment=env.key)
    kernel.host.prepare()  # a broken selected plugin fails here, before anything is stored
    spec = kernel.catalog.get(module)
    check_input_limits(inputs or {}, kernel.config.core)
    checked_opt_outs = validate_opt_outs(kernel, actor, opt_outs)
    template_version: int | None = None
    if template_id is not None:
        if kernel.templates is None:
            raise ForbiddenError("templates are not available on this platform")
        # A template's defaults under the user's inputs; a locked field given is refused.
        inputs, template_version = kernel.templates.for_create(
            template_id, module=module, environment=env.key, project=project, inputs=inputs or {}
        )
    reserved = given_request_id(kernel, request_id, env.key, spec.name)
    fingerprint = {
        "module": module,
        "environment": environment,
        "project": project,
        "inputs": dict(inputs or {}),
        "template_id": template_id,
        "opt_outs": [[o.rule_id, o.justification] for o in checked_opt_outs],
        **({"request_id": reserved} if reserved else {}),
    }

    def run(_: dict[str, Any]) -> Request:
        with tracer.start_as_current_span("tfpilot.create", attributes={"tfpilot.module": module}):
            request_id = reserved or new_request_id(env.key, module)
            placement = Placement(
                project=project,
                environment=env.key,
                module=module,
                module_version=spec.version,
                template_id=template_id,
                template_version=template_version,
            )
            normalized = normalize(
                spec,
                inputs or {},
                request_id=request_id,
                server_tags=kernel.server_tags(request_id, placement, actor),
            )
            now = kernel.now()
            request = Request(
                id=request_id,
                placement=placement,
                inputs=normalized,
                created_by=actor,
                created_at=now,
                updated_at=now,
                opt_outs=[o.model_copy(update={"at": now}) for o in checked_opt_outs],
                revision_authors=[RevisionAuthor(revision=1, actor=actor, at=now)],
            )
            findings = kernel.policy(request, "request")
            try:
                refuse_blocking(findings)
            except PolicyBlockedError:
                record_refusal(kernel, actor, "create", request, spec, findings)
                raise
            request.policy_findings = findings
            stored = kernel.store.create_request(request)
            kernel.emit(
                stored,
                "request_created",
                actor,
                {"module": module, "inputs": masked_inputs(spec, normalized)},
            )
            kernel.emit_policy(stored, actor, "request", findings)
            return stored

    return kernel.idempotent(idempotency_key, "create", fingerprint, run, actor=actor)


def given_request_id(kernel: Kernel, request_id: str | None, env: str, module: str) -> str | None:
    """``request_id`` checked for a create in ``env`` of ``module``: the id format, the
    environment and module code it names, and not taken (``None`` stays ``None``)."""
    if request_id is None:
        return None
    validate_request_id(request_id)
    expected = f"req_{env}_{module_code(module)}_"
    if not request_id.startswith(expected):
        raise ValidationError(
            [
                FieldProblem(
                    "request_id",
                    "id_placement",
                    f"{request_id!r} is not an id for module {module} in {env} "
                    f"(expected {expected}<suffix>)",
                )
            ],
            subject="request id",
        )
    try:
        kernel.store.get_request(request_id)
    except NotFoundError:
        return request_id
    raise AlreadyExistsError(f"request {request_id} already exists: preview the request again")


def update(
    kernel: Kernel,
    actor: str,
    request_id: str,
    inputs: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
) -> Request:
    """Change a request's inputs: a new revision, which voids earlier plans and approvals.

    ``inputs`` are merged over the current ones (keys not given keep their values).
    """
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.UPDATE, request)
    check_input_limits(inputs, kernel.config.core)
    status = kernel.status(request)
    if status in UPDATE_BLOCKED:
        raise ConflictError(f"request {request_id} cannot be updated while {status.value}")
    spec = kernel.catalog.get(request.placement.module)
    if request.placement.template_id and kernel.templates is not None:
        # A template's locked fields stay locked after the create, too.
        kernel.templates.check_update(request, inputs)

    def run(_: dict[str, Any]) -> Request:
        # A compare-and-swap loop: the patch is validated against the revision it is applied
        # to, so when another writer wins the race it is re-validated on the fresh document
        # rather than written over it (no update is lost, none is applied unchecked).
        for attempt in range(20):
            current = kernel.get(request_id)
            status = kernel.status(current)
            if status in UPDATE_BLOCKED:
                raise ConflictError(f"request {request_id} cannot be updated while {status.value}")
            # Inputs not given keep their values: normalize_inputs patches over ``previous``.
            normalized = normalize(
                spec,
                dict(inputs),
                previous=current.inputs,
                request_id=current.id,
                server_tags=kernel.server_tags(current.id, current.placement, current.created_by),
            )
            proposed = current.model_copy(update={"inputs": normalized})
            findings = kernel.policy(proposed, "request")
            try:
                refuse_blocking(findings)
            except PolicyBlockedError:
                record_refusal(kernel, actor, "update", proposed, spec, findings)
                raise
            changed = sorted(k for k in normalized if normalized.get(k) != current.inputs.get(k))
            new = current.model_copy(deep=True)
            new.inputs = normalized
            new.revision += 1
            new.updated_at = kernel.now()
            new.revision_authors.append(
                RevisionAuthor(revision=new.revision, actor=actor, at=new.updated_at)
            )
            new.policy_findings = findings
            new.summary = None
            new.cost = None
            try:
                stored = kernel.store.put_request(new, expected_version=current.version)
            except ConflictError:
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
                continue
            kernel.emit(
                stored, "request_updated", actor, {"changed": changed, "revision": stored.revision}
            )
            kernel.emit_policy(stored, actor, "request", findings)
            return stored
        raise ConflictError(f"request {request_id} is being updated by others; retry later")

    return kernel.idempotent(
        idempotency_key,
        "update",
        {"request": request_id, "inputs": dict(inputs)},
        run,
        actor=actor,
        result_id=request_id,
    )
