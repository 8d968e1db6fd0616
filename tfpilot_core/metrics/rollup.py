"""The metrics rollup: facts folded from the event feed, stored in keyed records by day.

Each event becomes zero or more *facts* ``(time, value)`` of one *series*: a fact code (a run
that finished, with its duration; a lead time; an approval wait; a drift detected or cleared; a
policy block or override of one rule; a cost delta; a failed or dead-lettered notification) and
a *dimension*, one (module, environment, project) triple numbered in the rollup. A series keeps
its times sorted and its values beside them, so a window is two binary searches and a slice.

Records (namespace ``metrics``):

``state``
    The feed cursor, the dimensions and rule names, what is pending (a run started and not
    finished, a request not applied yet, an approval asked for, an open drift) and the days
    that have facts. Written last, with compare-and-swap.
``day/YYYY-MM-DD``
    That day's series, and ``upto``: the feed position of the last event folded into it. An
    update loads and rewrites only the days its new facts fall on.

An update reads only the events after the cursor (:mod:`tfpilot_core.metrics.feed`), so a scan
of the whole history is never repeated. Two processes updating at once: day records and the
state are compare-and-swapped, a loser starts over from the stored state, and a day never
takes a fact twice (its ``upto`` says which events it already holds), even when a process died
between writing a day and writing the state. (The scan feed of other stores has no positions:
there, a process dying between those two writes can count that update's events twice.)
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tfpilot_core.errors import AlreadyExistsError, ConflictError
from tfpilot_core.interfaces import Store
from tfpilot_core.metrics.feed import Row, _data, open_feed

NAMESPACE = "metrics"
STATE_KEY = "state"
#: Bumped when the meaning of stored facts changes: an older rollup is rebuilt from scratch.
#: 5: a cost delta is counted when its plan is applied (once per applied revision), not per plan.
ROLLUP_VERSION = 5

#: Fact codes (the code of a series is its index here).
CODES: tuple[str, ...] = (
    "plan.succeeded",  # value: duration in seconds (-1 when the start was not seen)
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
    "cost.delta",  # value: monthly delta, at the apply of the plan it was estimated for
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
_RUN_START = {"plan_started", "apply_started", "destroy_started"}
_DATA_TYPES = {"policy_blocked", "policy_overridden", "cost_estimated"}

#: One series: sorted times (integer milliseconds since the epoch) and their values.
Series = list[list[Any]]
_DAY_MS = 86_400_000
_day_keys: dict[int, str] = {}


def day_of(at_ms: int) -> str:
    """The day record key of a time in milliseconds since the epoch."""
    index = at_ms // _DAY_MS
    key = _day_keys.get(index)
    if key is None:
        at = datetime.fromtimestamp(index * 86_400, UTC)
        key = _day_keys[index] = "day/" + at.strftime("%Y-%m-%d")
    return key


def _encode(series: dict[str, Series]) -> str:
    # Stored as one JSON string inside the record: the store parses and validates a string, not
    # a hundred thousand numbers, and only a report decodes it.
    return json.dumps(series, separators=(",", ":"))


def decode(value: dict[str, Any]) -> dict[str, Series]:
    """The series of a stored day record."""
    decoded: dict[str, Series] = json.loads(value["series"])
    return decoded


@dataclass
class Day:
    """One day's series (``"code:dim"`` -> [times, values]) and its feed position."""

    series: dict[str, Series] = field(default_factory=dict)
    upto: int = 0
    version: int | None = None


