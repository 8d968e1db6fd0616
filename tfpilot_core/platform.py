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
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import trace

from tfpilot_core import log as log_context
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
from tfpilot_core.log import get_logger
from tfpilot_core.logs.correlation import attempt_fields, current_ids, join_session
from tfpilot_core.logs.correlation import correlation_id as current_correlation_id
from tfpilot_core.logs.runner import CapturingRunner
from tfpilot_core.metrics.live import LiveMetricsStore
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
    RevisionAuthor,
    RunAttempt,
    RunKind,
    RunStatus,
    utcnow,
)
from tfpilot_core.rbac import Action
from tfpilot_core.registrations import Kind

if TYPE_CHECKING:
    from tfpilot_core.catalog import Catalog
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.config import Config
    from tfpilot_core.interfaces import Runner, RunResult, RunSpec, Store
    from tfpilot_core.notifications.service import Notifications
    from tfpilot_core.plan import Plan
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.query import Query, QueryResult
    from tfpilot_core.suggestions.service import Suggestions

# The facade: importing structlog costs more than a small command; see tfpilot_core.log.
log = get_logger("tfpilot.platform")
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
        from tfpilot_core.access import Access

        self.host = host
        self.config: Config = host.config
        self._clock = clock
        self._catalog: Catalog | None = None
        #: The one place that answers "may X do A on request R" (see :mod:`tfpilot_core.access`).
        self.access = Access(self.config)
        self._notifications: Notifications | None = None
        #: The trace every span, event and attempt of this session belongs to (TRACEPARENT).
        self.trace_id = join_session()
        #: Log context of the attempt running under each held lock (see _start_attempt).
        self._attempt_logs: dict[str, Any] = {}

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
        """The configured store (traced, failing closed); appended events are recorded live."""
        return cast("Store", self._event_store())

    def _event_store(self) -> LiveMetricsStore:
        # The one seam of live metrics: every event stored through the platform's store.
        return LiveMetricsStore(self.host.store())

    @property
    def notifications(self) -> Notifications:
        """Routing, the outbox, preferences and digests (:mod:`tfpilot_core.notifications`)."""
        if self._notifications is None:
            from tfpilot_core.notifications.service import Notifications

            self._notifications = Notifications(self)
        return self._notifications

    @property
    def suggestions(self) -> Suggestions:
        """Safer or cheaper inputs as checked patches (:mod:`tfpilot_core.suggestions`)."""
        from tfpilot_core.suggestions.service import Suggestions

        return Suggestions(self)

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
        # Wrapped so that every run's Terraform output is stored as the attempt's log.
        return CapturingRunner(self.host.runner(), self.store)

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
        """The actor's configured global role (decisions use :attr:`access`)."""
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
        if request is None:
            raise ValueError("_authorize needs a request; creates are checked by project")
        self.access.check(actor, action, request)

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
            correlation_id=correlation_id or current_correlation_id(),
            data=dict(data or {}),
        )
        stored = self._event_store().append_event(event, request)  # + live OTel metrics
        log.info("event", type=type_, request_id=request.id, actor=actor)
        # Routed to the outbox, not sent inline: sending waits until no lock is held and is
        # bounded by [notifications] budget_seconds (tfpilot_core.notifications.service).
        self.notifications.record(stored, request)
        self.host.observe(stored, request)
        return stored

    # -- locks and idempotency ----------------------------------------------------------------

    def _lock(self, request_id: str, owner: str, purpose: str) -> Record:
        """Take the per-request run lock; an expired lock counts as free."""
        expires = self._clock() + timedelta(seconds=self.config.core.stale_after_seconds)
        try:
            lock = self.store.put_record(
                LOCKS,
                request_id,
                {"owner": owner, "purpose": purpose, "at": self._clock().isoformat()},
                expected_version=None,
                expires_at=expires,
            )
            # Notifications recorded while the lock is held are sent after _unlock.
            self.notifications.hold()
            return lock
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
        finally:
            token = self._attempt_logs.pop(lock.key, None)
            if token is not None:
                log_context.pop(token)
            self.notifications.release()

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
        self,
        request: Request,
        stage: str,
        plan: Plan | None = None,
        cost: CostEstimate | None = None,
    ) -> list[PolicyFinding]:
        from tfpilot_core.interfaces import PolicyInput

        env = self.environment(request.placement.environment)
        spec = self.catalog.get(request.placement.module)
        subject = PolicyInput(
            request=request, environment=env, stage=stage, plan=plan, module=spec, cost=cost
        )
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
        from tfpilot_core.limits import check_input_limits, check_placement

        env = self.environment(environment)
        check_placement(project=project)
        self.access.check(actor, Action.CREATE, project=project, environment=env.key)
        self.host.prepare()  # a broken selected plugin fails here, before anything is stored
        spec = self.catalog.get(module)
        check_input_limits(inputs or {}, self.config.core)
        template_version: int | None = None
        if template_id is not None:
            # A template's defaults under the user's inputs; a locked field given is refused.
            from tfpilot_core.templates import Templates

            inputs, template_version = Templates(self).for_create(
                template_id,
                module=module,
                environment=env.key,
                project=project,
                inputs=inputs or {},
            )
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
                    template_version=template_version,
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
                    revision_authors=[RevisionAuthor(revision=1, actor=actor, at=now)],
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
        from tfpilot_core.limits import check_input_limits

        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        self._authorize(Action.UPDATE, actor, request, env)
        check_input_limits(inputs, self.config.core)
        status = self.status(request)
        if status in _UPDATE_BLOCKED:
            raise ForbiddenError(f"request {request_id} cannot be updated while {status.value}")
        spec = self.catalog.get(request.placement.module)
        if request.placement.template_id:
            # A template's locked fields stay locked after the create, too.
            from tfpilot_core.templates import Templates

            Templates(self).check_update(request, inputs)

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
                new.revision_authors.append(
                    RevisionAuthor(revision=new.revision, actor=actor, at=new.updated_at)
                )
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
        self,
        request_id: str,
        kind: RunKind,
        actor: str,
        runner: str,
        *,
        queued: bool = False,
        **fields: Any,
    ) -> tuple[Request, RunAttempt]:
        # ``queued``: a dispatching runner starts the run elsewhere; it is in progress only
        # once the job says so (tfpilot_core.runs).
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
                status=RunStatus.QUEUED if queued else RunStatus.IN_PROGRESS,
                created_at=self._clock(),
                started_at=None if queued else self._clock(),
                **fields,
            )
            attempt.details.update(current_ids())  # correlation: `tfpilot trace REQ`
            attempt.details["correlation_id"] = current_correlation_id()
            attempts.append(attempt)
            holder[:] = [attempt]
            return current

        request = update_request(self.store, request_id, mutate)
        attempt = holder[0]
        fields = attempt_fields(
            request_id, attempt.revision, attempt.id, attempt.details.get("correlation_id")
        )
        trace.get_current_span().set_attributes(  # correlation: the span names its attempt
            {f"tfpilot.{k}": v for k, v in fields.items() if v is not None}
        )
        # Log lines carry the attempt's ids until its lock is released (_unlock).
        self._attempt_logs[request_id] = log_context.push(**fields)
        return request, attempt

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
                    if "details" in fields:  # keep what the start recorded (trace id)
                        fields["details"] = {**existing.details, **fields["details"]}
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

    def _dispatched(
        self, request_id: str, attempt: RunAttempt, actor: str, result: RunResult
    ) -> Request:
        """A run started elsewhere: the attempt stays queued (see :mod:`tfpilot_core.runs`)."""
        from tfpilot_core.runs import record_dispatch

        return record_dispatch(self, request_id, attempt, actor, result)

    def _failed(self, kind: str, request: Request, result: RunResult) -> ExternalToolError:
        error = (result.error or result.log or f"{kind} failed").strip()
        return ExternalToolError(f"{kind} of {request.id} failed: {error[-1500:]}")

    def _plan_checks(self, actor: str, request: Request, *, destroy: bool) -> None:
        """What must hold to start a plan (before the lock, and again under it)."""
        env = self.environment(request.placement.environment)
        self._authorize(Action.DESTROY if destroy else Action.PLAN, actor, request, env)
        status = self.status(request)
        _not_busy(request, status)
        if destroy:
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
                    f"only applied requests can be destroyed; {request.id} is {status.value}"
                )
        elif status not in _PLAN_FROM:
            raise ForbiddenError(f"request {request.id} cannot be planned while {status.value}")

    def plan(self, actor: str, request_id: str) -> Request:
        """Render and plan the request, then policy, cost and summary on the plan.

        :raises ExternalToolError: Terraform failed (recorded as a failed attempt first).
        """
        return self._plan(actor, request_id, destroy=False)

    def _plan(self, actor: str, request_id: str, *, destroy: bool) -> Request:
        self._plan_checks(actor, self.get(request_id), destroy=destroy)
        runner = self.runner()
        lock = self._lock(request_id, actor, "destroy plan" if destroy else "plan")
        try:
            # Re-read and re-check under the lock: another process may have acted meanwhile.
            request = self.get(request_id)
            with _changed_meanwhile(request_id):
                self._plan_checks(actor, request, destroy=destroy)
            spec = self.catalog.get(request.placement.module)
            with tracer.start_as_current_span(
                "tfpilot.plan", attributes={"tfpilot.request_id": request_id}
            ):
                request, attempt = self._start_attempt(
                    request_id,
                    RunKind.PLAN,
                    actor,
                    self.config.core.runner,
                    queued=_dispatching(runner),
                    module_version=spec.version,
                    details={"destroy": True} if destroy else {},
                )
                self._emit(
                    request,
                    "plan_started",
                    actor,
                    {"run": attempt.id, "revision": request.revision, "destroy": destroy},
                )
                with self._recording_failure(request, attempt, actor, "plan_failed"):
                    if destroy:
                        result = runner.plan(self._run_spec(request, spec), destroy=True)
                    else:
                        result = runner.plan(self._run_spec(request, spec))
                    if result.dispatched:
                        return self._dispatched(request_id, attempt, actor, result)
                    if not result.success or result.plan_file is None or not result.plan_json:
                        raise self._failed("plan", request, result)
                    plan, digest, findings, cost, summary = self._after_plan(
                        request, attempt.id, spec, result
                    )

                return self._conclude_plan(
                    request_id, attempt, actor, result, plan, digest, findings, cost, summary
                )
        finally:
            self._unlock(lock)

    def _conclude_plan(
        self,
        request_id: str,
        attempt: RunAttempt,
        actor: str,
        result: RunResult,
        plan: Plan,
        digest: str,
        findings: list[PolicyFinding],
        cost: CostEstimate | None,
        summary: PlanSummary | None,
    ) -> Request:
        """Record a successful plan and its events, wherever it ran (here, or in a job)."""

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
                request, "cost_estimated", actor, cost.model_dump(mode="json", exclude={"lines"})
            )
        if not blocking:
            self._emit(
                request,
                "approval_required",
                actor,
                {"plan_digest": digest, "environment": request.placement.environment},
            )
        return request

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
        # Cost before policy, so that budget rules judge this plan's estimate.
        from tfpilot_core.promotion import reusable_cost

        # A promoted request whose plan creates what its source's apply did reuses its estimate.
        cost = reusable_cost(self, request, masked) or self.host.estimate_cost(request, masked)
        if cost is not None:
            cost = cost.model_copy(update={"plan_digest": digest})
        findings = [
            *(f for f in request.policy_findings if f.stage == "request"),
            *self._policy(request, "plan", masked, cost),
        ]
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

    def _apply_checks(
        self, actor: str, request: Request
    ) -> tuple[RunAttempt, Approval | None, ModuleSpec, bytes]:
        """Everything that must hold to apply ``request``'s current plan now.

        Called before the request lock is taken (to fail fast) and again right after, on a fresh
        read, so that a second process that waited for the lock never acts on what it saw before
        (no check-then-act race).
        """
        env = self.environment(request.placement.environment)
        status = self.status(request)
        _not_busy(request, status)
        plan = current_plan(request)
        # auto_apply lets a plan with nothing to override be applied without an approval; a plan
        # with blocking or mandatory findings still goes through approve (which refuses blocking
        # ones and records an approver's overrides of mandatory ones).
        needs_approval = any(
            f.level in (PolicyLevel.BLOCKING, PolicyLevel.MANDATORY)
            for f in request.policy_findings
        )
        automatic = (
            env.auto_apply
            and not env.protected
            and status is RequestStatus.PLAN_READY
            and not needs_approval
        )
        destroying = plan is not None and bool(plan.details.get("destroy"))
        if destroying:
            automatic = False
        action = Action.DESTROY if destroying else Action.APPLY
        why = ""
        if env.auto_apply and status is RequestStatus.PLAN_READY and needs_approval:
            why = "; its policy findings need an approver (auto_apply stays inside policy)"
        try:
            self.access.check(actor, action, request, automatic=automatic)
        except ForbiddenError as exc:
            raise ForbiddenError(exc.message + why) from None
        if (
            plan is None
            or plan.plan_digest is None
            or (status is not RequestStatus.APPROVED and not automatic)
        ):
            raise ForbiddenError(
                f"request {request.id} has no approved plan to apply (status {status.value}){why}"
            )
        approval = current_approval(request)
        if approval is None and not automatic:
            raise ForbiddenError(f"request {request.id}: the plan was not approved")
        spec = self.catalog.get(request.placement.module)
        if plan.module_version and spec.version != plan.module_version:
            raise ConflictError(
                f"module {spec.name} changed since the plan was made (version "
                f"{plan.module_version[:12]} -> {spec.version[:12]}); plan again"
            )
        plan_file = self.store.get_artifact(request.id, f"{plan.id}.tfplan")
        if sha256(plan_file) != plan.plan_digest:
            raise ConflictError(
                f"the saved plan of {request.id} does not match its approved digest "
                f"({plan.plan_digest[:12]}): refusing to apply a tampered plan"
            )
        return plan, approval, spec, plan_file

    def apply(self, actor: str, request_id: str) -> Request:
        """Apply exactly the approved plan, refusing if anything changed since the approval.

        The current plan may be a destroy plan (:meth:`destroy`): applying it destroys what the
        request created and is recorded as a destroy run.
        """
        self._apply_checks(actor, self.get(request_id))
        runner = self.runner()
        lock = self._lock(request_id, actor, "apply")
        try:
            # Re-read and re-check under the lock: whatever we saw before may have changed.
            request = self.get(request_id)
            with _changed_meanwhile(request_id):
                plan, approval, spec, plan_file = self._apply_checks(actor, request)
            if plan.details.get("destroy"):
                return self._apply_destroy(actor, request, plan, approval, spec, plan_file, runner)
            with tracer.start_as_current_span(
                "tfpilot.apply", attributes={"tfpilot.request_id": request_id}
            ):
                request, attempt = self._start_applying(
                    RunKind.APPLY, actor, request_id, plan, approval, spec, runner
                )
                with self._recording_failure(request, attempt, actor, "apply_failed"):
                    result = runner.apply(
                        self._run_spec(request, spec),
                        plan_file,
                        rendered_digest=plan.rendered_digest,
                    )
                    if result.dispatched:
                        return self._dispatched(request_id, attempt, actor, result)
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

    def _start_applying(
        self,
        kind: RunKind,
        actor: str,
        request_id: str,
        plan: RunAttempt,
        approval: Approval | None,
        spec: ModuleSpec,
        runner: Runner,
    ) -> tuple[Request, RunAttempt]:
        """Start an attempt that applies ``plan`` (an apply, or a destroy) and say so."""
        request, attempt = self._start_attempt(
            request_id,
            kind,
            actor,
            self.config.core.runner,
            queued=_dispatching(runner),
            plan_digest=plan.plan_digest,
            module_version=spec.version,
        )
        approvers = [approval.actor] if approval else []
        self._emit(
            request,
            f"{kind.value}_started",
            actor,
            {"run": attempt.id, "plan_digest": plan.plan_digest, "approvers": approvers},
        )
        return request, attempt

    def _apply_destroy(
        self,
        actor: str,
        request: Request,
        plan: RunAttempt,
        approval: Approval | None,
        spec: ModuleSpec,
        plan_file: bytes,
        runner: Runner,
    ) -> Request:
        """Apply an approved destroy plan (the caller holds the lock); a destroy run."""
        # The state as it was before the destroy is the archive (what the request had created).
        try:
            before: bytes | None = self.store.get_artifact(request.id, "state.tfstate")
        except NotFoundError:
            before = None
        request, attempt = self._start_applying(
            RunKind.DESTROY, actor, request.id, plan, approval, spec, runner
        )
        with self._recording_failure(request, attempt, actor, "destroy_failed"):
            result = runner.apply(
                self._run_spec(request, spec), plan_file, rendered_digest=plan.rendered_digest
            )
            if result.dispatched:
                return self._dispatched(request.id, attempt, actor, result)
            if not result.success:
                raise self._failed("destroy", request, result)
            archived = None
            if before is not None:
                archived = self.store.put_artifact(request.id, "final-state.tfstate", before)
        request = self._finish_attempt(
            request.id, attempt, Conclusion.SUCCESS, details={"archived_state": archived}
        )
        self._emit(
            request,
            "destroy_succeeded",
            actor,
            {"run": attempt.id, "archived_state": archived, "plan_digest": plan.plan_digest},
        )
        return request

    def destroy(self, actor: str, request_id: str, *, yes: bool = False) -> Request:
        """Destroy as a reviewed change: make a destroy plan, and apply it once it may be.

        The destroy plan gets a summary, policy and a cost delta like any plan. In a protected
        environment it needs an approval by someone other than whoever asked for the destroy
        (four eyes), then :meth:`apply` applies exactly that plan. In an unprotected environment
        ``yes=True`` does both steps at once. Who may ask stays ``Action.DESTROY`` (admins by
        default; ``destroy_allowed_actors`` narrows it).
        """
        request = self.get(request_id)
        env = self.environment(request.placement.environment)
        # Who may destroy is decided before anything about how (a viewer gets 403, not 500).
        self._authorize(Action.DESTROY, actor, request, env)
        runner = self.runner()
        if not _plans_destroys(runner):
            # A runner written before destroy plans existed: only the old one-step destroy,
            # and only where no approval is needed (deprecated; see docs/runner.md).
            if env.protected or not yes:
                raise ConfigError(
                    f"runner {self.config.core.runner!r} cannot make destroy plans (its plan() "
                    "takes no destroy=...), so destroys cannot be reviewed; in an unprotected "
                    "environment pass yes=True (--yes) for a one-step destroy",
                    key="core.runner",
                )
            return self._legacy_destroy(actor, request_id)
        planned = self._plan(actor, request_id, destroy=True)
        if yes and not env.protected:
            plan = current_plan(planned)
            if plan is not None and plan.conclusion is Conclusion.SUCCESS:
                blocking = [f for f in planned.policy_findings if f.level is PolicyLevel.BLOCKING]
                if blocking:
                    raise PolicyBlockedError(
                        "destroy blocked by policy: "
                        + "; ".join(f"{f.rule_id}: {f.message}" for f in blocking)
                    )
                self.approve(actor, request_id, plan_digest=plan.plan_digest, comment="--yes")
                return self.apply(actor, request_id)
        return planned

    def _legacy_destroy(self, actor: str, request_id: str) -> Request:
        """One-step ``destroy`` through a runner that cannot plan destroys (deprecated)."""
        request = self.get(request_id)
        self._plan_checks(actor, request, destroy=True)
        runner = self.runner()
        lock = self._lock(request_id, actor, "destroy")
        try:
            self._plan_checks(actor, self.get(request_id), destroy=True)
            request, attempt = self._start_attempt(
                request_id,
                RunKind.DESTROY,
                actor,
                self.config.core.runner,
                queued=_dispatching(runner),
            )
            self._emit(request, "destroy_started", actor, {"run": attempt.id})
            with self._recording_failure(request, attempt, actor, "destroy_failed"):
                result = runner.destroy(self._run_spec(request))
                if result.dispatched:
                    return self._dispatched(request_id, attempt, actor, result)
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
            with _changed_meanwhile(request_id):
                if self.status(self.get(request_id)) is not RequestStatus.APPLIED:
                    raise ForbiddenError(f"{request_id} is no longer applied")
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
        self,
        actor: str,
        request_id: str,
        *,
        to: str | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """Promote an applied, drift-free request to the next environment, as a new request.

        The gates (applied, drift-free, drift check age, soak, path), what is copied and what is
        reused are those of :class:`tfpilot_core.promotion.Promotions`. The new request is linked
        to its source both ways and needs its own plan and approval.
        """
        from tfpilot_core.promotion import Promotions

        return Promotions(self).promote(actor, request_id, to=to, idempotency_key=idempotency_key)

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
        """The stored request, unchecked (the id is validated first).

        For code acting on the platform's own behalf. Anything that shows a request to a person
        or another system reads it with :meth:`read`, which checks they may.
        """
        from tfpilot_core.catalog.ids import validate_request_id

        return self.store.get_request(validate_request_id(request_id))

    def read(self, actor: str, request_id: str) -> Request:
        """The stored request, if ``actor`` may read it (else :class:`ForbiddenError`)."""
        request = self.get(request_id)
        self.access.check(actor, Action.READ, request)
        return request

    def view(self, request: Request) -> dict[str, Any]:
        """The public JSON form of ``request``: sensitive inputs masked, status derived.

        The one rendering every output uses (CLI ``--json``, the HTTP API, MCP): sensitive inputs
        are write-only and show as ``(sensitive)``.
        """
        from tfpilot_core.masking import mask_keys

        data = request.model_dump(mode="json")
        try:
            hidden = self.catalog.get(request.placement.module).sensitive_inputs
        except TfpilotError:
            # The module left the catalog: nothing says which inputs were sensitive, so show
            # none of the values rather than guess.
            hidden = list(request.inputs)
        data["inputs"] = mask_keys(data["inputs"], hidden)
        data["status"] = self.status(request).value
        return data

    def list(
        self, actor: str | RequestQuery | None = None, query: RequestQuery | None = None
    ) -> RequestPage:
        """Requests matching ``query`` that ``actor`` may read (newest first).

        ``list(query)`` without an actor is the pre-0.2 form: deprecated, and unscoped (it is
        what trusted embedding code used). Pages may hold fewer than ``limit`` items when some
        are not readable; follow ``next_cursor``.
        """
        if actor is None or isinstance(actor, RequestQuery):
            import warnings

            warnings.warn(
                "Platform.list(query) is deprecated: pass the acting user, list(actor, query)",
                DeprecationWarning,
                stacklevel=2,
            )
            return self.store.list_requests(actor or RequestQuery())
        page = self.store.list_requests(query or RequestQuery())
        readable = self.access.readable(actor, page.items)
        return page.model_copy(update={"items": readable})

    def query(self, actor: str, query: Query) -> QueryResult:
        """Run a typed query (:mod:`tfpilot_core.query`) over what ``actor`` may read."""
        from tfpilot_core.query import run_query

        return run_query(self, actor, query)

    def timeline(self, actor: str, request_id: str | None = None) -> builtins.list[Event]:
        """The request's events, oldest first, if ``actor`` may read it.

        ``timeline(request_id)`` (one argument) is the deprecated, unchecked pre-0.2 form.
        """
        if request_id is None:
            request_id = _deprecated_unchecked("timeline", actor)
            self.get(request_id)
        else:
            self.read(actor, request_id)
        return self.store.list_events(request_id)

    def audit(self, actor: str, request_id: str | None = None) -> dict[str, Any]:
        """A change decision record, derived only from what is stored (deterministic).

        ``audit(request_id)`` (one argument) is the deprecated, unchecked pre-0.2 form.
        """
        from tfpilot_core.audit import audit_record

        if request_id is None:
            request_id = _deprecated_unchecked("audit", actor)
            request = self.get(request_id)
        else:
            request = self.read(actor, request_id)
        from tfpilot_core.promotion import Promotions

        chain = Promotions(self).chain(request, actor if request_id != actor else None)
        return audit_record(
            request, self.store.list_events(request_id), self.status(request), chain=chain
        )

    def verify_audit(self, actor: str, request_id: str) -> Any:
        """Check the request's event hash chain: a :class:`~tfpilot_core.chain.ChainReport`."""
        return _verify_chain(self, actor, request_id)


