"""The kernel: what every lifecycle action and every capability needs, behind public names.

:class:`Kernel` holds the configuration, the plugin host, the store, the catalog, the access
decisions and the clock, and offers the shared steps of every action: event emission, request
locks, idempotency keys, starting and finishing run attempts, the run spec of a request, its
status and its environment. The actions (:mod:`tfpilot_core.lifecycle.changes`, ``planning``,
``approvals``, ``applying``, ``drift``, ``reads``) and the capability packages (notifications,
templates, promotion, runs, suggestions, ...) receive a kernel; none reaches into another
module's private names, and none depends on :class:`tfpilot_core.Platform`, the facade above.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from opentelemetry import trace

import tfpilot_core.catalog.terraform_check as terraform_check
import tfpilot_core.default_plugins.runner_local as runner_local
import tfpilot_core.log as log_context
from tfpilot_core.access import Access
from tfpilot_core.catalog import Catalog
from tfpilot_core.catalog.ids import validate_request_id
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
from tfpilot_core.event_chain import anchor_of, event_digest, next_anchor, verify
from tfpilot_core.failures import DETAILS_KEY, Explanation
from tfpilot_core.interfaces import PolicyInput, RunSpec
from tfpilot_core.lifecycle import STALEABLE, RequestStatus, derive_status
from tfpilot_core.log import get_logger
from tfpilot_core.masking import MASK, mask_keys
from tfpilot_core.metrics.live import LiveMetricsStore
from tfpilot_core.models import (
    ChainAnchor,
    Conclusion,
    CostEstimate,
    Environment,
    Event,
    Placement,
    PolicyFinding,
    Record,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
    utcnow,
)
from tfpilot_core.plugin_sections import lookup
from tfpilot_core.registrations import Kind
from tfpilot_core.required_plugins import check_host
from tfpilot_core.run_logs.artifacts import read as read_log
from tfpilot_core.run_logs.correlation import attempt_fields, current_ids, join_session
from tfpilot_core.run_logs.correlation import correlation_id as current_correlation_id
from tfpilot_core.run_logs.runbooks import runbook_for
from tfpilot_core.run_logs.runner import CapturingRunner, secrets_of
from tfpilot_core.stores.cas import update_request

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.config import Config
    from tfpilot_core.interfaces import Runner, RunResult, Store
    from tfpilot_core.plan import Plan
    from tfpilot_core.plugins import PluginHost

# The facade: importing structlog costs more than a small command; see tfpilot_core.log.
log = get_logger("tfpilot.lifecycle")
tracer = trace.get_tracer("tfpilot")

LOCKS = "locks"
#: Records holding each request's chain anchor (see :meth:`Kernel.append`).
ANCHORS = "chain_anchors"
IDEMPOTENCY = "idempotency"
#: How long an idempotency key replays its first result.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data`` (plan digests, artifact names)."""
    return hashlib.sha256(data).hexdigest()


class EventSink(Protocol):
    """Something downstream of the event stream that hears every stored event (the outbox).

    ``hold``/``release`` bracket a request lock: what is recorded meanwhile is sent after it.
    A sink never fails an action: it isolates its own errors.
    """

    def record(self, event: Event, request: Request) -> Any:
        """A stored event and the request it belongs to."""

    def hold(self) -> None:
        """A request lock was taken in this thread."""

    def release(self) -> None:
        """The lock was released."""


class TemplateRules(Protocol):
    """The templates capability, as create and update consult it (locked fields, defaults)."""

    def for_create(
        self,
        template_id: str,
        *,
        module: str,
        environment: str,
        project: str,
        inputs: Mapping[str, Any],
    ) -> tuple[dict[str, Any], int]:
        """The inputs with the template's defaults under them, and the template's version."""

    def check_update(self, request: Request, inputs: Mapping[str, Any]) -> None:
        """Refuse a change of a field the request's template locks."""


#: Reuse of an earlier estimate for a plan (promotion); ``None`` when nothing may be reused.
CostReuse = Callable[[Request, "Plan"], CostEstimate | None]


