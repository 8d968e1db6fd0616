"""Who hears about an event: the author and revision authors, approvers, configured channels.

Every person is checked with the one access decision (``platform.access``): nobody is told about
a request they may not read. Each person's preferences decide which channels, events and
environments, and whether a message waits (quiet hours) or joins the daily drift digest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.access import Access
    from tfpilot_core.config import Config
    from tfpilot_core.models import Event, Request
    from tfpilot_core.notifications.preferences import Preferences


@dataclass(frozen=True)
class Route:
    """One delivery to make: a channel, an address, maybe a user, and when."""

    channel: str
    recipient: str
    user: str | None = None
    #: Not before this time (the end of the user's quiet hours).
    not_before: datetime | None = None
    #: Joins the user's daily drift digest instead of going now.
    digest: bool = False


def is_channel(notifier: Any) -> bool:
    """Whether ``notifier`` takes deliveries (``deliver``) rather than only events (``notify``)."""
    return callable(getattr(notifier, "deliver", None))


def people(event: Event, request: Request, access: Access) -> list[str]:
    """The users an event is about, in order: author, revision authors, then approvers."""
    found = [request.created_by]
    found += [r.actor for r in getattr(request, "revision_authors", [])]
    if event.type == "approval_required":
        found += access.approvers_for(request)
    return list(dict.fromkeys(u for u in found if u and u != "system"))


def route(
    event: Event,
    request: Request,
    *,
    config: Config,
    access: Access,
    notifiers: Sequence[tuple[str, Any]],
    preferences: Callable[[str], Preferences],
    now: datetime,
) -> list[Route]:
    """Every delivery ``event`` calls for (deduplicated by channel and address)."""
    settings = config.notifications
    routes: list[Route] = []
    if event.type.startswith("notification_"):
        return routes
    # The older notifiers (``notify`` only) keep getting every event, as they always did.
    routes += [Route(name, "") for name, n in notifiers if not is_channel(n)]
    if event.type not in settings.events:
        return routes
    channels = [(name, n) for name, n in notifiers if is_channel(n)]
    if not channels:
        return routes
    environment = request.placement.environment
    seen: set[tuple[str, str]] = set()
    for user in people(event, request, access):
        if not access.may(user, Action.READ, request):
            continue
        prefs = preferences(user)
        if not prefs.wants(event.type, environment):
            continue
        configured = config.users.get(user)
        hold = prefs.quiet_hours.release_at(now) if prefs.quiet_hours else None
        for name, notifier in channels:
            field = getattr(notifier, "user_address", None)
            default = getattr(configured, field, None) if configured and field else None
            address = prefs.address(name, default if isinstance(default, str) else None)
            if not address or (name, address) in seen:
                continue
            seen.add((name, address))
            digest = prefs.drift_digest and event.type == "drift_detected"
            routes.append(Route(name, address, user, hold, digest))
    names = {name for name, _ in channels}
    for channel in settings.channels:
        if channel.notifier not in names or (channel.notifier, channel.recipient) in seen:
            continue
        if channel.covers(
            environment=environment,
            project=request.placement.project,
            event=event.type,
            default=settings.events,
        ):
            seen.add((channel.notifier, channel.recipient))
            routes.append(Route(channel.notifier, channel.recipient))
    return routes
