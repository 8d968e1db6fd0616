"""``Platform``: the embedding API, a thin facade over the lifecycle and the capabilities.

Every action takes the acting user explicitly and is carried out by :mod:`tfpilot_core.lifecycle`
(the one home of the rules, shared with the HTTP API, MCP and the GitHub Actions job); this class
builds the kernel, wires the capabilities to it, and delegates one short method per verb.

>>> platform = Platform.from_config()                       # doctest: +SKIP
>>> req = platform.create("alice", module="sandbox/bucket", environment="dev",
...                       project="shop", inputs={"name": "logs"})  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpilot_core.config import load_config
from tfpilot_core.lifecycle import (
    applying,
    approvals,
    attempts,
    changes,
    drift,
    planning,
    reads,
)
from tfpilot_core.lifecycle.kernel import Kernel, sha256
from tfpilot_core.lifecycle.reads import Reader
from tfpilot_core.models import RequestQuery, utcnow
from tfpilot_core.notifications.service import Notifications
from tfpilot_core.plugins import PluginHost, load_plugins
from tfpilot_core.promotion import Promotions, reusable_cost
from tfpilot_core.query import run_query
from tfpilot_core.registrations import PluginContext
from tfpilot_core.suggestions.service import Suggestions
from tfpilot_core.templates import Templates

if TYPE_CHECKING:
    from tfpilot_core.access import Access
    from tfpilot_core.catalog import Catalog
    from tfpilot_core.config import Config
    from tfpilot_core.event_chain import ChainReport
    from tfpilot_core.interfaces import Runner, Store
    from tfpilot_core.models import Environment, Event, Request, RequestPage, Role
    from tfpilot_core.query import Query, QueryResult

__all__ = ["Platform", "sha256"]  # sha256: kept importable from here (it lived here)


class Platform(Reader):
    """The embedding API: create, update, plan, approve, apply, destroy, check_drift, read.

    Build it with :meth:`from_config` (the usual way) or from a
    :class:`~tfpilot_core.plugins.PluginHost` you assembled yourself. The ``actor`` of every
    action is passed in: the platform never guesses who is acting. :attr:`kernel` is what
    capabilities and custom actions build on (:class:`~tfpilot_core.lifecycle.kernel.Kernel`).
    The reads (``get``, ``read``, ``view``, ``status``) are :class:`~.lifecycle.reads.Reader`'s.
    """

    def __init__(self, host: PluginHost, *, clock: Callable[[], datetime] = utcnow) -> None:
        # The kernel: the shared core of every action (config, host, store, catalog, clock, ...).
        super().__init__(Kernel(host, clock=clock))
        #: Routing, the outbox, preferences and digests (:mod:`tfpilot_core.notifications`).
        self.notifications = Notifications(self.kernel)
        self.kernel.sinks.append(self.notifications)
        self.kernel.templates = Templates(self.kernel)
        self._promotions = Promotions(self.kernel)
        self.kernel.cost_reuse = partial(reusable_cost, self.kernel)

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
        config = load_config(config_path, environ=environ)
        plugins = load_plugins(entry_points=entry_points, environ=environ, extra=extra_plugins)
        host = PluginHost(plugins, config, PluginContext.for_config(config))
        host.validate_settings()
        return cls(host)

    # -- collaborators (the kernel's, under the names embedding code has always used) ---------

    @property
    def host(self) -> PluginHost:
        """The typed plugin host."""
        return self.kernel.host

    @property
    def config(self) -> Config:
        """The validated configuration."""
        return self.kernel.config

    @property
    def access(self) -> Access:
        """The one place that answers "may X do A on request R"."""
        return self.kernel.access

    @property
    def trace_id(self) -> str | None:
        """The trace every span, event and attempt of this session belongs to."""
        return self.kernel.trace_id

    @property
    def store(self) -> Store:
        """The configured store (traced, failing closed); appended events are recorded live."""
        return self.kernel.store

    @property
    def catalog(self) -> Catalog:
        """The module catalog, from every module source plugin."""
        return self.kernel.catalog

    @property
    def suggestions(self) -> Suggestions:
        """Safer or cheaper inputs as checked patches (:mod:`tfpilot_core.suggestions`)."""
        return Suggestions(self.kernel)

    def runner(self) -> Runner:
        """The configured runner; a clear error when none is installed."""
        return self.kernel.runner()

    def role_of(self, actor: str) -> Role:
        """The actor's configured global role (decisions use :attr:`access`)."""
        return self.config.role_of(actor)

    def environment(self, key: str) -> Environment:
        """The configured environment ``key``."""
        return self.kernel.environment(key)

    # -- actions (the rules: tfpilot_core.lifecycle) ------------------------------------------

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
        """Validate and store a new request (:func:`~tfpilot_core.lifecycle.changes.create`)."""
        return changes.create(
            self.kernel,
            actor,
            module=module,
            environment=environment,
            project=project,
            inputs=inputs,
            template_id=template_id,
            opt_outs=opt_outs,
            idempotency_key=idempotency_key,
        )

    def update(
        self,
        actor: str,
        request_id: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Request:
        """A new revision with ``inputs`` merged over the current ones (voids plans, approvals)."""
        return changes.update(
            self.kernel, actor, request_id, inputs, idempotency_key=idempotency_key
        )

    def plan(self, actor: str, request_id: str) -> Request:
        """Render and plan the request, then policy, cost and summary on the plan."""
        return planning.plan(self.kernel, actor, request_id)

    def approve(
        self,
        actor: str,
        request_id: str,
        *,
        plan_digest: str | None = None,
        comment: str = "",
        overrides: Sequence[Mapping[str, str]] = (),
    ) -> Request:
        """Approve the current plan by its digest, overriding mandatory findings in writing."""
        return approvals.approve(
            self.kernel,
            actor,
            request_id,
            plan_digest=plan_digest,
            comment=comment,
            overrides=overrides,
        )

    def reject(
        self, actor: str, request_id: str, *, plan_digest: str, reason: str,
        request_changes: bool = False,
    ) -> Request:  # fmt: skip
        """Reject the current plan with a reason (``request_changes=True``: ask for changes)."""
        return approvals.reject(
            self.kernel, actor, request_id, plan_digest=plan_digest, reason=reason,
            request_changes=request_changes,
        )  # fmt: skip

    def cancel(self, actor: str, request_id: str, attempt_id: str | None = None) -> Request:
        """Cancel a queued run (:func:`~tfpilot_core.lifecycle.attempts.cancel`)."""
        return attempts.cancel(self.kernel, actor, request_id, attempt_id)

    def apply(self, actor: str, request_id: str) -> Request:
        """Apply exactly the approved plan (:func:`~tfpilot_core.lifecycle.applying.apply`)."""
        return applying.apply(self.kernel, actor, request_id)

    def destroy(self, actor: str, request_id: str, *, yes: bool = False) -> Request:
        """Destroy as a reviewed change (:func:`~tfpilot_core.lifecycle.applying.destroy`)."""
        return applying.destroy(self.kernel, actor, request_id, yes=yes)

    def check_drift(self, actor: str, request_id: str) -> Request:
        """Check an applied request for drift and record the result."""
        return drift.check_drift(self.kernel, actor, request_id)

    def promote(
        self,
        actor: str,
        request_id: str,
        *,
        to: str | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """Promote an applied, drift-free request to the next environment, as a new request.

        The gates, what is copied and what is reused are those of
        :class:`tfpilot_core.promotion.Promotions`.
        """
        return self._promotions.promote(actor, request_id, to=to, idempotency_key=idempotency_key)

    def reconcile(self, actor: str, request_id: str) -> Request:
        """Close runs that went stale (a process died mid-run) so the request can be retried."""
        return drift.reconcile(self.kernel, actor, request_id)

    # -- reads --------------------------------------------------------------------------------

    def list(
        self, actor: str | RequestQuery | None = None, query: RequestQuery | None = None
    ) -> RequestPage:
        """Requests matching ``query`` that ``actor`` may read (newest first).

        ``list(query)`` without an actor is the pre-0.2 form: deprecated, and unscoped.
        """
        if actor is None or not isinstance(actor, str):
            _deprecated("list(query)", "list(actor, query)")
            return self.store.list_requests(actor or query or RequestQuery())
        return reads.list_requests(self.kernel, actor, query)

    def query(self, actor: str, query: Query) -> QueryResult:
        """Run a typed query (:mod:`tfpilot_core.query`) over what ``actor`` may read."""
        return run_query(self.kernel, actor, query)

    def timeline(self, actor: str, request_id: str | None = None) -> builtins.list[Event]:
        """The request's events, oldest first, if ``actor`` may read it.

        ``timeline(request_id)`` (one argument) is the deprecated, unchecked pre-0.2 form.
        """
        if request_id is None:
            _deprecated("timeline(request_id)", "timeline(actor, request_id)")
            return self.store.list_events(self.get(actor).id)
        return reads.timeline(self.kernel, actor, request_id)

    def audit(self, actor: str, request_id: str | None = None) -> dict[str, Any]:
        """A change decision record, derived only from what is stored (deterministic).

        ``audit(request_id)`` (one argument) is the deprecated, unchecked pre-0.2 form.
        """
        if request_id is None:
            _deprecated("audit(request_id)", "audit(actor, request_id)")
            return reads.audit(self.kernel, None, actor, self._promotions.chain)
        return reads.audit(self.kernel, actor, request_id, self._promotions.chain)

    def verify_audit(self, actor: str, request_id: str) -> ChainReport:
        """Check the request's event hash chain (:class:`~tfpilot_core.event_chain.ChainReport`)."""
        return reads.verify_audit(self.kernel, actor, request_id)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"Platform.{old} is deprecated: pass the acting user first, {new}",
        DeprecationWarning,
        stacklevel=3,
    )
