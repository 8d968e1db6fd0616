"""The durable outbox: every routed notification is recorded in the store, then sent.

``Platform._emit`` stores an event and calls :meth:`Notifications.record`, which routes it and
writes one outbox record per delivery (namespace ``outbox``, key = the delivery id, created
only once: routing the same event twice records nothing new). Nothing is sent while a request
lock is held: records made under a lock wait for :meth:`release` (called by ``_unlock``), the
others are sent at once, in background threads, for at most ``[notifications] budget_seconds``
in all; what is not finished by then stays in the outbox for ``tfpilot notify deliver``.

A delivery is claimed (state ``sending``, attempts + 1, a lease) with a compare-and-swap before
it is sent and marked ``delivered`` right after, so two senders never send one delivery at the
same time, and a sender that dies mid-send leaves a lease that expires: the delivery is then
sent again (at least once; Slack and SMTP do not de-duplicate, a channel that does can use the
delivery id). Failures are retried with exponential backoff and jitter; after
``max_attempts``, or when the channel refuses for good
(:class:`~tfpilot_core.notifications.errors.DeliveryRejected`), the delivery is dead-lettered.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import tfpilot_core.notifications.preferences as prefs_module
from tfpilot_core.errors import ConflictError, ForbiddenError, NotFoundError
from tfpilot_core.interfaces import Delivery
from tfpilot_core.log import get_logger
from tfpilot_core.masking import MASK, mask_keys, scrub_text, sensitive_strings
from tfpilot_core.models import Event, Request, Role, RunKind
from tfpilot_core.notifications import outbox
from tfpilot_core.notifications.errors import DeliveryDeferred, DeliveryRejected
from tfpilot_core.notifications.preferences import Preferences
from tfpilot_core.notifications.routing import Route, route
from tfpilot_core.notifications.runbooks import fill, runbook_url
from tfpilot_core.notifications.settings import RUNBOOK_KINDS

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Delivery, Store
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import Record
    from tfpilot_core.notifications.settings import NotificationSettings

log = get_logger("tfpilot.notifications")

NAMESPACE = "outbox"
DIGESTS = "notify_digest"

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
DEAD = "dead"
#: Waiting for the user's daily drift digest.
HELD = "held"
#: Sent as part of a digest.
DIGESTED = "digested"
STATES = (PENDING, SENDING, DELIVERED, DEAD, HELD, DIGESTED)


def delivery_id(request_id: str, seq: int, channel: str, recipient: str) -> str:
    """The idempotency key of one event to one address on one channel."""
    digest = hashlib.sha256(f"{request_id}\0{seq}\0{channel}\0{recipient}".encode()).hexdigest()
    return f"dlv_{digest[:32]}"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _scrub(value: Any, secrets: list[str]) -> Any:

    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


class Notifications:
    """Routing, the outbox, preferences and digests of one :class:`Platform`."""

    def __init__(
        self, platform: SupportsKernel, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.kernel = platform.kernel
        # The platform's clock, read at each call (tests move it), unless one is given.
        self._clock: Callable[[], datetime] = clock or (lambda: platform.kernel.now())
        self._local = threading.local()
        self._workers: dict[str, threading.Thread] = {}
        self._workers_lock = threading.Lock()

    @property
    def settings(self) -> NotificationSettings:
        """The ``[notifications]`` settings."""
        return self.kernel.config.notifications

    @property
    def _store(self) -> Store:
        return self.kernel.store

    def _notifiers(self) -> list[tuple[str, Any]]:
        return self.kernel.host.notifiers()

    # -- recording ---------------------------------------------------------------------------

    def _pending(self) -> list[Record]:
        # The records this thread made and has not sent yet (kept, not re-read, before sending).
        found: list[Record] | None = getattr(self._local, "pending", None)
        if found is None:
            found = self._local.pending = []
        return found

    def hold(self) -> None:
        """A request lock was taken in this thread: deliveries wait until :meth:`release`."""
        self._local.depth = getattr(self._local, "depth", 0) + 1

    def release(self) -> None:
        """The lock was released: send what waited (within the budget)."""
        self._local.depth = max(0, getattr(self._local, "depth", 0) - 1)
        if self._local.depth == 0:
            self.flush()

    def record(self, event: Event, request: Request) -> list[str]:
        """Route a stored event and record its deliveries; sends at once unless a lock is held.

        Isolated: a failure here is logged and never fails the action (the event is stored).
        """
        if not self.settings.enabled:
            return []
        try:
            records = self._record(event, request)
        except Exception as exc:  # never breaks the lifecycle; the event itself is stored
            log.warning("notification_routing_failed", error=f"{type(exc).__name__}: {exc}")
            return []
        self._pending().extend(r for r in records if r.value["state"] == PENDING)
        if getattr(self._local, "depth", 0) == 0:
            self.flush()
        return [r.key for r in records]

    def _record(self, event: Event, request: Request) -> list[Record]:
        notifiers = self._notifiers()
        if not notifiers:
            return []
        now = self._clock()
        routes = route(
            event,
            request,
            config=self.kernel.config,
            access=self.kernel.access,
            notifiers=notifiers,
            preferences=self.preferences,
            now=now,
        )
        created = [self._create(event, request, r, now) for r in routes]
        return [c for c in created if c is not None]

    def _links(self, request: Request, user: str | None) -> dict[str, str]:
        links = {
            name: fill(template, request, user=user or "")
            for name, template in self.settings.links.items()
        }
        for kind in ("apply", "plan", "destroy", "drift"):
            attempt = request.latest(RunKind(kind))
            if attempt is not None and attempt.url and "run" not in links:
                links["run"] = attempt.url
        if user is not None and self.settings.unsubscribe_url:
            links["unsubscribe"] = fill(self.settings.unsubscribe_url, request, user=user)
        return links

    def _create(self, event: Event, request: Request, r: Route, now: datetime) -> Record | None:
        key = delivery_id(request.id, event.seq, r.channel, r.recipient)
        kind = event.type if event.type in RUNBOOK_KINDS else None
        value = {
            "id": key,
            "state": HELD if r.digest else PENDING,
            "channel": r.channel,
            "recipient": r.recipient,
            "recipient_user": r.user,
            "request_id": request.id,
            "event": event.model_dump(mode="json"),
            "runbook_url": runbook_url(self.kernel.config, kind, request) if kind else None,
            "links": self._links(request, r.user),
            "attempts": 0,
            "created_at": _iso(now),
            "next_at": _iso(r.not_before or now),
            "last_error": None,
        }
        outbox.will_be_due(self._store, NAMESPACE, key, value)
        try:
            return self._store.put_record(NAMESPACE, key, value, expected_version=None)
        except ConflictError:
            return None  # already recorded (the same event routed twice)

    # -- sending -----------------------------------------------------------------------------

    def flush(self, budget: float | None = None) -> None:
        """Send what this thread recorded, for at most ``budget`` seconds in all.

        One background thread per channel, so a hanging channel delays neither the others nor
        the caller beyond the budget; a channel whose previous thread is still busy is skipped
        (its deliveries wait for ``tfpilot notify deliver``).
        """
        pending = self._pending()
        if not pending:
            return
        records = list(pending)
        pending.clear()
        budget = self.settings.budget_seconds if budget is None else budget
        if budget <= 0:
            return
        by_channel: dict[str, list[Record]] = {}
        for record in records:
            by_channel.setdefault(str(record.value["channel"]), []).append(record)
        started = []
        deadline = time.monotonic() + budget
        with self._workers_lock:
            for channel, batch in by_channel.items():
                busy = self._workers.get(channel)
                if busy is not None and busy.is_alive():
                    log.info("notification_channel_busy", channel=channel, waiting=len(batch))
                    continue
                context = contextvars.copy_context()
                worker = threading.Thread(
                    target=context.run,
                    args=(self._send_batch, batch),
                    name=f"tfpilot-notify-{channel}",
                    daemon=True,  # a CLI exiting does not wait; the lease makes it retried
                )
                self._workers[channel] = worker
                worker.start()
                started.append(worker)
        for worker in started:
            worker.join(max(0.0, deadline - time.monotonic()))

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for background sends to finish (tests, and a server shutting down)."""
        deadline = time.monotonic() + timeout
        for worker in list(self._workers.values()):
            worker.join(max(0.0, deadline - time.monotonic()))

    def _send_batch(self, batch: list[Record]) -> None:
        notifiers = dict(self._notifiers())
        for record in batch:
            try:
                self._attempt(record, notifiers)
            except Exception as exc:  # a bug or a store failure: the record stays for a retry
                log.warning("notification_send_failed", error=f"{type(exc).__name__}: {exc}")

    def deliver_due(self, *, limit: int | None = None) -> dict[str, int]:
        """Send every due delivery (``tfpilot notify deliver``); counts by outcome."""
        now = self._clock()
        notifiers = dict(self._notifiers())
        counts = {"delivered": 0, "failed": 0, "dead": 0, "skipped": 0}
        # Only the due ones, from the due index where the store keeps one (outbox.py).
        for record in outbox.due_records(self._store, NAMESPACE, now):
            if limit is not None and sum(counts.values()) - counts["skipped"] >= limit:
                break
            if not self._due(record.value, now):
                continue
            counts[self._attempt(record, notifiers)] += 1
        return counts

    def _due(self, value: Mapping[str, Any], now: datetime) -> bool:
        state = value.get("state")
        if state == PENDING:
            next_at = _at(value.get("next_at"))
            return next_at is None or next_at <= now
        if state == SENDING:
            lease = _at(value.get("lease_until"))
            return lease is None or lease <= now
        return False

    def _attempt(self, record: Record, notifiers: Mapping[str, Any]) -> str:
        now = self._clock()
        value = dict(record.value)
        if not self._due(value, now):
            return "skipped"
        attempts = int(value.get("attempts", 0))
        claimed_value = {
            **value,
            "state": SENDING,
            "attempts": attempts + 1,
            "lease_until": _iso(now + timedelta(seconds=self.settings.lease_seconds)),
        }
        outbox.will_be_due(self._store, NAMESPACE, record.key, claimed_value)
        try:
            claimed = self._store.put_record(
                NAMESPACE, record.key, claimed_value, expected_version=record.version
            )
        except (ConflictError, NotFoundError):
            return "skipped"  # someone else claimed it first
        outbox.moved(self._store, NAMESPACE, record.key, value, claimed_value)
        channel = str(value["channel"])
        delivery: Delivery | None = None
        try:
            notifier = notifiers.get(channel)
            if notifier is None:
                raise LookupError(f"notifier {channel!r} is not installed or not configured")
            delivery = self.delivery(claimed_value, attempt=attempts)
            self.kernel.host.send(channel, notifier, delivery)
        except DeliveryRejected as exc:
            return self._finish(claimed, DEAD, error=str(exc), delivery=delivery)
        except DeliveryDeferred as exc:
            return self._finish(
                claimed, PENDING, error=str(exc), delay=exc.retry_after, delivery=delivery
            )
        except Exception as exc:
            return self._finish(
                claimed, PENDING, error=f"{type(exc).__name__}: {exc}", delivery=delivery
            )
        return self._finish(claimed, DELIVERED, delivery=delivery)

    def _backoff(self, attempts: int) -> float:
        base = min(
            self.settings.backoff_max_seconds,
            self.settings.backoff_seconds * float(2 ** max(0, attempts - 1)),
        )
        # "Equal jitter": at least half the step, so retries neither bunch up nor come too soon.
        return base / 2 + random.uniform(0, base / 2)

    def _finish(
        self,
        claimed: Record,
        state: str,
        *,
        error: str | None = None,
        delay: float | None = None,
        delivery: Delivery | None = None,
    ) -> str:
        now = self._clock()
        value = dict(claimed.value)
        attempts = int(value["attempts"])
        if state == PENDING and attempts >= self.settings.max_attempts:
            state = DEAD
        value["state"] = state
        value.pop("lease_until", None)
        value["updated_at"] = _iso(now)
        expires = None
        if error is not None:
            value["last_error"] = error[:1000]
        if state == PENDING:
            wait = delay if delay is not None else self._backoff(attempts)
            value["next_at"] = _iso(now + timedelta(seconds=wait))
        if state in (DELIVERED, DEAD):
            expires = now + timedelta(days=self.settings.keep_days)
            value["done_at"] = _iso(now)
        if state == DEAD:
            value["runbook_url"] = value.get("runbook_url") or runbook_url(
                self.kernel.config,
                "notification_dead_lettered",
                delivery.request if delivery else None,
            )
        outbox.will_be_due(self._store, NAMESPACE, claimed.key, value)
        try:
            self._store.put_record(
                NAMESPACE,
                claimed.key,
                value,
                expected_version=claimed.version,
                expires_at=expires,
            )
        except (ConflictError, NotFoundError):
            # The lease ran out and another sender took over: its outcome wins.
            log.warning("notification_lease_lost", delivery=claimed.key)
        else:
            outbox.moved(self._store, NAMESPACE, claimed.key, claimed.value, value)
        self._timeline(value, state, error)
        outcome = {DELIVERED: "delivered", DEAD: "dead"}.get(state, "failed")
        log.info("notification", delivery=claimed.key, channel=value["channel"], outcome=outcome)
        return outcome

    def _timeline(self, value: Mapping[str, Any], state: str, error: str | None) -> None:
        event = value.get("event") or {}
        if event.get("type") == "drift_digest":
            return
        types = {DELIVERED: "notification_sent", DEAD: "notification_dead_lettered"}
        data: dict[str, Any] = {
            "notifier": value["channel"],
            "for": event.get("type"),
            "for_seq": event.get("seq"),
            "delivery": value["id"],
            # Users by name, channels by address: never a person's email in the timeline.
            "to": value.get("recipient_user") or value.get("recipient") or None,
            "attempt": value.get("attempts"),
        }
        if error is not None:
            data["error"] = error[:500]
        if state == DEAD and value.get("runbook_url"):
            data["runbook_url"] = value["runbook_url"]
        try:
            self.kernel.append(
                Event(
                    request_id=str(value["request_id"]),
                    type=types.get(state, "notification_failed"),
                    at=self._clock(),
                    revision=int(event.get("revision", 1)),
                    actor="system",
                    correlation_id=event.get("correlation_id"),
                    data=data,
                )
            )
        except Exception as exc:
            log.warning("notification_event_failed", error=f"{type(exc).__name__}: {exc}")

    def delivery(self, value: Mapping[str, Any], *, attempt: int = 0) -> Delivery:
        """The :class:`Delivery` of an outbox record: the request re-read, sensitive values out."""

        request = self._store.get_request(str(value["request_id"]))
        masked, secrets = self._masked(request)
        event = Event.model_validate(_scrub(value["event"], secrets))
        return Delivery(
            id=str(value["id"]),
            event=event,
            request=masked,
            channel=str(value["channel"]),
            recipient=str(value["recipient"]),
            recipient_user=value.get("recipient_user"),
            runbook_url=value.get("runbook_url"),
            links=dict(value.get("links") or {}),
            attempt=attempt,
        )

    def _masked(self, request: Request) -> tuple[Request, list[str]]:
        """``request`` with sensitive inputs masked (all inputs if the module is unknown)."""

        try:
            sensitive = list(self.kernel.catalog.get(request.placement.module).sensitive_inputs)
        except Exception:  # the module left the catalog: hide every input rather than guess
            sensitive = list(request.inputs)
        secrets: list[str] = []
        for name in sensitive:
            secrets += sensitive_strings(request.inputs.get(name), True)
        data = _scrub(request.model_dump(mode="json"), secrets)
        data["inputs"] = mask_keys(data["inputs"], sensitive)
        masked = Request.model_validate(data)
        assert all(masked.inputs.get(n) in (MASK, None) for n in sensitive)
        return masked, secrets

    # -- listing and retry -------------------------------------------------------------------

    def list(self, *, states: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Outbox records (optionally of some states), oldest first.

        Pending, sending, held and dead records are read from the outbox's indexes where the
        store keeps them (:func:`outbox.records_in`): the cost of ``notify list --pending`` is
        what it shows, not the outbox (delivered records stay for ``keep_days``).
        """
        wanted = set(states) if states is not None else None
        indexed = None
        if wanted is not None:
            indexed = outbox.records_in(self._store, NAMESPACE, wanted, self._clock())
        records = self._store.list_records(NAMESPACE) if indexed is None else indexed
        found = [dict(r.value) for r in records if wanted is None or r.value.get("state") in wanted]
        return sorted(found, key=lambda v: (str(v.get("created_at")), str(v.get("id"))))

    def get(self, key: str) -> Record:
        """The outbox record ``key``; :class:`NotFoundError` if there is none."""
        record = self._store.get_record(NAMESPACE, key)
        if record is None:
            raise NotFoundError(f"no delivery {key!r} in the outbox (see tfpilot notify list)")
        return record

    def retry(self, key: str) -> str:
        """Make a failed or dead delivery due now and try it once; returns the outcome."""
        record = self.get(key)
        value = dict(record.value)
        if value.get("state") in (DELIVERED, DIGESTED, HELD):
            raise ConflictError(f"delivery {key} is {value.get('state')}: nothing to retry")
        if value.get("state") == DEAD:
            value["attempts"] = 0
        value.update(state=PENDING, next_at=_iso(self._clock()))
        value.pop("lease_until", None)
        outbox.will_be_due(self._store, NAMESPACE, key, value)
        previous = record.value
        record = self._store.put_record(
            NAMESPACE, key, value, expected_version=record.version, expires_at=None
        )
        outbox.moved(self._store, NAMESPACE, key, previous, value)
        return self._attempt(record, dict(self._notifiers()))

    # -- preferences ---------------------------------------------------------------------------

    def preferences(self, user: str) -> Preferences:
        """``user``'s stored preferences, or the defaults."""
        record = self._store.get_record(prefs_module.NAMESPACE, user)
        if record is None:
            return Preferences()
        try:
            return prefs_module.parse(record.value)
        except Exception:  # a document a newer release wrote: defaults rather than silence
            log.warning("notification_preferences_unreadable", user=user)
            return Preferences()

    def set_preferences(self, actor: str, user: str, prefs: Preferences) -> Preferences:
        """Store ``user``'s preferences: users set their own, admins anyone's."""
        if actor != user and self.kernel.config.role_of(actor) is not Role.ADMIN:
            raise ForbiddenError(
                f"{actor} may not change the notification preferences of {user}: "
                "users set their own, admins anyone's"
            )
        current = self._store.get_record(prefs_module.NAMESPACE, user)
        self._store.put_record(
            prefs_module.NAMESPACE,
            user,
            prefs.model_dump(mode="json"),
            expected_version=current.version if current else None,
        )
        return prefs

    # -- digests -------------------------------------------------------------------------------

    def send_digests(self, *, force: bool = False) -> dict[str, int]:
        """Send each user's due drift digest: one message per user and channel, once a day.

        A digest is due once the day's ``digest_hour`` (UTC) has passed and none was sent since;
        ``force`` sends what is held now.
        """
        now = self._clock()
        held: dict[tuple[str, str, str], list[Record]] = {}
        # The held deliveries only, from their index where the store keeps one.
        waiting = outbox.records_in(self._store, NAMESPACE, [HELD], now)
        for record in self._store.list_records(NAMESPACE) if waiting is None else waiting:
            if record.value.get("state") == HELD:
                v = record.value
                group = (str(v.get("recipient_user")), str(v["channel"]), str(v["recipient"]))
                held.setdefault(group, []).append(record)
        cutoff = now.replace(hour=self.settings.digest_hour, minute=0, second=0, microsecond=0)
        if cutoff > now:
            cutoff -= timedelta(days=1)
        counts = {"digests": 0, "items": 0, "delivered": 0, "failed": 0, "dead": 0, "skipped": 0}
        notifiers = dict(self._notifiers())
        for (user, channel, recipient), records in sorted(held.items()):
            marker_key = f"{user}:{channel}"
            marker = self._store.get_record(DIGESTS, marker_key)
            last = _at(marker.value.get("at")) if marker else None
            if not force and last is not None and last >= cutoff:
                continue
            items = [
                {
                    "request": r.value["request_id"],
                    "module": r.value["event"].get("data", {}).get("module"),
                    "environment": None,
                    "addresses": r.value["event"].get("data", {}).get("addresses", []),
                    "at": r.value["event"].get("at"),
                    "delivery": r.key,
                }
                for r in records
            ]
            for item in items:
                try:
                    req = self._store.get_request(str(item["request"]))
                    item["module"] = req.placement.module
                    item["environment"] = req.placement.environment
                except NotFoundError:
                    pass
            first = records[0].value
            day = now.date().isoformat()
            key = (
                "dlv_digest_"
                + hashlib.sha256(f"{user}\0{channel}\0{day}".encode()).hexdigest()[:24]
            )
            event = Event(
                request_id=str(first["request_id"]),
                type="drift_digest",
                at=now,
                actor="system",
                data={"items": items, "user": user},
            )
            value = {
                "id": key,
                "state": PENDING,
                "channel": channel,
                "recipient": recipient,
                "recipient_user": user,
                "request_id": first["request_id"],
                "event": event.model_dump(mode="json"),
                "runbook_url": None,
                "links": {},
                "attempts": 0,
                "created_at": _iso(now),
                "next_at": _iso(now),
                "last_error": None,
            }
            outbox.will_be_due(self._store, NAMESPACE, key, value)
            try:
                digest = self._store.put_record(NAMESPACE, key, value, expected_version=None)
            except ConflictError:
                digest = self.get(key)
            for record in records:
                digested = {**record.value, "state": DIGESTED, "digest": key}
                with contextlib.suppress(ConflictError):
                    self._store.put_record(
                        NAMESPACE,
                        record.key,
                        digested,
                        expected_version=record.version,
                        expires_at=now + timedelta(days=self.settings.keep_days),
                    )
                    outbox.moved(self._store, NAMESPACE, record.key, record.value, digested)
            self._store.put_record(
                DIGESTS,
                marker_key,
                {"at": _iso(now), "digest": key},
                expected_version=marker.version if marker else None,
            )
            counts["digests"] += 1
            counts["items"] += len(records)
            counts[self._attempt(digest, notifiers)] += 1
        return counts
