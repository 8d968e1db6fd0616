"""The Platform calls the web app makes, in one place, each with the acting user.

Reads go through the core's actor-aware reads (``platform.read``, ``platform.list``,
``platform.timeline``, ``platform.audit`` taking the actor first) where the installed core has
them; with an older core the same decision is asked of ``platform.access`` (the one access
decision), never decided here. Responses are built from ``platform.view(request)`` (sensitive
inputs masked); where the core has no ``view`` yet, the same masking is applied with
:func:`tfpilot_core.masking.mask_keys` on the module's sensitive inputs.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import ForbiddenError, NotFoundError
from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.models import Event, Request, RequestPage, RequestQuery
    from tfpilot_core.platform import Platform


def _takes_actor(method: Any) -> bool:
    function = getattr(method, "__func__", None)
    if function is None:  # not a bound method: asked afresh
        return _first_is_actor(method)
    # A bound method (the Platform's): asked on every read, so answered once per function
    # (inspecting a signature cost about a tenth of an API read's server time).
    return _method_takes_actor(function)


@functools.lru_cache(maxsize=256)
def _method_takes_actor(function: Any) -> bool:
    return _first_is_actor(function, skip_self=True)


def _first_is_actor(function: Any, *, skip_self: bool = False) -> bool:
    try:
        params = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return False
    if skip_self:
        params = params[1:]
    return bool(params) and params[0] == "actor"


def may(platform: Platform, actor: str | None, action: Action, request: Request) -> bool:
    """Whether ``actor`` may take ``action`` on ``request`` (the core's decision)."""
    if actor is None:
        return False
    access = getattr(platform, "access", None)
    if access is not None:
        return bool(access.may(actor, action, request))
    from tfpilot_core.rbac import authorize

    try:
        authorize(
            action,
            actor=actor,
            role=platform.role_of(actor),
            environment=platform.environment(request.placement.environment),
            author=request.created_by,
        )
    except ForbiddenError:
        return False
    return True


def read(platform: Platform, actor: str, request_id: str) -> Request:
    """The request, if ``actor`` may read it (403 otherwise, 404 if it does not exist)."""
    reader = getattr(platform, "read", None)
    if reader is not None and _takes_actor(reader):
        return reader(actor, request_id)  # type: ignore[no-any-return]
    request = platform.get(request_id)
    access = getattr(platform, "access", None)
    if access is not None:
        access.check(actor, Action.READ, request)
    return request


def list_requests(platform: Platform, actor: str, query: RequestQuery) -> RequestPage:
    """A page of the requests ``actor`` may read."""
    if _takes_actor(platform.list):
        return platform.list(actor, query)
    page = platform.list(query)
    access = getattr(platform, "access", None)
    if access is not None:
        page = page.model_copy(update={"items": access.readable(actor, page.items)})
    return page


def timeline(platform: Platform, actor: str, request_id: str) -> list[Event]:
    """The request's events, oldest first, if ``actor`` may read it."""
    if _takes_actor(platform.timeline):
        return platform.timeline(actor, request_id)
    read(platform, actor, request_id)
    return platform.timeline(request_id)


def audit(platform: Platform, actor: str, request_id: str) -> dict[str, Any]:
    """The request's change decision record, if ``actor`` may read it."""
    if _takes_actor(platform.audit):
        return platform.audit(actor, request_id)
    read(platform, actor, request_id)
    return platform.audit(request_id)


def view(platform: Platform, request: Request) -> dict[str, Any]:
    """The masked public JSON form of ``request`` (sensitive inputs never leave as values)."""
    viewer = getattr(platform, "view", None)
    if viewer is not None:
        data = dict(viewer(request))
        if "status" in data:
            return data
    else:
        from tfpilot_core.masking import mask_keys

        data = request.model_dump(mode="json")
        try:
            sensitive = platform.catalog.get(request.placement.module).sensitive_inputs
        except NotFoundError:
            # The module left the catalog: nothing says which inputs are safe to show.
            sensitive = list(request.inputs)
        data["inputs"] = mask_keys(request.inputs, sensitive)
    data["status"] = platform.status(request).value
    return data


def current_plan_digest(request: Request) -> str | None:
    """The digest of the current revision's successful plan (what an approval binds to)."""
    from tfpilot_core.lifecycle import current_plan

    plan = current_plan(request)
    return plan.plan_digest if plan is not None else None


class ViewCache:
    """Encoded views by (request id, version): a listing re-encodes only what changed.

    ``version`` is the store's compare-and-swap token, bumped by every write, so a cached view
    is exactly what ``platform.view`` returns for that version. The one part that also depends
    on the clock is ``status`` while a run is unfinished (it turns ``failed`` when the run goes
    stale): for such requests the status is derived afresh on every call.
    """

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._views: dict[tuple[str, int], tuple[bytes, bool]] = {}

    def encoded(self, platform: Platform, request: Request) -> bytes:
        """The view of ``request`` as JSON bytes, with the status of now."""
        from pydantic_core import to_json

        from tfpilot_core.lifecycle import is_active

        key = (request.id, request.version)
        found = self._views.get(key)
        if found is None:
            data = view(platform, request)
            status = data.pop("status", None)
            running = any(is_active(a) for runs in request.runs.values() for a in runs)
            # Kept without its closing brace when the status must be derived on each call.
            encoded = to_json(data)[:-1]
            if not running:
                encoded += b',"status":' + to_json(status) + b"}"
            if len(self._views) >= self.size:
                self._views.clear()  # simple and bounded; a listing refills what it needs
            found = self._views[key] = (encoded, running)
        encoded, running = found
        if not running:
            return encoded
        return encoded + b',"status":' + to_json(platform.status(request).value) + b"}"
