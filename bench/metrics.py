"""``tfpilot metrics`` over 100,000 seeded events, against a plain Python pass; then the
incremental update after 100 new events.

Seeds an embedded store (SQLite, ``synchronous=NORMAL``) with requests spread over 4 modules,
3 environments and 5 projects, each with a realistic lifecycle (created, plan started/succeeded
or failed, approval asked/given, apply started/succeeded, cost estimated, drift checks, policy
blocks and overrides, failed notifications), 100,000 events in all, over 30 days. Events are
inserted with one ``executemany`` (through the store's own table and triggers, so the event feed
is filled exactly as by ``append_event``) only because 100,000 single appends take minutes.

Then, alternately:

* **full**: :func:`tfpilot_core.metrics.metrics` on a store whose rollup was deleted (reads every
  event from the feed, folds, stores the rollup, reports a 60-day window by environment);
* **plain**: a straightforward Python pass doing the same work: read the same rows (event JSON
  joined with the request's placement) from the same database, ``json.loads`` each, pair starts
  with ends, group by environment, sort for the percentiles.

And after 100 more events: **incremental** = the same ``metrics()`` call with the rollup in
place (reads only the 100 new events, folds them, writes the rollup back, reports).

Run with::

    .venv/bin/python bench/metrics.py [--events 100000] [--rounds 3]

Targets: full <= 1.5x plain; incremental <= 0.05x full.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tfpilot_core.metrics import metrics  # noqa: E402
from tfpilot_core.metrics.rollup import NAMESPACE, update  # noqa: E402
from tfpilot_core.models import Event, Placement, Request, RequestQuery  # noqa: E402
from tfpilot_core.stores.sqlite import SQLiteStore  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MODULES = ["sandbox/bucket", "sandbox/queue", "aws/s3-bucket", "aws/rds"]
ENVS = ["dev", "stage", "prod"]
PROJECTS = ["shop", "bank", "data", "web", "ops"]


def lifecycle(rng: random.Random, rid: str, start: datetime) -> list[Event]:
    """About 10 events of one request."""
    at = start
    out: list[Event] = []

    def add(type_: str, seconds: float = 0, **data: object) -> None:
        nonlocal at
        at = at + timedelta(seconds=seconds)
        out.append(Event(request_id=rid, type=type_, at=at, seq=len(out) + 1, data=dict(data)))

    add("request_created", 0, module="m")
    add("plan_started", rng.uniform(5, 600), run=f"plan-1-{rid}")
    if rng.random() < 0.1:
        add("plan_failed", rng.uniform(5, 60), run=f"plan-1-{rid}", error="Error: boom")
        add("notification_failed", 1, notifier="slack")
        return out
    add("plan_succeeded", rng.uniform(5, 120), run=f"plan-1-{rid}", plan_digest="ab" * 32)
    add("cost_estimated", 1, monthly=f"{rng.uniform(1, 100):.2f}", previous="0")
    if rng.random() < 0.05:
        add("policy_blocked", 1, findings=[{"rule_id": rng.choice(["tags", "public", "enc"])}])
        return out
    add("approval_required", 1, plan_digest="ab" * 32)
    add("approved", rng.uniform(60, 86400), plan_digest="ab" * 32)
    if rng.random() < 0.1:
        add("policy_overridden", 0, rule_id="tags", reason="ok")
    add("apply_started", rng.uniform(1, 600), run=f"apply-1-{rid}")
    add("apply_succeeded", rng.uniform(10, 900), run=f"apply-1-{rid}")
    add("drift_checked", rng.uniform(3600, 86400), result="none")
    if rng.random() < 0.2:
        add("drift_detected", 1, addresses=["x"])
        if rng.random() < 0.5:
            add("drift_cleared", rng.uniform(600, 86400))
    return out


def seed(path: Path, total: int, rng: random.Random) -> SQLiteStore:
    store = SQLiteStore(path, synchronous="NORMAL")
    conn = sqlite3.connect(path, isolation_level=None)
    made = 0
    i = 0
    rows = []
    while made < total:
        i += 1
        rid = f"req_{rng.choice(ENVS)}_b_{i:06d}"
        env = rid.split("_")[1]
        request = Request(
            id=rid,
            placement=Placement(
                project=rng.choice(PROJECTS),
                environment=env,
                module=rng.choice(MODULES),
                module_version="v1",
            ),
            inputs={},
            created_by="alice",
            created_at=NOW - timedelta(days=rng.uniform(0, 30)),
        )
        store.create_request(request)
        for event in lifecycle(rng, rid, request.created_at)[: total - made]:
            rows.append((rid, event.seq, event.model_dump_json()))
            made += 1
    # The feed table is created by the first metrics() call; create it first so that the
    # trigger fills it as append_event would.
    from tfpilot_core.metrics.feed import SQLiteFeed

    SQLiteFeed(path).close()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (request_id, seq, document) VALUES (?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return store


def plain_pass(path: Path, since: datetime) -> dict[str, dict[str, float | None]]:
    """What a careful script would do: read, parse, pair, group, sort."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT e.document, r.environment FROM events e JOIN requests r ON r.id = e.request_id"
    ).fetchall()
    conn.close()
    starts: dict[str, float] = {}
    durations: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, dict[str, int]] = {}
    for document, env in rows:
        event = json.loads(document)
        at = datetime.fromisoformat(event["at"]).timestamp()
        kind = event["type"]
        run = event["data"].get("run")
        if kind.endswith("_started"):
            starts[run] = at
        elif kind.endswith(("_succeeded", "_failed")) and run in starts:
            start = starts.pop(run)
            if at >= since.timestamp():
                c = counts.setdefault(env, {})
                c[kind] = c.get(kind, 0) + 1
                if kind.endswith("_succeeded"):
                    durations.setdefault(env, {}).setdefault(kind, []).append(at - start)
        elif at >= since.timestamp():
            c = counts.setdefault(env, {})
            c[kind] = c.get(kind, 0) + 1
    result: dict[str, dict[str, float | None]] = {}
    for env, kinds in durations.items():
        for kind, values in kinds.items():
            ordered = sorted(values)
            for p in (50, 95, 99):
                result.setdefault(env, {})[f"{kind}.p{p}"] = ordered[
                    max(1, math.ceil(p / 100 * len(ordered))) - 1
                ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        store = seed(path, args.events, rng)
        print(f"seeded {args.events} events in {time.perf_counter() - started:.1f}s")
        window = timedelta(days=60)
        full_times, plain_times = [], []
        report = plain = None
        for _ in range(args.rounds):
            for record in store.list_records(NAMESPACE):
                store.delete_record(NAMESPACE, record.key, expected_version=record.version)
            t = time.perf_counter()
            report = metrics(store, since=window, by="env", now=NOW + timedelta(days=10))
            full_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            plain = plain_pass(path, NOW + timedelta(days=10) - window)
            plain_times.append(time.perf_counter() - t)
        assert report is not None and plain is not None
        # Same answers: p95 of apply durations per environment.
        for env in ENVS:
            ours = report["groups"][env]["durations_seconds"]["apply"]["p95"]
            theirs = plain[env]["apply_succeeded.p95"]
            assert theirs is not None and abs(ours - theirs) < 0.01, (env, ours, theirs)
        full, base = statistics.median(full_times), statistics.median(plain_times)
        assert report["events_folded_now"] == args.events
        # 100 new events, then the incremental update; then a report from the rollup.
        incremental_times, report_times = [], []
        for round_ in range(args.rounds):
            ids = [r.id for r in store.list_requests(RequestQuery(limit=100)).items]
            for i in range(100):
                rid = ids[i % len(ids)]
                store.append_event(
                    Event(request_id=rid, type="drift_checked", at=NOW - timedelta(minutes=round_))
                )
            t = time.perf_counter()
            _, folded = update(store)
            incremental_times.append(time.perf_counter() - t)
            assert folded == 100, folded
            t = time.perf_counter()
            again = metrics(store, since=window, by="env", now=NOW + timedelta(days=10))
            report_times.append(time.perf_counter() - t)
            assert again["events_folded_now"] == 0
        inc, rep = statistics.median(incremental_times), statistics.median(report_times)
        print(f"full metrics pass      {full * 1000:8.1f} ms  (median of {args.rounds})")
        print(f"plain Python pass      {base * 1000:8.1f} ms")
        print(f"incremental update     {inc * 1000:8.1f} ms  (100 new events folded and stored)")
        print(f"report from rollup     {rep * 1000:8.1f} ms  (60-day window, by environment)")
        print(f"ratio full/plain           {full / base:.2f}x  (target <= 1.5x)")
        print(f"ratio incremental/full     {inc / full:.3f}x (target <= 0.05x)")
        print(f"ratio (update+report)/full {(inc + rep) / full:.3f}x")
        store.close()


if __name__ == "__main__":
    main()