class SupportsKernel(Protocol):
    """Anything that gives a kernel: a :class:`Kernel` itself, or the ``Platform`` facade."""

    @property
    def kernel(self) -> Kernel:
        """The kernel."""


class Kernel:
    """The shared core of every action: configuration, host, store, catalog, access and clock.

    Capabilities are built over a kernel (or anything with a ``kernel`` attribute, such as the
    ``Platform`` facade). ``clock`` is the one source of "now" and may be replaced (tests move
    time with it).
    """

    def __init__(self, host: PluginHost, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.host = host
        self.config: Config = host.config
        #: The one source of "now" for every fact and event.
        self.clock = clock
        #: The one place that answers "may X do A on request R" (see :mod:`tfpilot_core.access`).
        self.access = Access(self.config)
        #: The trace every span, event and attempt of this session belongs to (TRACEPARENT).
        self.trace_id = join_session()
        #: Downstream of every stored event (the notification outbox); see :meth:`emit`.
        self.sinks: list[EventSink] = []
        #: The templates capability as create and update consult it (set by the facade).
        self.templates: TemplateRules | None = None
        #: Reuse of an estimate for a plan (set by the facade to promotion's rule).
        self.cost_reuse: CostReuse | None = None
        self._catalog: Catalog | None = None
        # Log context of the attempt running under each held lock (see start_attempt).
        self._attempt_logs: dict[str, Any] = {}
        # Requests whose lock this kernel holds now (only under one is an attempt bound).
        self._held: set[str] = set()
        # Inputs are checked at request time by the runner's configured Terraform; without one,
        # by a terraform/tofu on PATH if there is one (it starts in a fifth of the embedded
        # engine's time: docs/modules.md), else the embedded engine.
        _, local = lookup(
            self.config.plugins, runner_local.SECTION, runner_local.DEPRECATED_SECTIONS
        )
        terraform_check.use_engine(local.get("binary") or "auto")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            # Unattended, a selected policy engine, estimator or notifier that is not installed
            # must stop the job (one line naming it), never leave it planning without it.
            check_host(host, os.environ.get("TFPILOT_INSTALL_SET"))

    @property
    def kernel(self) -> Kernel:
        """Itself, so that a kernel goes wherever a ``Platform`` went (:class:`SupportsKernel`)."""
        return self

    def now(self) -> datetime:
        """The current time, from :attr:`clock`."""
        return self.clock()

    # -- collaborators ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The configured store (traced, failing closed); appended events are recorded live."""
        # The one seam of live metrics: every event stored through the kernel's store.
        return cast("Store", LiveMetricsStore(self.host.store()))

    @property
    def catalog(self) -> Catalog:
        """The module catalog, from every module source plugin."""
        if self._catalog is None:
            self._catalog = Catalog(self.host.module_locations())
        return self._catalog

    def forget_catalog(self) -> None:
        """Read the catalog again on next use (a module was added or changed)."""
        self._catalog = None

    def runner(self, name: str | None = None) -> Runner:
        """The configured runner (or the one named), wrapped to store every run's output.

        :raises ConfigError: no runner plugin of that name is installed.
        """
        name = name or self.config.core.runner
        if not self.host.has(Kind.RUNNER, name):
            raise ConfigError(
                f"no runner configured: no runner plugin named {name!r} is installed, so "
                "plan, apply, destroy and drift checks cannot run (install a runner plugin or "
                "set [core] runner)",
                key="core.runner",
            )
        return CapturingRunner(self.host.runner(name), self.store)

    def run_spec(self, request: Request, spec: ModuleSpec | None = None) -> RunSpec:
        """What the runner needs for ``request``: module directory, mirrors, sensitive inputs."""
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

    def environment(self, key: str) -> Environment:
        """The configured environment ``key``."""
        return self.config.environment(key)

    def status(self, request: Request) -> RequestStatus:
        """The request's status, derived from its facts now."""
        return derive_status(
            request,
            now=self.now(),
            stale_after=timedelta(seconds=self.config.core.stale_after_seconds),
        )

    def get(self, request_id: str) -> Request:
        """The stored request, unchecked (the id is validated first).

        For the platform acting on its own behalf: whatever shows a request to a person or
        another system reads it through :func:`tfpilot_core.lifecycle.reads.read`.
        """
        return self.store.get_request(validate_request_id(request_id))

    # -- events -------------------------------------------------------------------------------

    def emit(
        self,
        request: Request,
        type_: str,
        actor: str,
        data: Mapping[str, Any] | None = None,
        *,
        correlation_id: str | None = None,
    ) -> Event:
        """Store an event, then tell the sinks and observers (isolated: never raises for them)."""
        event = Event(
            request_id=request.id,
            type=type_,
            at=self.now(),
            revision=request.revision,
            actor=actor,
            correlation_id=correlation_id or current_correlation_id(),
            data=dict(data or {}),
        )
        stored = self.append(event, request)
        log.info("event", type=type_, request_id=request.id, actor=actor)
        # Routed to the outbox, not sent inline: sending waits until no lock is held and is
        # bounded by [notifications] budget_seconds (tfpilot_core.notifications.service).
        for sink in self.sinks:
            sink.record(stored, request)
        self.host.observe(stored, request)
        return stored

    def append(self, event: Event, request: Request | None = None) -> Event:
        """Append ``event`` and move its request's chain anchor with it (compare-and-swap).

        Every event of a request goes through here (the lifecycle's and the outbox's), so the
        anchor (a record beside the request, namespace ``chain_anchors``) always names the head
        of its history: a cut, a rewritten tail or an append past this method is found by
        ``audit verify`` (:func:`tfpilot_core.event_chain.verify`). The request document itself is
        not rewritten, so its version counts changes of its facts only.
        """
        # Through the live-metrics seam, which also counts the event (+ live OTel metrics).
        stored = LiveMetricsStore(self.host.store()).append_event(event, request)
        key = self.chain_key()
        for attempt in range(20):
            record = self.store.get_record(ANCHORS, stored.request_id)
            anchor = ChainAnchor.model_validate(record.value) if record is not None else None
            moved: ChainAnchor | None
            try:
                moved = next_anchor(anchor, stored, key=key)
            except ValueError:
                # Another writer appended meanwhile (or the history predates anchors): anchor
                # the stream as stored, if its links hold and it extends the anchored head.
                events = self.store.list_events(stored.request_id)
                if not verify(events, None).ok or not _extends(events, anchor):
                    raise ConflictError(
                        f"the event history of {stored.request_id} does not extend its anchored "
                        "head: run `tfpilot audit verify` on it"
                    ) from None
                moved = anchor_of(events, key=key)
                if moved is None or (anchor is not None and moved.events <= anchor.events):
                    return stored  # someone else moved the anchor past this event already
            try:
                self.store.put_record(
                    ANCHORS,
                    stored.request_id,
                    moved.model_dump(mode="json"),
                    expected_version=record.version if record is not None else None,
                )
                return stored
            except (ConflictError, AlreadyExistsError):
                time.sleep(0.002 * (attempt + 1))  # another append moved it: read and fold again
        raise ConflictError(f"the chain anchor of {stored.request_id} is contended; retry")

    def chain_anchor(self, request_id: str) -> ChainAnchor | None:
        """The anchored head of the request's event history (``None`` before its first event)."""
        record = self.store.get_record(ANCHORS, request_id)
        return ChainAnchor.model_validate(record.value) if record is not None else None

    def chain_key(self) -> bytes | None:
        """The key that signs chain anchors (``[core] chain_key_env``), or ``None``."""
        name = self.config.core.chain_key_env
        if not name:
            return None
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"[core] chain_key_env names {name}, which is not set", key="core.chain_key_env"
            )
        return value.encode()

    # -- locks and idempotency ----------------------------------------------------------------

    def lock(self, request_id: str, owner: str, purpose: str) -> Record:
        """Take the per-request run lock; an expired lock counts as free.

        :raises LockedError: another run holds it (naming who and why).
        """
        expires = self.now() + timedelta(seconds=self.config.core.stale_after_seconds)
        try:
            lock = self.store.put_record(
                LOCKS,
                request_id,
                {"owner": owner, "purpose": purpose, "at": self.now().isoformat()},
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
        self._held.add(request_id)
        # Notifications recorded while the lock is held are sent after unlock.
        for sink in self.sinks:
            sink.hold()
        return lock

    def unlock(self, lock: Record) -> None:
        """Release a lock taken with :meth:`lock` (and send what waited for it)."""
        try:
            self.store.delete_record(LOCKS, lock.key, expected_version=lock.version)
        except (ConflictError, NotFoundError):
            # Expired and taken over by someone else: theirs now, not ours to delete.
            log.warning("lock_lost", request_id=lock.key)
        finally:
            self._held.discard(lock.key)
            token = self._attempt_logs.pop(lock.key, None)
            if token is not None:
                log_context.pop(token)
            for sink in self.sinks:
                sink.release()

    @contextmanager
    def locked(self, request_id: str, owner: str, purpose: str) -> Iterator[Record]:
        """The request lock for the duration of the block."""
        lock = self.lock(request_id, owner, purpose)
        try:
            yield lock
        finally:
            self.unlock(lock)

    def idempotent(
        self,
        key: str | None,
        action: str,
        fingerprint: Mapping[str, Any],
        run: Callable[[dict[str, Any]], Request],
        *,
        actor: str,
        result_id: str | None = None,
    ) -> Request:
        """Run ``run`` once per idempotency key; a repeat with the same arguments replays it.

        The key is claimed with a create-only write before anything happens, so of two processes
        using one key exactly one acts; the other waits for and returns the first one's result.
        A key reused for a different action or different arguments is refused.

        Keys are scoped to ``actor``: two callers choosing the same key never collide, and one
        caller's key never replays (or reveals) another's request.
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
        # The stored key names the caller by a digest (any actor name stays a valid record key).
        given, key = key, f"{sha256(actor.encode())[:32]}:{key}"
        claim = {"action": action, "fingerprint": digest, "state": "pending", "result": result_id}
        try:
            record = self.store.put_record(
                IDEMPOTENCY,
                key,
                claim,
                expected_version=None,
                expires_at=self.now() + IDEMPOTENCY_WINDOW,
            )
        except (ConflictError, AlreadyExistsError):
            return self._replay(key, action, digest, given=given)
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

    def _replay(self, key: str, action: str, digest: str, *, given: str) -> Request:
        deadline = time.monotonic() + 30
        while True:
            record = self.store.get_record(IDEMPOTENCY, key)
            if record is None:
                raise ConflictError(f"idempotency key {given!r} was released; retry the action")
            if record.value.get("fingerprint") != digest:
                raise ConflictError(
                    f"idempotency key {given!r} was already used for a different "
                    f"{record.value.get('action')} action; use a new key"
                )
            if record.value.get("state") == "done":
                return self.store.get_request(str(record.value["result"]))
            if time.monotonic() > deadline:
                raise ConflictError(f"idempotency key {given!r} is still in progress elsewhere")
            time.sleep(0.05)

    # -- policy -------------------------------------------------------------------------------

    def policy(
        self,
        request: Request,
        stage: str,
        plan: Plan | None = None,
        cost: CostEstimate | None = None,
    ) -> list[PolicyFinding]:
        """The findings of every selected policy engine at ``stage`` (fails closed)."""
        env = self.environment(request.placement.environment)
        spec = self.catalog.get(request.placement.module)
        subject = PolicyInput(
            request=request, environment=env, stage=stage, plan=plan, module=spec, cost=cost
        )
        return [f.model_copy(update={"stage": stage}) for f in self.host.evaluate_policy(subject)]

    def policy_engines(self) -> list[str]:
        """The selected policy engines (an empty list: nothing judges requests)."""
        if self.config.core.policy_engines is not None:
            return list(self.config.core.policy_engines)
        return [r.name for _, r in self.host.registrations(Kind.POLICY_ENGINE)]

    def emit_policy(
        self, request: Request, actor: str, stage: str, findings: Sequence[PolicyFinding]
    ) -> None:
        """Record that policy was checked (whenever an engine ran, findings or not)."""
        engines = self.policy_engines()
        if engines:
            data = {"stage": stage, "engines": engines, "findings": findings_data(findings)}
            self.emit(request, "policy_evaluated", actor, data)

    # -- requests -----------------------------------------------------------------------------

    def server_tags(self, request_id: str, placement: Placement, author: str) -> dict[str, str]:
        """The tags tfpilot sets on every resource of a request (never the user's to choose)."""
        tags = {
            "tfpilot:request_id": request_id,
            "tfpilot:project": placement.project,
            "tfpilot:environment": placement.environment,
            "tfpilot:created_by": author,
        }
        if placement.template_id:
            tags["tfpilot:template_id"] = placement.template_id
        return tags

    # -- run attempts -------------------------------------------------------------------------

    def start_attempt(
        self,
        request_id: str,
        kind: RunKind,
        actor: str,
        runner: str,
        *,
        queued: bool = False,
        **fields: Any,
    ) -> tuple[Request, RunAttempt]:
        """Record a new attempt of ``kind`` (``queued`` when a dispatching runner runs it)."""
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
                created_at=self.now(),
                started_at=None if queued else self.now(),
                **fields,
            )
            attempt.details.update(current_ids())  # correlation: `tfpilot trace REQ`
            attempt.details["correlation_id"] = current_correlation_id()
            attempts.append(attempt)
            holder[:] = [attempt]
            return current

        request = update_request(self.store, request_id, mutate)
        attempt = holder[0]
        self.bind_attempt(request_id, attempt)
        return request, attempt

    def bind_attempt(self, request_id: str, attempt: RunAttempt) -> None:
        """Name the attempt on the current span and on log lines until its lock is released.

        Only under the request's lock, held here: the release is what ends the binding, so an
        attempt recorded without it (by hand, or a test) must not label every later line.
        """
        fields = attempt_fields(
            request_id, attempt.revision, attempt.id, attempt.details.get("correlation_id")
        )
        trace.get_current_span().set_attributes(
            {f"tfpilot.{k}": v for k, v in fields.items() if v is not None}
        )
        if request_id not in self._held:
            return
        previous = self._attempt_logs.pop(request_id, None)
        if previous is not None:
            log_context.pop(previous)
        self._attempt_logs[request_id] = log_context.push(**fields)

    def finish_attempt(
        self,
        request_id: str,
        attempt: RunAttempt,
        conclusion: Conclusion,
        *,
        extra: Callable[[Request], None] | None = None,
        **fields: Any,
    ) -> Request:
        """Complete ``attempt`` with ``conclusion`` (``extra`` records more facts at once)."""

        def mutate(current: Request) -> Request:
            attempts = current.runs[attempt.kind]
            for i, existing in enumerate(attempts):
                if existing.id == attempt.id:
                    if "details" in fields:  # keep what the start recorded (trace id)
                        fields["details"] = {**existing.details, **fields["details"]}
                    attempts[i] = existing.advanced(
                        status=RunStatus.COMPLETED,
                        conclusion=conclusion,
                        completed_at=self.now(),
                        **fields,
                    )
            current.updated_at = self.now()
            if extra is not None:
                extra(current)
            return current

        return update_request(self.store, request_id, mutate)

    @contextmanager
    def recording_failure(
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
            explained = self.explain_failure(request, attempt, event, error, exc)
            details = {DETAILS_KEY: explained.to_dict()} if explained else {}
            data: dict[str, Any] = {"run": attempt.id, "error": error[-2000:]}
            if explained is not None:
                data[DETAILS_KEY] = explained.brief()
                if isinstance(exc, TfpilotError):
                    exc.explanation = explained.to_dict()
            try:
                failed = self.finish_attempt(
                    request.id, attempt, Conclusion.FAILURE, error=error[-4000:], details=details
                )
                # The request as it is now (failed, explained): observers (the PR comment) and
                # the outbox render from it.
                self.emit(failed, event, actor, data)
            except Exception as record_error:  # the original error matters more
                log.error("recording_failure_failed", run=attempt.id, error=str(record_error))
            raise

    def explain_failure(
        self,
        request: Request,
        attempt: RunAttempt,
        event: str,
        error: str,
        exc: BaseException | None = None,
    ) -> Explanation | None:
        """Why ``attempt`` failed (issue 28): from its captured, masked log (else ``error``).

        Only a run that reached Terraform is explained (a captured log, or an
        :class:`ExternalToolError`); a refusal (a conflict, a policy block) says why itself.
        The configured summariser explains when it can (a model, checked against the log), the
        rules otherwise. Never raises: an explanation is advice on a failure already recorded.
        """
        try:
            try:
                # The captured log already ends with the runner's error (CapturingRunner).
                text = read_log(self.store, request.id, attempt.id)
            except NotFoundError:
                if not isinstance(exc, ExternalToolError):
                    return None
                text = error
            try:
                secrets = secrets_of(self.run_spec(request))
            except TfpilotError:
                secrets = []
            return self.host.explain_failure(
                attempt.kind.value,
                text,
                secrets=secrets,
                runbook=runbook_for(self.config, event, request),
                request_id=request.id,
            )
        except Exception as explain_error:  # the failure matters more than its explanation
            log.warning("failure_explain_failed", run=attempt.id, error=str(explain_error))
            return None


# -- small rules shared by the actions ----------------------------------------------------------


def not_busy(request: Request, status: RequestStatus) -> None:
    """A run in progress (here or elsewhere) is a conflict: retry when it has finished."""
    if status in STALEABLE:
        raise ConflictError(
            f"request {request.id} is busy: {status.value}; retry when that run has finished"
        )


@contextmanager
def changed_meanwhile(request_id: str) -> Iterator[None]:
    """A check that passed before the lock and fails under it: someone else acted first."""
    try:
        yield
    except (ForbiddenError, PolicyBlockedError, ConflictError) as exc:
        if isinstance(exc, LockedError):
            raise
        raise ConflictError(
            f"request {request_id} changed while this action waited for it: {exc.message}"
        ) from None


def run_failed(kind: str, request: Request, result: RunResult) -> ExternalToolError:
    """The error of a run that Terraform (or the runner) reported as failed."""
    error = (result.error or result.log or f"{kind} failed").strip()
    return ExternalToolError(f"{kind} of {request.id} failed: {error[-1500:]}")


def _unwrapped(runner: Runner) -> Iterator[Any]:
    # The runner, then whatever it wraps (tracing proxy, log capture), down to the plugin's object.
    target: Any = runner
    for _ in range(8):
        if target is None:
            return
        yield target
        target = getattr(target, "wrapped", None)


def plans_destroys(runner: Runner) -> bool:
    """Whether the runner's ``plan`` takes ``destroy=`` (runners since destroy plans)."""
    *_, target = _unwrapped(runner)
    try:
        return "destroy" in inspect.signature(target.plan).parameters
    except (TypeError, ValueError):
        return False


def dispatching(runner: Runner) -> bool:
    """Whether the runner starts runs elsewhere (its attempts begin ``queued``)."""
    return any(getattr(target, "dispatches", False) for target in _unwrapped(runner))


def _extends(events: Sequence[Event], anchor: ChainAnchor | None) -> bool:
    """Whether ``events`` keep the anchored head where the anchor says it is."""
    if anchor is None:
        return True
    if len(events) < anchor.events:
        return False
    return event_digest(events[anchor.events - 1]) == anchor.head


def findings_data(findings: Sequence[PolicyFinding]) -> list[dict[str, Any]]:
    """Findings as JSON data (events, attempt details)."""
    return [f.model_dump(mode="json") for f in findings]


def masked_outputs(result: RunResult) -> dict[str, Any]:
    """A run's Terraform outputs with sensitive values masked."""
    masked: dict[str, Any] = {}
    for name, output in result.outputs.items():
        if isinstance(output, dict) and "value" in output:
            masked[name] = MASK if output.get("sensitive") else output["value"]
        else:
            masked[name] = output
    return masked


def masked_inputs(spec: ModuleSpec, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs with the module's sensitive ones masked (events, views)."""
    return mask_keys(inputs, spec.sensitive_inputs)
