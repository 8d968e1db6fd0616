"""The tamper-evident history: each event carries the digest of the event before it.

A store sets :attr:`Event.prev_digest` when it appends (:func:`link`), in the same atomic step
that numbers the event, so the stream of a request is a hash chain. Editing, deleting or
inserting an event anywhere breaks the chain at that point, which :func:`verify` reports
(``tfpilot audit verify REQ``), and the audit export carries the chain head (the digest of the
last event) so an exported record can be compared with the store later.

The digest of an event is the sha256 of its canonical JSON (keys sorted, no spaces), computed
from the stored form, so any store that keeps events as JSON reproduces it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfpilot_core.models import Event


def event_digest(event: Event) -> str:
    """The sha256 of ``event``'s canonical JSON."""
    data = json.loads(event.model_dump_json())
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def link(event: Event, previous: Event | None) -> Event:
    """``event`` chained to ``previous`` (the request's last stored event, or ``None``)."""
    return event.model_copy(
        update={"prev_digest": event_digest(previous) if previous is not None else None}
    )


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify` found: ``ok``, the head, and the first break if any."""

    ok: bool
    events: int
    head: str | None
    #: The seq of the first event whose link does not match (or that is missing).
    broken_at: int | None = None
    reason: str | None = None
    #: Events stored before chaining existed (no ``prev_digest``) at the start of the stream.
    unchained: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``tfpilot audit verify --json``)."""
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "broken_at": self.broken_at,
            "reason": self.reason,
            "unchained": self.unchained,
        }


def verify(events: Sequence[Event]) -> ChainReport:
    """Check the chain of one request's events (in ``seq`` order); the first break wins."""
    previous: Event | None = None
    unchained = 0
    chained = False
    for position, event in enumerate(events, start=1):
        if event.seq != position:
            return ChainReport(
                False,
                len(events),
                None,
                broken_at=position,
                reason=f"event {position} is missing (found seq {event.seq} in its place)",
            )
        if event.prev_digest is None and not chained and position > 1:
            # Events written before this release carry no links: accepted only as a prefix.
            unchained += 1
            previous = event
            continue
        if position == 1:
            if event.prev_digest is not None:
                return ChainReport(
                    False, len(events), None, broken_at=1, reason="the first event links back"
                )
            if len(events) > 1 and events[1].prev_digest is None:
                unchained += 1
            previous = event
            continue
        chained = True
        assert previous is not None
        expected = event_digest(previous)
        if event.prev_digest != expected:
            return ChainReport(
                False,
                len(events),
                None,
                broken_at=position,
                reason=(
                    f"event {position} does not follow event {position - 1}: "
                    "it or an earlier event was changed"
                ),
            )
        previous = event
    head = event_digest(previous) if previous is not None else None
    return ChainReport(True, len(events), head, unchained=unchained)
