"""Authorized reads: a request, its public view, lists, its timeline, audit record and chain,
and its current plan for export."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import tfpilot_core.plan_export as plan_export
from tfpilot_core.audit import audit_record
from tfpilot_core.errors import ConflictError, NotFoundError, TfpilotError
from tfpilot_core.event_chain import ChainReport, verify
from tfpilot_core.lifecycle import RequestStatus, current_plan
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.masking import mask_keys
from tfpilot_core.models import (
    Conclusion,
    Event,
    Request,
    RequestPage,
    RequestQuery,
    RunAttempt,
)
from tfpilot_core.rbac import Action

#: The promotion chain through a request as ``actor`` may see it (the promotion capability's).
PromotionChain = Callable[[Request, str | None], list[dict[str, Any]]]


def read(kernel: Kernel, actor: str, request_id: str) -> Request:
    """The stored request, if ``actor`` may read it (else :class:`ForbiddenError`)."""
    request = kernel.get(request_id)
    kernel.access.check(actor, Action.READ, request)
    return request


def view(kernel: Kernel, request: Request) -> dict[str, Any]:
    """The public JSON form of ``request``: sensitive inputs masked, status derived.

    The one rendering every output uses (CLI ``--json``, the HTTP API, MCP): sensitive inputs
    are write-only and show as ``(sensitive)``.
    """
    data = request.model_dump(mode="json")
    try:
        hidden = kernel.catalog.get(request.placement.module).sensitive_inputs
    except TfpilotError:
        # The module left the catalog: nothing says which inputs were sensitive, so show none
        # of the values rather than guess.
        hidden = list(request.inputs)
    data["inputs"] = mask_keys(data["inputs"], hidden)
    data["status"] = kernel.status(request).value
    return data


def list_requests(kernel: Kernel, actor: str, query: RequestQuery | None = None) -> RequestPage:
    """Requests matching ``query`` that ``actor`` may read (newest first).

    Pages may hold fewer than ``limit`` items when some are not readable; follow
    ``next_cursor``.
    """
    page = kernel.store.list_requests(query or RequestQuery())
    return page.model_copy(update={"items": kernel.access.readable(actor, page.items)})


def timeline(kernel: Kernel, actor: str, request_id: str) -> list[Event]:
    """The request's events, oldest first, if ``actor`` may read it."""
    read(kernel, actor, request_id)
    return kernel.store.list_events(request_id)


def audit(
    kernel: Kernel,
    actor: str | None,
    request_id: str,
    promotion_chain: PromotionChain | None = None,
) -> dict[str, Any]:
    """A change decision record, derived only from what is stored (deterministic).

    ``actor=None`` reads unchecked (the deprecated one-argument form of ``Platform.audit``).
    """
    request = kernel.get(request_id) if actor is None else read(kernel, actor, request_id)
    chain = promotion_chain(request, actor) if promotion_chain is not None else []
    request = request.model_copy(update={"chain_anchor": kernel.chain_anchor(request_id)})
    return audit_record(
        request,
        kernel.store.list_events(request_id),
        kernel.status(request),
        chain=chain,
        chain_key=kernel.chain_key(),
    )


def verify_audit(kernel: Kernel, actor: str, request_id: str) -> ChainReport:
    """Check the request's event hash chain against its anchor, if ``actor`` may read it."""
    read(kernel, actor, request_id)
    events = kernel.store.list_events(request_id)
    return verify(events, kernel.chain_anchor(request_id), key=kernel.chain_key())


def export_plan(kernel: Kernel, actor: str, request_id: str) -> tuple[RunAttempt, bytes]:
    """The current plan of the request as a masked ``show -json`` document, if ``actor`` may
    read it: the plan attempt and the stored document (:mod:`tfpilot_core.plan_export`).

    The current plan is the latest successful plan of the request's current revision.

    :raises ConflictError: the request has no successful plan of its current revision.
    :raises NotFoundError: the plan was made before plans were kept for export.
    """
    request = read(kernel, actor, request_id)
    plan = current_plan(request)
    if plan is None or plan.plan_digest is None or plan.conclusion is not Conclusion.SUCCESS:
        raise ConflictError(
            f"request {request.id} has no successful plan of revision {request.revision} to "
            f"export: run `tfpilot plan {request.id}` first"
        )
    found = plan_export.load(kernel.store, request.id, plan.plan_digest)
    if found is None:
        raise NotFoundError(
            f"plan {plan.plan_digest[:12]} of request {request.id} was made before plans were "
            f"kept for export: run `tfpilot plan {request.id}` again"
        )
    return plan, found


class Reader:
    """The authorized reads over a kernel, under the names ``Platform`` gives them.

    For callers that only read (the CLI's read commands): they need the lifecycle's kernel, not
    the capabilities the facade wires up (outbox, templates, promotion, queries, suggestions),
    and start faster without importing them. Each method is the function above.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def get(self, request_id: str) -> Request:
        """The stored request, unchecked (``Kernel.get``)."""
        return self.kernel.get(request_id)

    def read(self, actor: str, request_id: str) -> Request:
        """:func:`read`."""
        return read(self.kernel, actor, request_id)

    def view(self, request: Request) -> dict[str, Any]:
        """:func:`view`."""
        return view(self.kernel, request)

    def list(self, actor: str, query: RequestQuery | None = None) -> RequestPage:
        """:func:`list_requests`."""
        return list_requests(self.kernel, actor, query)

    def status(self, request: Request) -> RequestStatus:
        """The request's derived status (``Kernel.status``)."""
        return self.kernel.status(request)

    def timeline(self, actor: str, request_id: str) -> builtins.list[Event]:
        """:func:`timeline`."""
        return timeline(self.kernel, actor, request_id)