def _verify_chain(platform: Platform, actor: str, request_id: str) -> Any:
    from tfpilot_core.chain import verify

    platform.read(actor, request_id)
    return verify(platform.store.list_events(request_id))


def _deprecated_unchecked(method: str, request_id: str) -> str:
    import warnings

    warnings.warn(
        f"Platform.{method}(request_id) is deprecated: pass the acting user first, "
        f"{method}(actor, request_id)",
        DeprecationWarning,
        stacklevel=3,
    )
    return request_id


def _not_busy(request: Request, status: RequestStatus) -> None:
    """A run in progress (here or elsewhere) is a conflict: retry when it has finished."""
    from tfpilot_core.lifecycle import STALEABLE

    if status in STALEABLE:
        raise ConflictError(
            f"request {request.id} is busy: {status.value}; retry when that run has finished"
        )


@contextmanager
def _changed_meanwhile(request_id: str) -> Iterator[None]:
    """A check that passed before the lock and fails under it: someone else acted first."""
    try:
        yield
    except (ForbiddenError, PolicyBlockedError) as exc:
        raise ConflictError(
            f"request {request_id} changed while this action waited for it: {exc.message}"
        ) from None


def _plans_destroys(runner: Runner) -> bool:
    """Whether the runner's ``plan`` takes ``destroy=`` (runners since destroy plans)."""
    import inspect

    target: Any = runner
    # Unwrap the tracing proxy and any wrappers (log capture) down to the plugin's object.
    for _ in range(8):
        inner = getattr(target, "wrapped", None)
        if inner is None:
            break
        target = inner
    try:
        return "destroy" in inspect.signature(target.plan).parameters
    except (TypeError, ValueError):
        return False


def _dispatching(runner: Runner) -> bool:
    """Whether the runner starts runs elsewhere (its attempts begin ``queued``)."""
    target: Any = runner
    for _ in range(8):
        if getattr(target, "dispatches", False):
            return True
        target = getattr(target, "wrapped", None)
        if target is None:
            break
    return False


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
