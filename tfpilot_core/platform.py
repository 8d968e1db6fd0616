"""``Platform``: the embedding API, and the one place where the lifecycle is carried out.

Every action takes the acting user explicitly, checks RBAC and the lifecycle in the core, writes
facts with compare-and-swap, and appends events that drive notifications and the audit trail.
It is runner-agnostic: Terraform runs wherever the configured runner plugin runs it.

>>> platform = Platform.from_config()                       # doctest: +SKIP
>>> req = platform.create("alice", module="sandbox/bucket", environment="dev",
...                       project="shop", inputs={"name": "logs"})  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace

from tfpilot_core.errors import (
    AlreadyExistsError,
    ConfigError,
    ConflictError,
    ExternalToolError,
    FieldProblem,
    ForbiddenError,
    LockedError,
    NotFoundError,
    PolicyBlockedError,
    TfpilotError,
    ValidationError,
)
from tfpilot_core.lifecycle import (
    RequestStatus,
    current_approval,
    current_plan,
    derive_status,
)
from tfpilot_core.models import (
    Approval,
    Conclusion,
    CostEstimate,
    DriftResult,
    DriftState,
    Environment,
    Event,
    OptOut,
    Placement,
    PlanSummary,
    PolicyFinding,
    PolicyLevel,
    PolicyOverride,
    Record,
    Request,
    RequestPage,
    RequestQuery,
    RunAttempt,
    RunKind,
    RunStatus,
    utcnow,
)
from tfpilot_core.rbac import Action, authorize
from tfpilot_core.registrations import Kind

if TYPE_CHECKING:
    from tfpilot_core.catalog import Catalog
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.config import Config
    from tfpilot_core.interfaces import Runner, RunResult, RunSpec, Store
    from tfpilot_core.plan import Plan
    from tfpilot_core.plugins import PluginHost

log = structlog.get_logger("tfpilot.platform")
tracer = trace.get_tracer("tfpilot")

LOCKS = "locks"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
IDEMPOTENCY = "idempotency"
#: How long an idempotency key replays its first result.
IDEMPOTENCY_WINDOW = timedelta(hours=24)

#: From which statuses each run may start.
_PLAN_FROM = {
    RequestStatus.REQUEST_CREATED,
    RequestStatus.PLAN_READY,
    RequestStatus.APPROVED,
    RequestStatus.FAILED,
    RequestStatus.APPLIED,
}
_UPDATE_BLOCKED = {
    RequestStatus.APPLYING,
    RequestStatus.DESTROYING,
    RequestStatus.DESTROYED,
    RequestStatus.PLANNING,
}


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data`` (plan digests, artifact names)."""
    return hashlib.sha256(data).hexdigest()


