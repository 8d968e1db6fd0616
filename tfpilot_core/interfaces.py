"""The interfaces capabilities implement (structural: any object with these methods will do).

Factories in :class:`~tfpilot_core.registrations.Registration` return objects of these shapes.
They are ``Protocol`` classes so that plugins need not inherit from anything of the core.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tfpilot_core.locations import ModuleLocation as ModuleLocation  # re-exported: public

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.identity import Identity, IdentityRequest
    from tfpilot_core.models import (
        CostEstimate,
        DriftReport,
        Environment,
        Event,
        PlanSummary,
        PolicyFinding,
        Record,
        Request,
        RequestPage,
        RequestQuery,
    )
    from tfpilot_core.plan import Plan
    from tfpilot_core.registrations import ProviderMirror


@runtime_checkable
class Store(Protocol):
    """Durable storage of requests, their events, artifacts, and keyed records.

    Every write is atomic. ``put_request`` and ``put_record`` are true compare-and-swap operations
    on the version number: they raise :class:`~tfpilot_core.errors.ConflictError` when the stored
    version is not ``expected_version``, never read-then-write.
    """

    def create_request(self, request: Request) -> Request:
        """Store a new request at version 1; :class:`AlreadyExistsError` if the id is taken."""
        ...

    def get_request(self, request_id: str) -> Request:
        """The stored request; :class:`NotFoundError` if there is none."""
        ...

    def put_request(self, request: Request, *, expected_version: int) -> Request:
        """Replace the request if its stored version is ``expected_version``; returns it at +1."""
        ...

    def list_requests(self, query: RequestQuery) -> RequestPage:
        """Requests matching every filter of ``query``, newest first, one page at a time."""
        ...

    def append_event(self, event: Event) -> Event:
        """Append to the request's event stream; returns the event with its ``seq`` set."""
        ...

    def list_events(self, request_id: str) -> list[Event]:
        """The request's events in the order they were appended."""
        ...

    def put_artifact(self, request_id: str, name: str, data: bytes) -> str:
        """Store a named artifact (a saved plan, an archived state); returns its sha256."""
        ...

    def get_artifact(self, request_id: str, name: str) -> bytes:
        """A stored artifact's bytes; :class:`NotFoundError` if missing."""
        ...

    def get_record(self, namespace: str, key: str) -> Record | None:
        """A keyed record, or ``None``. Expired records read as ``None``."""
        ...

    def put_record(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        expected_version: int | None,
        expires_at: datetime | None = None,
    ) -> Record:
        """Compare-and-swap a record. ``expected_version=None`` creates it (or replaces an
        expired one); otherwise the stored version must match."""
        ...

    def delete_record(self, namespace: str, key: str, *, expected_version: int) -> None:
        """Delete a record if its stored version matches."""
        ...

    def list_records(self, namespace: str, prefix: str = "") -> list[Record]:
        """Unexpired records of a namespace whose key starts with ``prefix``, by key."""
        ...


@dataclass
class PolicyInput:
    """What a policy engine judges: a request, and after a plan, the parsed plan."""

    request: Request
    environment: Environment
    stage: str  # "request" (before any plan) or "plan"
    plan: Plan | None = None
    #: The catalog module of the request (its inputs: which one is the name, the tags, ...).
    module: ModuleSpec | None = None
    #: The cost estimate of this plan (stage ``plan``; ``None``: no estimator priced it), so
    #: that rules can judge budgets.
    cost: CostEstimate | None = None


@runtime_checkable
class PolicyEngine(Protocol):
    """Judges requests and plans. Raising stops the action (fail closed)."""

    def evaluate(self, subject: PolicyInput) -> Sequence[PolicyFinding]:
        """All findings for ``subject``; an empty list means every rule passed."""
        ...


@runtime_checkable
class CostEstimator(Protocol):
    """Estimates the monthly cost of a plan."""

    def estimate(self, request: Request, plan: Plan) -> CostEstimate | None:
        """The estimate, or ``None`` when this estimator knows none of the plan's resources."""
        ...


@dataclass(frozen=True)
class Delivery:
    """One notification to one recipient on one channel, as the outbox records and sends it.

    ``id`` is the idempotency key: the same event to the same recipient on the same channel has
    the same id, however often it is retried (a channel that de-duplicates can use it; email
    uses it in the ``Message-ID``). ``request`` has its sensitive inputs masked.
    """

    id: str
    event: Event
    request: Request
    #: The notifier's registration name (``slack``, ``email``).
    channel: str
    #: The address on that channel: ``#prod-changes``, ``U123``, ``alice@example.com``.
    recipient: str
    #: The tfpilot user this goes to, or ``None`` for a configured channel.
    recipient_user: str | None = None
    runbook_url: str | None = None
    #: Named links (``request``, ``run``, ``pr``, ``unsubscribe``) -> URL.
    links: Mapping[str, str] = field(default_factory=dict)
    #: How many times this delivery was tried before, this attempt excluded.
    attempt: int = 0


