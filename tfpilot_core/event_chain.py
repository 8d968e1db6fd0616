"""The tamper-evident history: each event carries the digest of the event before it.

A store sets :attr:`Event.prev_digest` when it appends (:func:`link`), in the same atomic step
that numbers the event, so the stream of a request is a hash chain. Editing, deleting or
inserting an event anywhere breaks the chain at that point, which :func:`verify` reports
(``tfpilot audit verify REQ``), and the audit export carries the chain head (the digest of the
last event) so an exported record can be compared with the store later.

The digest of an event is the sha256 of its canonical JSON (keys sorted, no spaces), computed
from the stored form, so any store that keeps events as JSON reproduces it.

A chain alone cannot tell a cut or forged *end*: delete the last event, rewrite it, clear every
link, or append a well-linked forged event, and what is left is still a chain. So its head is
also anchored outside the stream: :class:`~tfpilot_core.models.ChainAnchor` (event count and
head digest) on the request document, written with the request's compare-and-swap each time an
event is appended (:func:`next_anchor`, a pure function of the old anchor and the appended
event), carried in the audit export, and signed when a chain key is configured (the event store
alone, or the request document alone, can then not be made to agree with a forged end).
:func:`verify` checks the stream against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfpilot_core.models import ChainAnchor

if TYPE_CHECKING:
    from tfpilot_core.models import ChainAnchor, Event

#: The prefix of an anchor's signature (the algorithm, so that it can change later).
SIGNATURE_SCHEME = "hmac-sha256"


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
    #: Whether the stream was checked against an anchor (its end then cannot be cut or forged).
    anchored: bool = False
    #: Whether that anchor's signature was checked with the configured key.
    signed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``tfpilot audit verify --json``)."""
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "broken_at": self.broken_at,
            "reason": self.reason,
            "unchained": self.unchained,
            "anchored": self.anchored,
            "signed": self.signed,
        }


def verify(
    events: Sequence[Event],
    anchor: ChainAnchor | None = None,
    *,
    key: bytes | None = None,
) -> ChainReport:
    """Check the chain of one request's events (in ``seq`` order); the first break wins.

    With the request's ``anchor``, the end of the stream must be the anchored one: as many
    events, the last one with the anchored digest. With a ``key``, the anchor must also carry
    its signature (an unsigned or wrongly signed anchor is a break).
    """
    report = _verify_links(events)
    if anchor is None or not report.ok:
        return report
    count = len(events)
    problem: tuple[int, str] | None = None
    if key is not None and not hmac.compare_digest(
        anchor.signature or "",
        anchor_signature(key, events[0].request_id if events else "", anchor),
    ):
        problem = (
            min(anchor.events, count) or 1,
            "the chain anchor's signature does not match (forged or unsigned anchor)",
        )
    elif anchor.events > count:
        problem = (
            count + 1,
            f"the anchor counts {anchor.events} events but {count} are stored: "
            f"events {count + 1}..{anchor.events} were removed",
        )
    elif anchor.events < count:
        problem = (
            anchor.events + 1,
            f"{count - anchor.events} event(s) after the anchored head were appended without "
            "the anchor (forged, or written past the request's compare-and-swap)",
        )
    elif report.head != anchor.head:
        problem = (
            count,
            "the last event does not match the anchored head: the end of the history was "
            "rewritten (or its links cleared)",
        )
    if problem is not None:
        return ChainReport(
            False, count, None, broken_at=problem[0], reason=problem[1], anchored=True
        )
    return ChainReport(
        True, count, report.head, unchained=report.unchained, anchored=True, signed=key is not None
    )


def anchor_signature(key: bytes, request_id: str, anchor: ChainAnchor) -> str:
    """The signature of ``anchor`` of request ``request_id`` with ``key`` (count and head)."""
    message = f"{request_id}\n{anchor.events}\n{anchor.head}".encode()
    return f"{SIGNATURE_SCHEME}:{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def next_anchor(
    anchor: ChainAnchor | None, appended: Event, *, key: bytes | None = None
) -> ChainAnchor:
    """The anchor after ``appended`` (as the store returned it: numbered and linked).

    Pure: the caller writes the result on the request with its compare-and-swap, in the step
    that appends the event. Raises :class:`ValueError` when ``appended`` does not follow the
    anchored head (another writer appended in between: re-read and retry), so that an anchor is
    never moved past events it has not seen.
    """

    expected_seq = (anchor.events if anchor is not None else 0) + 1
    if appended.seq != expected_seq:
        raise ValueError(
            f"event {appended.seq} does not follow the anchored head (expected {expected_seq})"
        )
    if anchor is not None and appended.prev_digest != anchor.head:
        raise ValueError(f"event {appended.seq} does not link to the anchored head")
    new = ChainAnchor(events=appended.seq, head=event_digest(appended))
    if key is not None:
        new.signature = anchor_signature(key, appended.request_id, new)
    return new


def anchor_of(events: Sequence[Event], *, key: bytes | None = None) -> ChainAnchor | None:
    """The anchor of a whole stream (to anchor a request whose events predate anchors).

    Only for a stream that :func:`verify` accepts: it trusts what it is given.
    """

    if not events:
        return None
    anchor = ChainAnchor(events=len(events), head=event_digest(events[-1]))
    if key is not None:
        anchor.signature = anchor_signature(key, events[-1].request_id, anchor)
    return anchor


def _verify_links(events: Sequence[Event]) -> ChainReport:
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