class Platform:
    """The embedding API: create, update, plan, approve, apply, destroy, check_drift, read.

    Build it with :meth:`from_config` (the usual way) or from a
    :class:`~tfpilot_core.plugins.PluginHost` you assembled yourself. The ``actor`` of every
    action is passed in: the platform never guesses who is acting.
    """

    def __init__(self, host: PluginHost, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.host = host
        self.config: Config = host.config
        self._clock = clock
        self._catalog: Catalog | None = None

    @classmethod
    def from_config(
        cls,
        config_path: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        extra_plugins: Sequence[tuple[str, object]] = (),
        entry_points: bool = True,
    ) -> Platform:
        """A platform over the configuration file and the installed plugins."""
        from tfpilot_core.config import load_config
        from tfpilot_core.plugins import PluginHost, load_plugins
        from tfpilot_core.registrations import PluginContext

        config = load_config(config_path, environ=environ)
        plugins = load_plugins(entry_points=entry_points, environ=environ, extra=extra_plugins)
        context = PluginContext.for_config(config)
        host = PluginHost(plugins, config, context)
        host.validate_settings()
        return cls(host)

    # -- collaborators ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The configured store (traced, failing closed)."""
        return self.host.store()

    @property
    def catalog(self) -> Catalog:
        """The module catalog, from every module source plugin."""
        if self._catalog is None:
            from tfpilot_core.catalog import Catalog

            self._catalog = Catalog(self.host.module_locations())
        return self._catalog

    def runner(self) -> Runner:
        """The configured runner; a clear error when none is installed."""
        name = self.config.core.runner
        if not self.host.has(Kind.RUNNER, name):
            raise ConfigError(
                f"no runner configured: no runner plugin named {name!r} is installed, so "
                "plan, apply, destroy and drift checks cannot run (install a runner plugin or "
                "set [core] runner)",
                key="core.runner",
            )
        return self.host.runner()

    def _run_spec(self, request: Request, spec: ModuleSpec | None = None) -> RunSpec:
        """What the runner needs for ``request``: module directory, mirrors, sensitive inputs."""
        from tfpilot_core.interfaces import RunSpec

        spec = spec or self.catalog.get(request.placement.module)
        return RunSpec(
            request=request,
            environment=self.environment(request.placement.environment),
            module_name=spec.name,
            module_path=spec.path,
            module_version=spec.version,
            mirrors=self.host.provider_mirrors(),
            sensitive_inputs=spec.sensitive_inputs,
        )

    def role_of(self, actor: str) -> Any:
        """The actor's configured role."""
        return self.config.role_of(actor)

    def environment(self, key: str) -> Environment:
        """The configured environment ``key``."""
        return self.config.environment(key)

    def status(self, request: Request) -> RequestStatus:
        """The request's status, derived from its facts now."""
        return derive_status(
            request,
            now=self._clock(),
            stale_after=timedelta(seconds=self.config.core.stale_after_seconds),
        )

    def _authorize(
        self, action: Action, actor: str, request: Request | None, env: Environment
    ) -> None:
        authorize(
            action,
            actor=actor,
            role=self.role_of(actor),
            environment=env,
            author=request.created_by if request else None,
        )

    # -- events -------------------------------------------------------------------------------

    def _emit(
        self,
        request: Request,
        type_: str,
        actor: str,
        data: Mapping[str, Any] | None = None,
        *,
        correlation_id: str | None = None,
    ) -> Event:
        """Store an event, then tell notifiers and observers (isolated: never raises for them)."""
        event = Event(
            request_id=request.id,
            type=type_,
            at=self._clock(),
            revision=request.revision,
            actor=actor,
            correlation_id=correlation_id,
            data=dict(data or {}),
        )
        stored = self.store.append_event(event)
        log.info("event", type=type_, request_id=request.id, actor=actor)
        if not type_.startswith("notification_"):
            for name, error in self.host.notify(stored, request):
                follow = "notification_failed" if error else "notification_sent"
                details: dict[str, Any] = {"notifier": name, "for": type_, "for_seq": stored.seq}
                if error:
                    details["error"] = error
                self.store.append_event(
                    Event(
                        request_id=request.id,
                        type=follow,
                        at=self._clock(),
                        revision=request.revision,
                        actor="system",
                        correlation_id=correlation_id,
                        data=details,
                    )
                )
        self.host.observe(stored, request)
        return stored

    # -- locks and idempotency ----------------------------------------------------------------

    def _lock(self, request_id: str, owner: str, purpose: str) -> Record:
        """Take the per-request run lock; an expired lock counts as free."""
        expires = self._clock() + timedelta(seconds=self.config.core.stale_after_seconds)
        try:
            return self.store.put_record(
                LOCKS,
                request_id,
                {"owner": owner, "purpose": purpose, "at": self._clock().isoformat()},
                expected_version=None,
                expires_at=expires,
            )
        except (ConflictError, AlreadyExistsError):
            held = self.store.get_record(LOCKS, request_id)
            detail = f" by {held.value.get('owner')} ({held.value.get('purpose')})" if held else ""
            raise LockedError(
                f"request {request_id} is busy: another run holds its lock{detail}; "
                "retry when it finishes (or after the lock expires)"
            ) from None

    def _unlock(self, lock: Record) -> None:
        try:
            self.store.delete_record(LOCKS, lock.key, expected_version=lock.version)
        except (ConflictError, NotFoundError):
            # Expired and taken over by someone else: theirs now, not ours to delete.
            log.warning("lock_lost", request_id=lock.key)

    def _idempotent(
        self,
        key: str | None,
        action: str,
        fingerprint: Mapping[str, Any],
        run: Callable[[dict[str, Any]], Request],
        *,
        result_id: str | None = None,
    ) -> Request:
        """Run ``run`` once per idempotency key; a repeat with the same arguments replays it.

        The key is claimed with a create-only write before anything happens, so of two processes
        using one key exactly one acts; the other waits for and returns the first one's result.
        A key reused for a different action or different arguments is refused.
        """
        if key is None:
            return run({})
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError(
                [
                    FieldProblem(
                        "idempotency_key",
                        "pattern",
                        "use 1-128 letters, digits, '.', '_', ':' or '-'",
                    )
                ]
            )
        digest = sha256(
            json.dumps({"action": action, **fingerprint}, sort_keys=True, default=str).encode()
        )
        claim = {"action": action, "fingerprint": digest, "state": "pending", "result": result_id}
        try:
            record = self.store.put_record(
                IDEMPOTENCY,
                key,
                claim,
                expected_version=None,
                expires_at=self._clock() + IDEMPOTENCY_WINDOW,
            )
        except (ConflictError, AlreadyExistsError):
            return self._replay(key, action, digest)
        try:
            result = run(claim)
        except Exception:
            # Release the key so the caller can retry the same action after fixing the cause.
            self.store.delete_record(IDEMPOTENCY, key, expected_version=record.version)
            raise
        self.store.put_record(
            IDEMPOTENCY,
            key,
            {**claim, "state": "done", "result": result.id},
            expected_version=record.version,
            expires_at=record.expires_at,
        )
        return result

    def _replay(self, key: str, action: str, digest: str) -> Request:
        deadline = time.monotonic() + 30
        while True:
            record = self.store.get_record(IDEMPOTENCY, key)
            if record is None:
                raise ConflictError(f"idempotency key {key!r} was released; retry the action")
            if record.value.get("fingerprint") != digest:
                raise ConflictError(
                    f"idempotency key {key!r} was already used for a different "
                    f"{record.value.get('action')} action; use a new key"
                )
            if record.value.get("state") == "done":
                return self.store.get_request(str(record.value["result"]))
            if time.monotonic() > deadline:
                raise ConflictError(f"idempotency key {key!r} is still in progress elsewhere")
            time.sleep(0.05)

    # -- create and update --------------------------------------------------------------------

    def _server_tags(self, request_id: str, placement: Placement, author: str) -> dict[str, str]:
        tags = {
            "tfpilot:request_id": request_id,
            "tfpilot:project": placement.project,
            "tfpilot:environment": placement.environment,
            "tfpilot:created_by": author,
        }
        if placement.template_id:
            tags["tfpilot:template_id"] = placement.template_id
        return tags

    def _policy(
        self, request: Request, stage: str, plan: Plan | None = None
    ) -> list[PolicyFinding]:
        from tfpilot_core.interfaces import PolicyInput

        env = self.environment(request.placement.environment)
        spec = self.catalog.get(request.placement.module)
        subject = PolicyInput(request=request, environment=env, stage=stage, plan=plan, module=spec)
        return [f.model_copy(update={"stage": stage}) for f in self.host.evaluate_policy(subject)]

    def _policy_engines(self) -> list[str]:
        """The selected policy engines (an empty list: nothing judges requests)."""
        if self.config.core.policy_engines is not None:
            return list(self.config.core.policy_engines)
        return [r.name for _, r in self.host.registrations(Kind.POLICY_ENGINE)]

    def _emit_policy(
        self, request: Request, actor: str, stage: str, findings: Sequence[PolicyFinding]
    ) -> None:
        # Recorded whenever an engine ran, findings or not, so the trail shows policy was checked.
        engines = self._policy_engines()
        if engines:
            data = {"stage": stage, "engines": engines, "findings": _findings(findings)}
            self._emit(request, "policy_evaluated", actor, data)

    def create(
        self,
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
        from tfpilot_core.catalog.ids import new_request_id
        from tfpilot_core.catalog.validation import normalize_inputs

        env = self.environment(environment)
        self._authorize(Action.CREATE, actor, None, env)
        spec = self.catalog.get(module)
        fingerprint = {
            "module": module,
            "environment": environment,
            "project": project,
            "inputs": dict(inputs or {}),
            "template_id": template_id,
        }

        def run(_: dict[str, Any]) -> Request:
            with tracer.start_as_current_span(
                "tfpilot.create", attributes={"tfpilot.module": module}
            ):
                request_id = new_request_id(env.key, module)
                placement = Placement(
                    project=project,
                    environment=env.key,
                    module=module,
                    module_version=spec.version,
                    template_id=template_id,
                )
                normalized = normalize_inputs(
                    spec,
                    inputs or {},
                    request_id=request_id,
                    server_tags=self._server_tags(request_id, placement, actor),
                )
                now = self._clock()
                request = Request(
                    id=request_id,
                    placement=placement,
                    inputs=normalized,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                    opt_outs=[OptOut(actor=actor, at=now, **o) for o in opt_outs],
                )
                findings = self._policy(request, "request")
                self._refuse_blocking(findings)
                request.policy_findings = findings
                stored = self.store.create_request(request)
                self._emit(
                    stored,
                    "request_created",
                    actor,
                    {"module": module, "inputs": self._masked_inputs(spec, normalized)},
                )
                self._emit_policy(stored, actor, "request", findings)
                return stored

        return self._idempotent(idempotency_key, "create", fingerprint, run)

    def _refuse_blocking(self, findings: Sequence[PolicyFinding]) -> None:
        blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
        if blocking:
            # A refused create has no request to carry an event: the log and the trace record it.
            rules = sorted({f.rule_id for f in blocking})
            log.warning("policy_refused", rules=rules, findings=len(blocking))
            trace.get_current_span().add_event("policy_refused", {"tfpilot.rules": rules})
            lines = "; ".join(f"{f.rule_id}: {f.message}" for f in blocking)
            raise PolicyBlockedError(f"blocked by policy: {lines}")

    def _masked_inputs(self, spec: ModuleSpec, inputs: Mapping[str, Any]) -> dict[str, Any]:
        from tfpilot_core.masking import mask_keys

        return mask_keys(inputs, spec.sensitive_inputs)

    def update(
        self,
        actor: str,
        request_id: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Request:
        """Change a request's inputs: a new revision, which voids earlier plans and approvals.

        ``inputs`` are merged over the current ones (keys not given keep their values).
        """
        from tfpilot_core.catalog.validation import normalize_inputs

        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.UPDATE, actor, request, env)
        status = self.status(request)
        if status in _UPDATE_BLOCKED:
            raise ForbiddenError(f"request {request_id} cannot be updated while {status.value}")
        spec = self.catalog.get(request.placement.module)

        def run(_: dict[str, Any]) -> Request:
            # A compare-and-swap loop: the patch is validated against the revision it is applied
            # to, so when another writer wins the race it is re-validated on the fresh document
            # rather than written over it (no update is lost, none is applied unchecked).
            for _attempt in range(20):
                current = self.get(request_id)
                status = self.status(current)
                if status in _UPDATE_BLOCKED:
                    raise ForbiddenError(
                        f"request {request_id} cannot be updated while {status.value}"
                    )
                # Inputs not given keep their values: normalize_inputs patches over ``previous``.
                normalized = normalize_inputs(
                    spec,
                    dict(inputs),
                    previous=current.inputs,
                    request_id=current.id,
                    server_tags=self._server_tags(
                        current.id, current.placement, current.created_by
                    ),
                )
                findings = self._policy(
                    current.model_copy(update={"inputs": normalized}), "request"
                )
                self._refuse_blocking(findings)
                changed = sorted(
                    k for k in normalized if normalized.get(k) != current.inputs.get(k)
                )
                new = current.model_copy(deep=True)
                new.inputs = normalized
                new.revision += 1
                new.updated_at = self._clock()
                new.policy_findings = findings
                new.summary = None
                new.cost = None
                try:
                    stored = self.store.put_request(new, expected_version=current.version)
                except ConflictError:
                    time.sleep(random.uniform(0, 0.01 * (_attempt + 1)))
                    continue
                self._emit(
                    stored,
                    "request_updated",
                    actor,
                    {"changed": changed, "revision": stored.revision},
                )
                self._emit_policy(stored, actor, "request", findings)
                return stored
            raise ConflictError(f"request {request_id} is being updated by others; retry later")

        return self._idempotent(
            idempotency_key,
            "update",
            {"request": request_id, "inputs": dict(inputs)},
            run,
            result_id=request_id,
        )

    # -- runs ---------------------------------------------------------------------------------

    def _start_attempt(
        self, request_id: str, kind: RunKind, actor: str, runner: str, **fields: Any
    ) -> tuple[Request, RunAttempt]:
        from tfpilot_core.stores.cas import update_request

        holder: list[RunAttempt] = []

        def mutate(current: Request) -> Request:
            attempts = current.runs.setdefault(kind, [])
            attempt = RunAttempt(
                id=f"{kind.value}-{len(attempts) + 1}-{uuid.uuid4().hex[:8]}",
                kind=kind,
                number=len(attempts) + 1,
                runner=runner,
                revision=current.revision,
                actor=actor,
                status=RunStatus.IN_PROGRESS,
                created_at=self._clock(),
                started_at=self._clock(),
                **fields,
            )
            attempts.append(attempt)
            holder[:] = [attempt]
            return current

        request = update_request(self.store, request_id, mutate)
        return request, holder[0]

    def _finish_attempt(
        self,
        request_id: str,
        attempt: RunAttempt,
        conclusion: Conclusion,
        *,
        extra: Callable[[Request], None] | None = None,
        **fields: Any,
    ) -> Request:
        from tfpilot_core.stores.cas import update_request

        def mutate(current: Request) -> Request:
            attempts = current.runs[attempt.kind]
            for i, existing in enumerate(attempts):
                if existing.id == attempt.id:
                    attempts[i] = existing.advanced(
                        status=RunStatus.COMPLETED,
                        conclusion=conclusion,
                        completed_at=self._clock(),
                        **fields,
                    )
            current.updated_at = self._clock()
            if extra is not None:
                extra(current)
            return current

        return update_request(self.store, request_id, mutate)

    @contextmanager
    def _recording_failure(
        self, request: Request, attempt: RunAttempt, actor: str, event: str
    ) -> Iterator[None]:
        """Record any error inside the block as a failed attempt and an event, then re-raise.

        Whatever stops a run (Terraform, a runner or policy plugin failing closed, a bug), the
        attempt must not stay "in progress": it is completed with conclusion ``failure``.
        """
        try:
            yield
        except BaseException as exc:
            error = exc.message if isinstance(exc, TfpilotError) else f"{type(exc).__name__}: {exc}"
            try:
                self._finish_attempt(request.id, attempt, Conclusion.FAILURE, error=error[-4000:])
                self._emit(request, event, actor, {"run": attempt.id, "error": error[-2000:]})
            except Exception as record_error:  # the original error matters more
                log.error("recording_failure_failed", run=attempt.id, error=str(record_error))
            raise

    def _failed(self, kind: str, request: Request, result: RunResult) -> ExternalToolError:
        error = (result.error or result.log or f"{kind} failed").strip()
        return ExternalToolError(f"{kind} of {request.id} failed: {error[-1500:]}")

    def plan(self, actor: str, request_id: str) -> Request:
        """Render and plan the request, then policy, cost and summary on the plan.

        :raises ExternalToolError: Terraform failed (recorded as a failed attempt first).
        """
        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.PLAN, actor, request, env)
        status = self.status(request)
        if status not in _PLAN_FROM:
            raise ForbiddenError(f"request {request_id} cannot be planned while {status.value}")
        runner = self.runner()
        spec = self.catalog.get(request.placement.module)
        lock = self._lock(request_id, actor, "plan")
        try:
            with tracer.start_as_current_span(
                "tfpilot.plan", attributes={"tfpilot.request_id": request_id}
            ):
                request, attempt = self._start_attempt(
                    request_id,
                    RunKind.PLAN,
                    actor,
                    self.config.core.runner,
                    module_version=spec.version,
                )
                self._emit(
                    request,
                    "plan_started",
                    actor,
                    {"run": attempt.id, "revision": request.revision},
                )
                with self._recording_failure(request, attempt, actor, "plan_failed"):
                    result = runner.plan(self._run_spec(request, spec))
                    if not result.success or result.plan_file is None or not result.plan_json:
                        raise self._failed("plan", request, result)
                    plan, digest, findings, cost, summary = self._after_plan(
                        request, attempt.id, spec, result
                    )

                def record(current: Request) -> None:
                    current.policy_findings = findings
                    current.cost = cost
                    current.summary = summary

                counts = {a.value: n for a, n in plan.counts().items()}
                request = self._finish_attempt(
                    request_id,
                    attempt,
                    Conclusion.SUCCESS,
                    extra=record,
                    plan_digest=digest,
                    rendered_digest=result.rendered_digest,
                    details={
                        **attempt.details,
                        "counts": counts,
                        "findings": _findings(findings),
                        "cost": cost.model_dump(mode="json") if cost else None,
                    },
                )
                self._emit(
                    request,
                    "plan_succeeded",
                    actor,
                    {"run": attempt.id, "plan_digest": digest, "counts": counts},
                )
                self._emit_policy(request, actor, "plan", findings)
                blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
                if blocking:
                    self._emit(request, "policy_blocked", actor, {"findings": _findings(blocking)})
                if cost is not None:
                    self._emit(
                        request,
                        "cost_estimated",
                        actor,
                        cost.model_dump(mode="json", exclude={"lines"}),
                    )
                if not blocking:
                    self._emit(
                        request,
                        "approval_required",
                        actor,
                        {"plan_digest": digest, "environment": env.key},
                    )
                return request
        finally:
            self._unlock(lock)

    def _after_plan(
        self, request: Request, attempt_id: str, spec: ModuleSpec, result: RunResult
    ) -> tuple[Plan, str, list[PolicyFinding], CostEstimate | None, PlanSummary | None]:
        """Store the saved plan, then policy, cost and summary on the masked plan."""
        from tfpilot_core.interfaces import SummaryContext
        from tfpilot_core.plan import Plan

        assert result.plan_json is not None and result.plan_file is not None
        plan = Plan.parse(result.plan_json)
        digest = self.store.put_artifact(request.id, f"{attempt_id}.tfplan", result.plan_file)
        masked = plan.masked(sensitive_inputs=spec.sensitive_inputs)
        findings = [
            *(f for f in request.policy_findings if f.stage == "request"),
            *self._policy(request, "plan", masked),
        ]
        cost = self.host.estimate_cost(request, masked)
        if cost is not None:
            cost = cost.model_copy(update={"plan_digest": digest})
        summary = self.host.summarize(request, masked, SummaryContext(findings=findings, cost=cost))
        if summary is not None:
            summary = summary.model_copy(update={"plan_digest": digest})
        return plan, digest, findings, cost, summary

    def approve(
        self,
        actor: str,
        request_id: str,
        *,
        plan_digest: str | None = None,
        comment: str = "",
        overrides: Sequence[Mapping[str, str]] = (),
    ) -> Request:
        """Approve the current revision's plan (by its digest), overriding mandatory findings.

        Blocking findings cannot be overridden; every mandatory finding needs an override with a
        written reason.
        """
        from tfpilot_core.stores.cas import update_request

        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.APPROVE, actor, request, env)
        status = self.status(request)
        plan = current_plan(request)
        if status is not RequestStatus.PLAN_READY or plan is None or plan.plan_digest is None:
            raise ForbiddenError(
                f"request {request_id} has no successful plan of revision {request.revision} to "
                f"approve (status {status.value})"
            )
        # The digest people review is shown shortened: 12 or more leading hex digits identify it.
        if plan_digest is not None and len(plan_digest) < 12:
            raise ValidationError(
                [FieldProblem("plan_digest", "length", "give at least 12 characters of the digest")]
            )
        if plan_digest is not None and not (
            len(plan_digest) >= 12 and plan.plan_digest.startswith(plan_digest.lower())
        ):
            raise ConflictError(
                f"plan {plan_digest[:12]} is not the current plan of {request_id} "
                f"(current: {plan.plan_digest[:12]}); review the new plan"
            )
        findings = request.policy_findings
        blocking = [f for f in findings if f.level is PolicyLevel.BLOCKING]
        if blocking:
            raise PolicyBlockedError(
                "cannot approve: blocking policy findings cannot be overridden: "
                + "; ".join(f"{f.rule_id} ({f.address or 'request'})" for f in blocking)
            )
        given = [PolicyOverride(actor=actor, at=self._clock(), **o) for o in overrides]
        missing = [
            f
            for f in findings
            if f.level is PolicyLevel.MANDATORY
            and not any(o.rule_id == f.rule_id and o.address in (None, f.address) for o in given)
        ]
        if missing:
            raise PolicyBlockedError(
                "cannot approve: mandatory findings need an override with a reason: "
                + "; ".join(f"{f.rule_id} ({f.address or 'request'}): {f.message}" for f in missing)
            )
        digest = plan.plan_digest

        def mutate(current: Request) -> Request:
            latest = current_plan(current)
            if (
                latest is None
                or latest.plan_digest != digest
                or current.revision != request.revision
            ):
                raise ConflictError(
                    f"request {request_id} changed while approving; review it again"
                )
            current.approvals.append(
                Approval(
                    actor=actor,
                    revision=current.revision,
                    plan_digest=digest,
                    at=self._clock(),
                    comment=comment,
                    overrides=given,
                )
            )
            return current

        stored = update_request(self.store, request_id, mutate)
        for override in given:
            self._emit(stored, "policy_overridden", actor, override.model_dump(mode="json"))
        self._emit(stored, "approved", actor, {"plan_digest": digest, "comment": comment})
        return stored

    def apply(self, actor: str, request_id: str) -> Request:
        """Apply exactly the approved plan, refusing if anything changed since the approval."""
        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        status = self.status(request)
        automatic = env.auto_apply and status is RequestStatus.PLAN_READY
        authorize(
            Action.APPLY,
            actor=actor,
            role=self.role_of(actor),
            environment=env,
            author=request.created_by,
            automatic=automatic,
        )
        plan = current_plan(request)
        if (
            plan is None
            or plan.plan_digest is None
            or (status is not RequestStatus.APPROVED and not automatic)
        ):
            raise ForbiddenError(
                f"request {request_id} has no approved plan to apply (status {status.value})"
            )
        approval = current_approval(request)
        if approval is None and not automatic:
            raise ForbiddenError(f"request {request_id}: the plan was not approved")
        spec = self.catalog.get(request.placement.module)
        if plan.module_version and spec.version != plan.module_version:
            raise ConflictError(
                f"module {spec.name} changed since the plan was made (version "
                f"{plan.module_version[:12]} -> {spec.version[:12]}); plan again"
            )
        plan_file = self.store.get_artifact(request_id, f"{plan.id}.tfplan")
        if sha256(plan_file) != plan.plan_digest:
            raise ConflictError(
                f"the saved plan of {request_id} does not match its approved digest "
                f"({plan.plan_digest[:12]}): refusing to apply a tampered plan"
            )
        runner = self.runner()
        lock = self._lock(request_id, actor, "apply")
        try:
            with tracer.start_as_current_span(
                "tfpilot.apply", attributes={"tfpilot.request_id": request_id}
            ):
                request, attempt = self._start_attempt(
                    request_id,
                    RunKind.APPLY,
                    actor,
                    self.config.core.runner,
                    plan_digest=plan.plan_digest,
                    module_version=spec.version,
                )
                approvers = [approval.actor] if approval else []
                self._emit(
                    request,
                    "apply_started",
                    actor,
                    {"run": attempt.id, "plan_digest": plan.plan_digest, "approvers": approvers},
                )
                with self._recording_failure(request, attempt, actor, "apply_failed"):
                    result = runner.apply(
                        self._run_spec(request, spec),
                        plan_file,
                        rendered_digest=plan.rendered_digest,
                    )
                    if not result.success:
                        raise self._failed("apply", request, result)
                    if result.state is not None:
                        self.store.put_artifact(request_id, "state.tfstate", result.state)
                request = self._finish_attempt(
                    request_id,
                    attempt,
                    Conclusion.SUCCESS,
                    details={"outputs": _mask_outputs(result)},
                )
                self._emit(
                    request,
                    "apply_succeeded",
                    actor,
                    {"run": attempt.id, "plan_digest": plan.plan_digest},
                )
                return request
        finally:
            self._unlock(lock)

    def destroy(self, actor: str, request_id: str) -> Request:
        """Destroy what an applied request created, archiving its final state."""
        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.DESTROY, actor, request, env)
        status = self.status(request)
        applied = request.latest(RunKind.APPLY)
        if (
            status
            not in (
                RequestStatus.APPLIED,
                RequestStatus.PLAN_READY,
                RequestStatus.APPROVED,
                RequestStatus.FAILED,
            )
            or applied is None
            or applied.conclusion is not Conclusion.SUCCESS
        ):
            raise ForbiddenError(
                f"only applied requests can be destroyed; {request_id} is {status.value}"
            )
        runner = self.runner()
        lock = self._lock(request_id, actor, "destroy")
        try:
            request, attempt = self._start_attempt(
                request_id, RunKind.DESTROY, actor, self.config.core.runner
            )
            self._emit(request, "destroy_started", actor, {"run": attempt.id})
            with self._recording_failure(request, attempt, actor, "destroy_failed"):
                result = runner.destroy(self._run_spec(request))
                if not result.success:
                    raise self._failed("destroy", request, result)
                archived = None
                if result.state is not None:
                    archived = self.store.put_artifact(
                        request_id, "final-state.tfstate", result.state
                    )
            request = self._finish_attempt(
                request_id, attempt, Conclusion.SUCCESS, details={"archived_state": archived}
            )
            self._emit(
                request, "destroy_succeeded", actor, {"run": attempt.id, "archived_state": archived}
            )
            return request
        finally:
            self._unlock(lock)

    def check_drift(self, actor: str, request_id: str) -> Request:
        """Check an applied request for drift and record the result (events on transitions)."""
        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.DRIFT_CHECK, actor, request, env)
        status = self.status(request)
        if status is not RequestStatus.APPLIED:
            raise ForbiddenError(
                f"only applied requests are checked for drift; {request_id} is {status.value}"
            )
        runner = self.runner()
        lock = self._lock(request_id, actor, "drift")
        try:
            request, attempt = self._start_attempt(
                request_id, RunKind.DRIFT, actor, self.config.core.runner
            )
            with self._recording_failure(request, attempt, actor, "drift_check_failed"):
                report = self.host.check_drift(self._run_spec(request), runner)
            previous = request.drift.result if request.drift else DriftResult.NONE
            conclusion = (
                Conclusion.FAILURE if report.result is DriftResult.ERROR else Conclusion.SUCCESS
            )

            def record(current: Request) -> None:
                current.drift = DriftState(
                    checked_at=self._clock(),
                    result=report.result,
                    addresses=report.addresses,
                    run_id=attempt.id,
                )

            request = self._finish_attempt(
                request_id,
                attempt,
                conclusion,
                extra=record,
                error=report.error,
                details={
                    "result": report.result.value,
                    "addresses": report.addresses,
                    "paths": report.paths,
                },
            )
            self._emit(
                request,
                "drift_checked",
                actor,
                {"result": report.result.value, "addresses": report.addresses},
            )
            if report.result is DriftResult.DRIFTED and previous is not DriftResult.DRIFTED:
                self._emit(
                    request,
                    "drift_detected",
                    actor,
                    {"addresses": report.addresses, "paths": report.paths},
                )
            if report.result is DriftResult.NONE and previous is DriftResult.DRIFTED:
                self._emit(request, "drift_cleared", actor, {})
            return request
        finally:
            self._unlock(lock)

    def promote(
        self, actor: str, request_id: str, *, idempotency_key: str | None = None
    ) -> Request:
        """Copy an applied, drift-free request's inputs to the next environment, as a new request.

        The new request is linked to its source (``promoted_from``) and needs its own plan and
        approval. What is copied is what a user chose: server tags are set anew, names get the new
        request's suffix, read-only inputs keep their defaults, and opt-outs are not carried over
        (a security exception must be justified again for each environment).
        """
        from tfpilot_core.catalog.validation import RESERVED_TAG_PREFIX, split_name
        from tfpilot_core.stores.cas import update_request

        source = self.get(request_id)
        env = self.environment(source.placement.environment)
        self._authorize(Action.PROMOTE, actor, source, env)
        status = self.status(source)
        if status is not RequestStatus.APPLIED:
            raise ForbiddenError(
                f"only applied requests can be promoted; {request_id} is {status.value}"
            )
        if source.drift is not None and source.drift.result is not DriftResult.NONE:
            result = source.drift.result.value
            raise ForbiddenError(f"{request_id} has drift ({result}): fix it before promoting")
        keys = [e.key for e in self.config.core.environments]
        position = keys.index(env.key)
        if position + 1 >= len(keys):
            raise ForbiddenError(
                f"{env.key} is the last environment: there is nowhere to promote to"
            )
        target = keys[position + 1]
        spec = self.catalog.get(source.placement.module)
        inputs: dict[str, Any] = {}
        for name, value in source.inputs.items():
            item = spec.inputs.get(name)
            if item is None or item.read_only:
                continue
            if name == spec.name_input and isinstance(value, str):
                value = split_name(value, source.id)
            if name == spec.tags_input and isinstance(value, dict):
                value = {
                    k: v for k, v in value.items() if not k.lower().startswith(RESERVED_TAG_PREFIX)
                }
            inputs[name] = value
        promoted = self.create(
            actor,
            module=source.placement.module,
            environment=target,
            project=source.placement.project,
            inputs=inputs,
            template_id=source.placement.template_id,
            idempotency_key=idempotency_key,
        )
        if promoted.promoted_from is None:

            def link(current: Request) -> Request:
                current.promoted_from = source.id
                return current

            promoted = update_request(self.store, promoted.id, link)
            self._emit(source, "promoted", actor, {"to": promoted.id, "environment": target})
            self._emit(promoted, "promoted", actor, {"from": source.id, "environment": env.key})
        return promoted

    def reconcile(self, actor: str, request_id: str) -> Request:
        """Close runs that went stale (a process died mid-run) so the request can be retried.

        A stale attempt (no result long after it started, see ``[core] stale_after_seconds``) is
        completed with conclusion ``timed_out``; its lock has expired by then, so a new run may
        start. Attempts that are still fresh are left alone.
        """
        from tfpilot_core.lifecycle import is_stale
        from tfpilot_core.stores.cas import update_request

        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.PLAN, actor, request, env)
        stale_after = timedelta(seconds=self.config.core.stale_after_seconds)
        closed: list[str] = []

        def mutate(current: Request) -> Request:
            closed.clear()
            for attempts in current.runs.values():
                for i, attempt in enumerate(attempts):
                    if is_stale(attempt, now=self._clock(), stale_after=stale_after):
                        attempts[i] = attempt.advanced(
                            status=RunStatus.COMPLETED,
                            conclusion=Conclusion.TIMED_OUT,
                            completed_at=self._clock(),
                            error=f"reconciled by {actor}: no result after {stale_after}",
                        )
                        closed.append(attempt.id)
            return current

        request = update_request(self.store, request_id, mutate)
        if closed:
            self._emit(request, "runs_reconciled", actor, {"runs": list(closed)})
        return request

    # -- reads --------------------------------------------------------------------------------

    def get(self, request_id: str) -> Request:
        """The stored request (the id is validated first)."""
        from tfpilot_core.catalog.ids import validate_request_id

        return self.store.get_request(validate_request_id(request_id))

    def list(self, query: RequestQuery | None = None) -> RequestPage:
        """Requests matching ``query`` (all, newest first, by default)."""
        return self.store.list_requests(query or RequestQuery())

    def timeline(self, request_id: str) -> builtins.list[Event]:
        """The request's events, oldest first."""
        self.get(request_id)
        return self.store.list_events(request_id)

    def audit(self, request_id: str) -> dict[str, Any]:
        """A change decision record, derived only from what is stored (deterministic)."""
        from tfpilot_core.audit import audit_record

        request = self.get(request_id)
        return audit_record(request, self.store.list_events(request_id), self.status(request))


def _findings(findings: Sequence[PolicyFinding]) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json") for f in findings]


def _mask_outputs(result: RunResult) -> dict[str, Any]:
    from tfpilot_core.masking import MASK

    masked: dict[str, Any] = {}
    for name, output in result.outputs.items():
        if isinstance(output, dict) and "value" in output:
            masked[name] = MASK if output.get("sensitive") else output["value"]
        else:
            masked[name] = output
    return masked