@dataclass
class State:
    """The rollup's state record (see the module docstring)."""

    cursor: Any = None
    feed: str = ""
    dims: list[list[str]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    #: Pending starts, in milliseconds since the epoch.
    runs: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    drifted: dict[str, list[int]] = field(default_factory=dict)
    #: The monthly cost delta of each request's latest plan (``None``: unknown), until applied.
    costs: dict[str, float | None] = field(default_factory=dict)
    days: list[str] = field(default_factory=list)
    events: int = 0

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> State:
        """Load the stored state (another version loads as empty: it is rebuilt)."""
        if value.get("version") != ROLLUP_VERSION:
            return cls()
        return cls(**{k: v for k, v in value.items() if k != "version"})

    def to_value(self) -> dict[str, Any]:
        """The stored form."""
        return {"version": ROLLUP_VERSION, **self.__dict__}


class Folder:
    """Folds feed items into a state and the day records they touch."""

    def __init__(self, store: Store, state: State) -> None:
        self.store = store
        self.state = state
        self.days: dict[str, Day] = {}
        self._dims = {(d[0], d[1], d[2]): i for i, d in enumerate(state.dims)}
        self._rules = {r: i for i, r in enumerate(state.rules)}
        self._position: int | None = None
        self._day: Day | None = None
        self._day_index = -1
        self._request_dims: dict[str, int] = {}

    def day(self, key: str) -> Day:
        """A day record, loaded on first use."""
        found = self.days.get(key)
        if found is None:
            record = self.store.get_record(NAMESPACE, key)
            if record is not None and key in self.state.days:
                found = Day(decode(record.value), record.value.get("upto", 0), record.version)
            else:
                # A day left by an older layout (the state was rebuilt) is replaced.
                found = Day(version=record.version if record else None)
            self.days[key] = found
        return found

    def _dimension(self, row: Row) -> int:
        # A request's placement never changes: look it up once per request.
        found = self._request_dims.get(row[1])
        if found is not None:
            return found
        key = (row[6], row[7], row[8])
        found = self._dims.get(key)
        if found is None:
            found = self._dims[key] = len(self.state.dims)
            self.state.dims.append(list(key))
        self._request_dims[row[1]] = found
        return found

    def _rule(self, rule: str) -> int:
        found = self._rules.get(rule)
        if found is None:
            found = self._rules[rule] = len(self.state.rules)
            self.state.rules.append(rule)
        return found

    def _fact(self, at: int, code: str, dim: int, value: float = 0) -> None:
        index = at // _DAY_MS
        if index == self._day_index and self._day is not None:
            day = self._day
        else:
            day = self._day = self.day(day_of(at))
            self._day_index = index
        if self._position is not None and self._position <= day.upto:
            return  # this day already holds the facts of this event (see the module docstring)
        series = day.series.setdefault(f"{CODE[code]}:{dim}", [[], []])
        times, values = series
        if not times or at >= times[-1]:
            times.append(at)
            values.append(value)
        else:  # out of order (clocks of several processes): keep the times sorted
            i = bisect.bisect_right(times, at)
            times.insert(i, at)
            values.insert(i, value)

    def fold(self, rows: Iterable[Row]) -> int:
        """Add the facts of ``rows`` (in feed order); returns how many events were folded."""
        s = self.state
        n = 0
        for item in rows:
            n += 1
            position, rid, kind, at, data, run = item[:6]
            self._position = position
            if kind in _RUN_START:
                if isinstance(run, str):
                    s.runs[run] = at
            elif kind in _RUN_END:
                dim = self._dimension(item)
                start = s.runs.pop(run, None) if isinstance(run, str) else None
                self._fact(
                    at, _RUN_END[kind], dim, (at - start) / 1000 if start is not None else -1.0
                )
                if kind in ("apply_succeeded", "destroy_succeeded") and rid in s.costs:
                    # Counted once, for the plan that was applied: re-plans of a revision (and
                    # plans never applied) do not add up in the total.
                    delta = s.costs.pop(rid)
                    if delta is None:
                        self._fact(at, "cost.unknown", dim)
                    else:
                        self._fact(at, "cost.delta", dim, delta)
                if kind == "apply_succeeded":
                    created = s.created.pop(rid, None)
                    if created is not None:
                        self._fact(at, "lead_time", dim, (at - created) / 1000)
                elif kind == "destroy_succeeded":
                    s.drifted.pop(rid, None)
            elif kind == "request_created":
                s.created[rid] = at
                self._fact(at, "request.created", self._dimension(item))
            elif kind == "approval_required":
                s.waiting.setdefault(rid, at)
            elif kind == "approved":
                dim = self._dimension(item)
                self._fact(at, "approved", dim)
                asked = s.waiting.pop(rid, None)
                if asked is not None:
                    self._fact(at, "approval_wait", dim, (at - asked) / 1000)
            elif kind == "request_updated":
                s.waiting.pop(rid, None)  # a new revision needs a new plan before approval
                s.costs.pop(rid, None)  # ... and its own cost estimate
            elif kind == "drift_checked":
                self._fact(at, "drift.checked", self._dimension(item))
            elif kind == "drift_detected":
                dim = self._dimension(item)
                self._fact(at, "drift.detected", dim)
                s.drifted.setdefault(rid, [at, dim])
            elif kind == "drift_cleared":
                dim = self._dimension(item)
                since = s.drifted.pop(rid, None)
                self._fact(at, "drift.cleared", dim, (at - since[0]) / 1000 if since else -1.0)
            elif kind in _DATA_TYPES and not isinstance(data, dict):
                data = _data(data, run)
            if kind == "policy_blocked":
                dim = self._dimension(item)
                for finding in data.get("findings") or []:
                    if isinstance(finding, dict) and finding.get("rule_id"):
                        self._fact(at, "policy.block", dim, self._rule(finding["rule_id"]))
            elif kind == "policy_overridden":
                rule = data.get("rule_id")
                if isinstance(rule, str):
                    self._fact(at, "policy.override", self._dimension(item), self._rule(rule))
            elif kind == "cost_estimated":
                monthly: Any = data.get("monthly")
                previous: Any = data.get("previous") or 0
                try:
                    # An unknown side (usage-based prices) makes the delta unknown.
                    s.costs[rid] = float(monthly) - float(previous)
                except (TypeError, ValueError):
                    s.costs[rid] = None
            elif kind == "notification_failed":
                self._fact(at, "notification.failed", self._dimension(item))
            elif kind == "notification_dead_lettered":
                self._fact(at, "notification.dead_letter", self._dimension(item))
            if position is not None and self._day_index == at // _DAY_MS:
                assert self._day is not None
                if position > self._day.upto:
                    self._day.upto = position
        self._position = None
        s.events += n
        return n

    def save(self) -> None:
        """Write the touched days, then the caller writes the state."""
        for key, day in self.days.items():
            if day.version is None and not day.series:
                continue
            record = self.store.put_record(
                NAMESPACE,
                key,
                {"series": _encode(day.series), "upto": day.upto},
                expected_version=day.version,
            )
            day.version = record.version
            if key not in self.state.days:
                self.state.days.append(key)
        self.state.days.sort()


def update(store: Store, *, attempts: int = 5) -> tuple[State, int]:
    """Fold the events after the stored cursor into the rollup and store it.

    Returns the state and how many events were folded now.
    """
    feed = open_feed(store)
    feed_name = type(feed).__name__
    try:
        for _ in range(attempts):
            record = store.get_record(NAMESPACE, STATE_KEY)
            state = State.from_value(record.value) if record else State()
            if state.feed != feed_name:
                # Another kind of store, or an older layout: start over from the first event
                # (the old day records are replaced as the days are written again).
                state = State(feed=feed_name)
            rows, cursor = feed.rows(state.cursor)
            if not rows and record is not None and state.cursor == cursor:
                return state, 0
            folder = Folder(store, state)
            folded = folder.fold(rows)
            state.cursor = cursor
            try:
                folder.save()
                store.put_record(
                    NAMESPACE,
                    STATE_KEY,
                    state.to_value(),
                    expected_version=record.version if record else None,
                )
            except (ConflictError, AlreadyExistsError):
                continue
            return state, folded
        raise ConflictError("the metrics rollup kept changing while updating it; retry")
    finally:
        feed.close()


def load_days(store: Store, state: State, since: float, until: float) -> list[dict[str, Series]]:
    """The series of every stored day that overlaps ``[since, until]`` (POSIX seconds)."""
    first, last = day_of(int(since * 1000)), day_of(int(until * 1000))
    out = []
    for key in state.days:
        if first <= key <= last:
            record = store.get_record(NAMESPACE, key)
            if record is not None:
                out.append(decode(record.value))
    return out
