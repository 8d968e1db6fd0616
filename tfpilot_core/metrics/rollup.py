"""The metrics rollup: facts folded from the event feed, stored in one keyed record.

Each event becomes zero or more *facts* ``(time, code, dimension, value)``: a run that finished
(with its duration), a lead time, an approval wait, a drift detected or cleared, a policy block
or override of one rule, a cost delta, a failed or dead-lettered notification. A *dimension* is
one (module, environment, project) triple, numbered in the rollup. Facts are kept as columns of
plain lists (compact JSON, parsed at C speed); what is pending (a run started but not finished,
a request not applied yet, an open drift) is kept per run or request until it resolves.

The rollup record (namespace ``metrics``, key ``rollup``) holds the feed cursor: an update reads
only events after it (:mod:`tfpilot_core.metrics.feed`), folds them, and writes the record back
with compare-and-swap, so two processes updating at once never double count (the loser
re-reads and folds again from the winner's cursor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tfpilot_core.errors import AlreadyExistsError, ConflictError
from tfpilot_core.interfaces import Store
from tfpilot_core.metrics.feed import FeedItem, open_feed

NAMESPACE = "metrics"
KEY = "rollup"
#: Bumped when the meaning of stored facts changes: an older rollup is rebuilt from scratch.
ROLLUP_VERSION = 1

#: Fact codes, in the order stored (the code is the index).
CODES: tuple[str, ...] = (
    "plan.succeeded",  # value: duration in seconds (or -1 when the start was not seen)
    "plan.failed",
    "apply.succeeded",
    "apply.failed",
    "destroy.succeeded",
    "destroy.failed",
    "lead_time",  # created -> first successful apply
    "approval_wait",  # approval_required -> approved
    "drift.checked",
    "drift.detected",
    "drift.cleared",  # value: time to remediate (detected -> cleared)
    "policy.block",  # value: index of the rule in `rules`
    "policy.override",
    "cost.delta",  # value: monthly delta (float)
    "cost.unknown",
    "notification.failed",
    "notification.dead_letter",
    "request.created",
    "approved",
)
CODE = {name: i for i, name in enumerate(CODES)}
_RUN_END = {
    f"{kind}_{outcome}": f"{kind}.{outcome}"
    for kind in ("plan", "apply", "destroy")
    for outcome in ("succeeded", "failed")
}


@dataclass
class Rollup:
    """The stored rollup (see the module docstring)."""

    cursor: Any = None
    feed: str = ""
    dims: list[list[str]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    code: list[int] = field(default_factory=list)
    dim: list[int] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    #: run id -> start time (seconds)
    runs: dict[str, int] = field(default_factory=dict)
    #: request id -> created time, until its first successful apply
    created: dict[str, int] = field(default_factory=dict)
    #: request id -> time approval was asked for, until approved
    waiting: dict[str, int] = field(default_factory=dict)
    #: request id -> [detected time, dimension], while drifted
    drifted: dict[str, list[int]] = field(default_factory=dict)
    events: int = 0
    _dim_index: dict[tuple[str, str, str], int] = field(default_factory=dict, repr=False)
    _rule_index: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Rollup:
        """Load a stored rollup (a different version loads as empty: it is rebuilt)."""
        if value.get("version") != ROLLUP_VERSION:
            return cls()
        rollup = cls(**{k: v for k, v in value.items() if k != "version"})
        rollup._dim_index = {(d[0], d[1], d[2]): i for i, d in enumerate(rollup.dims)}
        rollup._rule_index = {r: i for i, r in enumerate(rollup.rules)}
        return rollup

    def to_value(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "version": ROLLUP_VERSION,
            "cursor": self.cursor,
            "feed": self.feed,
            "dims": self.dims,
            "rules": self.rules,
            "ts": self.ts,
            "code": self.code,
            "dim": self.dim,
            "val": self.val,
            "runs": self.runs,
            "created": self.created,
            "waiting": self.waiting,
            "drifted": self.drifted,
            "events": self.events,
        }

    def _dimension(self, item: FeedItem) -> int:
        key = (item.module, item.environment, item.project)
        found = self._dim_index.get(key)
        if found is None:
            found = self._dim_index[key] = len(self.dims)
            self.dims.append(list(key))
        return found

    def _rule(self, rule: str) -> int:
        found = self._rule_index.get(rule)
        if found is None:
            found = self._rule_index[rule] = len(self.rules)
            self.rules.append(rule)
        return found

    def _fact(self, at: int, code: str, dim: int, value: float = 0.0) -> None:
        self.ts.append(at)
        self.code.append(CODE[code])
        self.dim.append(dim)
        self.val.append(value)

    def fold(self, items: Iterable[FeedItem]) -> None:
        """Add the facts of ``items`` (events in feed order)."""
        for item in items:
            self.events += 1
            event = item.event
            kind = event.type
            at = int(event.at.timestamp())
            data = event.data
            rid = event.request_id
            if kind.endswith("_started") and kind[:-8] in ("plan", "apply", "destroy"):
                run = data.get("run")
                if isinstance(run, str):
                    self.runs[run] = at
                continue
            end = _RUN_END.get(kind)
            if end is not None:
                dim = self._dimension(item)
                run = data.get("run")
                start = self.runs.pop(run, None) if isinstance(run, str) else None
                self._fact(at, end, dim, float(at - start) if start is not None else -1.0)
                if kind == "apply_succeeded":
                    created = self.created.pop(rid, None)
                    if created is not None:
                        self._fact(at, "lead_time", dim, float(at - created))
                continue
            if kind == "request_created":
                self.created[rid] = at
                self._fact(at, "request.created", self._dimension(item))
            elif kind == "approval_required":
                self.waiting.setdefault(rid, at)
            elif kind == "approved":
                dim = self._dimension(item)
                self._fact(at, "approved", dim)
                asked = self.waiting.pop(rid, None)
                if asked is not None:
                    self._fact(at, "approval_wait", dim, float(at - asked))
            elif kind in ("request_updated", "plan_succeeded_superseded"):
                self.waiting.pop(rid, None)
            elif kind == "drift_checked":
                self._fact(at, "drift.checked", self._dimension(item))
            elif kind == "drift_detected":
                dim = self._dimension(item)
                self._fact(at, "drift.detected", dim)
                self.drifted.setdefault(rid, [at, dim])
            elif kind == "drift_cleared":
                dim = self._dimension(item)
                since = self.drifted.pop(rid, None)
                self._fact(at, "drift.cleared", dim, float(at - since[0]) if since else -1.0)
            elif kind == "destroy_succeeded":
                self.drifted.pop(rid, None)
            elif kind == "policy_blocked":
                dim = self._dimension(item)
                for finding in data.get("findings") or []:
                    if isinstance(finding, dict) and finding.get("rule_id"):
                        self._fact(at, "policy.block", dim, float(self._rule(finding["rule_id"])))
            elif kind == "policy_overridden":
                rule = data.get("rule_id")
                if isinstance(rule, str):
                    self._fact(
                        at, "policy.override", self._dimension(item), float(self._rule(rule))
                    )
            elif kind == "cost_estimated":
                dim = self._dimension(item)
                monthly: Any = data.get("monthly")
                previous: Any = data.get("previous") or 0
                try:
                    # An unknown side (usage-based prices) makes the delta unknown.
                    delta = float(monthly) - float(previous)
                except (TypeError, ValueError):
                    self._fact(at, "cost.unknown", dim)
                else:
                    self._fact(at, "cost.delta", dim, delta)
            elif kind == "notification_failed":
                self._fact(at, "notification.failed", self._dimension(item))
            elif kind == "notification_dead_lettered":
                self._fact(at, "notification.dead_letter", self._dimension(item))
        # A drift that ends with a destroy is not open any more (destroy_succeeded above).


def update(store: Store, *, attempts: int = 5) -> tuple[Rollup, int]:
    """Fold the events after the stored cursor into the rollup and store it.

    Returns the rollup and how many events were folded now. A concurrent update by another
    process makes the write conflict; the update is then redone from the other's result.
    """
    feed = open_feed(store)
    feed_name = type(feed).__name__
    try:
        for _ in range(attempts):
            record = store.get_record(NAMESPACE, KEY)
            rollup = Rollup.from_value(record.value) if record else Rollup()
            if rollup.feed != feed_name:
                # Another kind of store (or an older layout): start over from the first event.
                rollup = Rollup(feed=feed_name)
            items, cursor = feed.read(rollup.cursor)
            if not items and record is not None and rollup.cursor == record.value.get("cursor"):
                return rollup, 0
            rollup.fold(items)
            rollup.cursor = cursor
            try:
                store.put_record(
                    NAMESPACE,
                    KEY,
                    rollup.to_value(),
                    expected_version=record.version if record else None,
                )
            except (ConflictError, AlreadyExistsError):
                continue
            return rollup, len(items)
        raise ConflictError("the metrics rollup kept changing while updating it; retry")
    finally:
        feed.close()
