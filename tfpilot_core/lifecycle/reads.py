"""Authorized reads: a request, its public view, lists, its timeline, audit record and chain."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from tfpilot_core.audit import audit_record
from tfpilot_core.errors import TfpilotError
from tfpilot_core.event_chain import ChainReport, verify
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.masking import mask_keys
from tfpilot_core.models import Event, Request, RequestPage, RequestQuery
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
