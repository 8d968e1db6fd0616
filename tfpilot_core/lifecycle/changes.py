"""Create and update: the inputs of a request, validated, judged by policy, stored as a revision."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace

from tfpilot_core.catalog.ids import new_request_id
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import ConflictError, ForbiddenError, PolicyBlockedError
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.lifecycle.kernel import Kernel, masked_inputs
from tfpilot_core.limits import check_input_limits, check_placement
from tfpilot_core.log import get_logger
from tfpilot_core.models import (
    OptOut,
    Placement,
    PolicyFinding,
    PolicyLevel,
    Request,
    RevisionAuthor,
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
        # A refused create has no request to carry an event: the log and the trace record it.
        rules = sorted({f.rule_id for f in blocking})
        log.warning("policy_refused", rules=rules, findings=len(blocking))
        trace.get_current_span().add_event("policy_refused", {"tfpilot.rules": rules})
        lines = "; ".join(f"{f.rule_id}: {f.message}" for f in blocking)
        raise PolicyBlockedError(f"{action + ' ' if action else ''}blocked by policy: {lines}")


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
) -> Request:
    """Validate and store a new request; policy runs on its inputs before anything is stored.

    :raises ValidationError: every problem of the inputs, together.
    :raises PolicyBlockedError: a blocking policy finding on the inputs.
    """
    env = kernel.environment(environment)
    check_placement(project=project)
    kernel.access.check(actor, Action.CREATE, project=project, environment=env.key)
    kernel.host.prepare()  # a broken selected plugin fails here, before anything is stored
    spec = kernel.catalog.get(module)
    check_input_limits(inputs or {}, kernel.config.core)
    template_version: int | None = None
    if template_id is not None:
        if kernel.templates is None:
            raise ForbiddenError("templates are not available on this platform")
        # A template's defaults under the user's inputs; a locked field given is refused.
        inputs, template_version = kernel.templates.for_create(
            template_id, module=module, environment=env.key, project=project, inputs=inputs or {}
        )
    fingerprint = {
        "module": module,
        "environment": environment,
        "project": project,
        "inputs": dict(inputs or {}),
        "template_id": template_id,
    }

    def run(_: dict[str, Any]) -> Request:
        with tracer.start_as_current_span("tfpilot.create", attributes={"tfpilot.module": module}):
            request_id = new_request_id(env.key, module)
            placement = Placement(
                project=project,
                environment=env.key,
                module=module,
                module_version=spec.version,
                template_id=template_id,
                template_version=template_version,
            )
            normalized = normalize_inputs(
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
                opt_outs=[OptOut(actor=actor, at=now, **o) for o in opt_outs],
                revision_authors=[RevisionAuthor(revision=1, actor=actor, at=now)],
            )
            findings = kernel.policy(request, "request")
            refuse_blocking(findings)
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

    return kernel.idempotent(idempotency_key, "create", fingerprint, run)


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
            normalized = normalize_inputs(
                spec,
                dict(inputs),
                previous=current.inputs,
                request_id=current.id,
                server_tags=kernel.server_tags(current.id, current.placement, current.created_by),
            )
            findings = kernel.policy(current.model_copy(update={"inputs": normalized}), "request")
            refuse_blocking(findings)
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
        result_id=request_id,
    )