@runtime_checkable
class Notifier(Protocol):
    """Tells people about lifecycle events (Slack, email, ...). Errors are isolated.

    A *channel* notifier also has ``deliver(delivery: Delivery) -> None``: the outbox calls it
    once per recipient (see ``docs/notifications.md``), and may give it ``user_address``, the
    ``[users.<name>]`` field holding a user's address on it (``"slack"``, ``"email"``).
    A notifier with only ``notify`` (the older form, still supported but deprecated) is called
    through the outbox once per event, as before, with no recipient.
    """

    def notify(self, event: Event, request: Request) -> None:
        """Deliver a notification about ``event``; raise to have the failure recorded."""
        ...


@runtime_checkable
class Summarizer(Protocol):
    """Turns a plan into plain language. Sensitive values arrive already masked."""

    def summarize(self, request: Request, plan: Plan, context: SummaryContext) -> PlanSummary:
        """The summary of ``plan``."""
        ...


@dataclass
class SummaryContext:
    """What a summariser may mention besides the plan."""

    findings: Sequence[PolicyFinding] = ()
    cost: CostEstimate | None = None


@runtime_checkable
class DriftDetector(Protocol):
    """Checks an applied request for changes made outside Terraform."""

    def check(self, spec: RunSpec, runner: Runner) -> DriftReport:
        """A report of what drifted (or an error result; never raises for a drifted world)."""
        ...


@dataclass
class RunSpec:
    """Everything a runner needs to run Terraform for one request.

    Built by the platform for each run: the request, the catalog module it calls (directory,
    version), the provider mirrors plugins contribute, and the names of sensitive inputs (to mask
    in logs and errors).
    """

    request: Request
    environment: Environment
    module_name: str
    module_path: Path
    module_version: str
    mirrors: Sequence[ProviderMirror] = ()
    sensitive_inputs: Sequence[str] = ()


@dataclass
class RunResult:
    """What a runner returns for a plan, apply, destroy or drift run."""

    success: bool
    plan_json: dict[str, Any] | None = None
    plan_file: bytes | None = None
    state: bytes | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    error: str | None = None
    exit_code: int = 0
    external_id: str | None = None
    url: str | None = None
    #: sha256 of the rendered root module files (recorded on the attempt).
    rendered_digest: str | None = None
    #: The run was started elsewhere (a dispatching runner, e.g. GitHub Actions) and has not
    #: finished: the platform leaves the attempt queued; the run records its own result
    #: (``tfpilot run ... --attempt ID``, see docs/runner.md, "The run model").
    dispatched: bool = False


@runtime_checkable
class Runner(Protocol):
    """Where Terraform executes (in-process, a local binary, GitHub Actions, ...)."""

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        """Render and plan the request; the result carries the saved plan and its JSON.

        With ``destroy`` the plan removes everything the request created (``plan -destroy``);
        the platform has it approved like any plan and applies it with :meth:`apply`. Runners
        written before destroy plans (no ``destroy`` parameter) still work: the platform falls
        back to :meth:`destroy` where no approval is needed (deprecated).

        With ``refresh_only`` the plan only compares the state with the real world (drift); its
        ``exit_code`` follows ``-detailed-exitcode`` (0 none, 2 drift).
        """
        ...

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        """Apply exactly ``plan_file`` (a plan this runner made for ``spec``).

        ``rendered_digest`` is the digest of the configuration the plan was made from (recorded
        on the plan attempt); a runner refuses the apply when what it renders now differs.
        """
        ...

    def destroy(self, spec: RunSpec) -> RunResult:
        """Destroy everything the request created; ``state`` holds the final state to archive."""
        ...


@runtime_checkable
class ModuleSource(Protocol):
    """Where catalog modules come from (``modules/``, a plugin's own modules, a git repo...)."""

    def modules(self) -> Iterable[ModuleLocation]:
        """Every module this source offers."""
        ...


@runtime_checkable
class EventObserver(Protocol):
    """Sees every lifecycle event after it is stored (metrics, audit sinks). Errors are isolated."""

    def on_event(self, event: Event, request: Request) -> None:
        """React to ``event``."""
        ...


@runtime_checkable
class IdentityProvider(Protocol):
    """Says who is acting (``[core] identity``); raising refuses the action (fail closed)."""

    def identify(self, request: IdentityRequest) -> Identity:
        """The acting user, from ``request`` (the claimed name and the environment)."""
        ...
