"""The query layer on 10,000 requests against a plain Python filter over the same requests.

Seeds an embedded (SQLite) store with 10,000 varied requests (:func:`tfpilot_core.query.seed.
seed_requests`, written straight through ``SQLiteStore.create_request``), then answers every
question of the ask test table (``tests/ask/test_questions.py``), parsed offline, three ways:

* ``query``: ``Platform.query`` on the embedded store (indexes, read scope, parse cache), warm;
* ``cold``: the same, first run after opening the store (every document parsed once);
* ``generic``: ``Platform.query`` through the Store protocol only (``list_requests`` pages);
* ``plain``: a plain Python filter over a list of the same 10,000 ``Request`` objects (and
  their events) already in memory (status derived, read grants applied, sorted and aggregated
  the same way).

Each answer is checked against the plain filter's (count, ids and totals) before it is timed.
It prints the median time per question and the ratio query/plain, and the totals. Run with::

    .venv/bin/python bench/query.py [--requests 10000] [--rounds 5] [--actor admin|vera]
    .venv/bin/python bench/query.py --memory [--requests 10000]

Target: query at most 1.5x plain on the embedded store (warm), for the table's queries.
``--memory``: aggregate questions (counts), each answered once in a fresh process on a store of
``--requests`` and on one of a tenth of it: the peak RSS at 10,000 at most 1.2x that at 1,000
(the answer's own Python allocations are printed too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "query"))
sys.path.insert(0, str(ROOT / "tests" / "ask"))

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
CONFIG = """
[users.admin]
role = "admin"
[[users.vera.grants]]
role = "viewer"
projects = ["shop"]
[plugins.embedded]
synchronous = "NORMAL"
"""


def plain(
    platform: Any, actor: str, query: Any, requests: list[Any], events: dict[str, list[Any]]
) -> tuple[int, list[str], Any]:
    """The answer by a plain filter over ``requests`` (and their ``events``, in memory)."""
    from tfpilot_core.models import Conclusion, RunKind

    def applied_at(r: Any) -> Any:
        for a in reversed(r.attempts(RunKind.APPLY)):
            if a.conclusion is Conclusion.SUCCESS:
                return a.completed_at or a.created_at
        return None

    def ok(r: Any) -> bool:
        p = r.placement
        if query.environments and p.environment not in query.environments:
            return False
        if query.projects and p.project not in query.projects:
            return False
        if query.modules and p.module not in query.modules:
            return False
        if query.authors and r.created_by not in query.authors:
            return False
        if query.created_since and r.created_at < query.created_since:
            return False
        if query.created_before and r.created_at >= query.created_before:
            return False
        if query.applied_since:
            at = applied_at(r)
            if at is None or at < query.applied_since:
                return False
        state = r.drift.result.value if r.drift else "unchecked"
        if query.drift is not None and state != query.drift.value:
            return False
        if query.drifted_since and not (
            state == "drifted" and r.drift.checked_at >= query.drifted_since
        ):
            return False
        for bound in query.cost:
            value = None
            if r.cost is not None:
                value = r.cost.monthly if bound.measure == "total" else r.cost.delta
            if not bound.matches(value):
                return False
        return not query.statuses or platform.status(r) in query.statuses

    matched = [r for r in requests if ok(r)]
    if query.events:
        matched = [
            r
            for r in matched
            if all(
                any(e.type == w.kind and (w.since is None or e.at >= w.since)
                    for e in events.get(r.id, ()))
                for w in query.events
            )
        ]  # fmt: skip
    # Read grants as the query layer asks them (once per project and environment), so neither
    # side pays more than the other for scoping.
    from tfpilot_core.query.engine import _readable

    may_read = _readable(platform, actor)
    matched = [r for r in matched if may_read(r)]
    if query.aggregate.value == "list":
        rows = sorted(matched, key=lambda r: (r.created_at, r.id), reverse=True)
        key = query.sort.value
        if key == "created":
            rows.sort(key=lambda r: (r.created_at, r.id))
        elif key in ("-cost", "cost"):
            sign = -1 if key == "-cost" else 1

            def cost_key(r: Any) -> Any:
                m = r.cost.monthly if r.cost else None
                return (m is None, sign * (m or 0))

            rows.sort(key=cost_key)
        elif key == "-applied":
            rows.sort(key=lambda r: applied_at(r) or datetime.min.replace(tzinfo=UTC), reverse=True)
        elif key == "-drifted":
            rows.sort(
                key=lambda r: r.drift.checked_at if r.drift else datetime.min.replace(tzinfo=UTC),
                reverse=True,
            )
        return len(matched), [r.id for r in rows[: query.limit]], None
    total = sum(
        (r.cost.monthly for r in matched if r.cost and r.cost.monthly is not None), Decimal(0)
    )
    return len(matched), [], total


#: The clock: wall time by default; ``--cpu`` uses the process's CPU time, which is what to
#: compare on a machine busy with other work (SQLite runs in this thread, so it is included).
CLOCK = time.perf_counter


def timed(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times)


def _memory_child(home: str, actor: str, question: str) -> None:
    """In a fresh process: open the platform on ``home``, answer ``question`` once (as ``ask``
    does: parsed, then ``Platform.query``), print RSS at start and peak, and the peak of Python
    allocations during the answer (KiB)."""
    import json
    import resource
    import tracemalloc

    from tfpilot_core.ask import parse_question
    from tfpilot_core.platform import Platform
    from tfpilot_core.query.seed import MODULES

    environ = {"TFPILOT_HOME": home, "TFPILOT_CONFIG": ""}
    platform = Platform.from_config(
        Path(home).parent / "tfpilot.toml", environ=environ, entry_points=False
    )
    query = parse_question(question, now=NOW, actor=actor, modules=MODULES).query
    assert query is not None, question
    with open("/proc/self/statm") as statm:
        start = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    tracemalloc.start()
    result = platform.query(actor, query)
    python_peak = tracemalloc.get_traced_memory()[1] // 1024
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"start": start, "peak": peak, "python": python_peak, "count": result.count}))


#: Aggregate questions whose memory must not grow with the store (issue 31).
AGGREGATES = ("how many requests are in dev?", "how many requests are applied?")


def memory(args: argparse.Namespace) -> int:
    """Peak memory of aggregate questions on a store of ``--requests`` and of a tenth of it."""
    import json
    import subprocess

    from tfpilot_core.query.seed import seed_requests
    from tfpilot_core.stores.sqlite import SQLiteStore

    sizes = (args.requests // 10, args.requests)
    homes = {}
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"tfpilot-bench-query-{size}-"))
        (work / "home").mkdir()
        (work / "tfpilot.toml").write_text(CONFIG)
        seeder = SQLiteStore(work / "home" / "tfpilot.db", synchronous="NORMAL")
        seed_requests(seeder, size, now=NOW)
        seeder.close()
        homes[size] = str(work / "home")
    print(f"memory: aggregate questions, fresh process each, load {os.getloadavg()[0]:.1f}")
    worst = 0.0
    for question in AGGREGATES:
        found = {}
        for size in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", homes[size], args.actor, question],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            found[size] = json.loads(out.strip().splitlines()[-1])
        small, large = found[sizes[0]], found[sizes[1]]
        ratio = large["peak"] / small["peak"]
        worst = max(worst, ratio)
        print(
            f"  {question!r}: {sizes[0]} requests peak RSS {small['peak'] / 1024:.1f} MiB "
            f"(answer's Python allocations {small['python'] / 1024:.2f} MiB, count "
            f"{small['count']}); {sizes[1]}: {large['peak'] / 1024:.1f} MiB "
            f"({large['python'] / 1024:.2f} MiB, count {large['count']}): {ratio:.2f}x"
        )
    verdict = "within" if worst <= 1.2 else "ABOVE"
    print(f"  worst peak RSS ratio {worst:.2f} (target at most 1.2: {verdict})")
    return 0 if worst <= 1.2 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--actor", default="admin", choices=["admin", "vera"])
    parser.add_argument("--cpu", action="store_true", help="time CPU, not wall clock")
    parser.add_argument("--skip-generic", action="store_true", help="do not time the generic plan")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="peak memory of aggregate questions on --requests and a tenth of it, then stop",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(*args.memory_child)
        return 0
    if args.memory:
        return memory(args)
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time

    from test_questions import TABLE

    from tfpilot_core.ask import parse_question
    from tfpilot_core.models import RequestQuery
    from tfpilot_core.platform import Platform
    from tfpilot_core.query import Query
    from tfpilot_core.query.seed import MODULES, seed_requests
    from tfpilot_core.stores.sqlite import SQLiteStore

    work = Path(tempfile.mkdtemp(prefix="tfpilot-bench-query-"))
    (work / "home").mkdir()
    (work / "tfpilot.toml").write_text(CONFIG)
    start = time.perf_counter()
    seeder = SQLiteStore(work / "home" / "tfpilot.db", synchronous="NORMAL")
    seed_requests(seeder, args.requests, now=NOW)
    seeder.close()
    print(f"seeded {args.requests} requests in {time.perf_counter() - start:.1f} s")

    environ = {"TFPILOT_HOME": str(work / "home"), "TFPILOT_CONFIG": ""}
    platform = Platform.from_config(work / "tfpilot.toml", environ=environ, entry_points=False)

    class ProtocolOnly:
        def __init__(self, store: Any) -> None:
            self._store = store

        def __getattr__(self, name: str) -> Any:
            if name in (
                "query_index",
                "query_ids",
                "change_token",
                "documents",
                "event_times",
                "wrapped",
            ):
                raise AttributeError(name)
            return getattr(self._store, name)

    class GenericPlatform(Platform):
        @property
        def store(self) -> Any:
            return ProtocolOnly(super().store)

    generic = GenericPlatform(platform.host)
    queries: list[tuple[str, Query]] = []
    for question, _, _ in TABLE:
        parsed = parse_question(question, now=NOW, actor=args.actor, modules=MODULES)
        assert parsed.query is not None, question
        queries.append((question, parsed.query))

    actor = args.actor
    start = time.perf_counter()
    platform.query(actor, Query(limit=1))
    cold = time.perf_counter() - start
    everything: list[Any] = []
    cursor = None
    while True:
        page = platform.store.list_requests(RequestQuery(limit=1000, cursor=cursor))
        everything.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    events = {r.id: platform.store.list_events(r.id) for r in everything}
    print(f"clock: {'CPU time' if args.cpu else 'wall'}; load average {os.getloadavg()[0]:.1f}")
    print(f"cold first query (parses every document): {cold * 1000:.0f} ms")
    print(f"{'question':<58} {'query':>8} {'generic':>8} {'plain':>8} {'ratio':>6}")
    totals = {"query": 0.0, "generic": 0.0, "plain": 0.0}
    worst = 0.0
    for question, query in queries:
        result = platform.query(actor, query)
        count, ids, total = plain(platform, actor, query, everything, events)
        assert result.count == count, (question, result.count, count)
        if ids:
            assert [r.id for r in result.rows] == ids, question
        if total is not None and query.aggregate.value == "sum_cost":
            assert result.total_cost == total, question
        if not args.skip_generic:
            assert generic.query(actor, query).count == count, question
        t_query = timed(lambda q=query: platform.query(actor, q), args.rounds)
        t_generic = (
            float("nan") if args.skip_generic else timed(lambda q=query: generic.query(actor, q), 1)
        )
        t_plain = timed(lambda q=query: plain(platform, actor, q, everything, events), args.rounds)
        totals["query"] += t_query
        totals["generic"] += t_generic
        totals["plain"] += t_plain
        ratio = t_query / t_plain
        worst = max(worst, ratio)
        line = (
            f"{question[:58]:<58} {t_query * 1000:7.1f}m {t_generic * 1000:7.1f}m "
            f"{t_plain * 1000:7.1f}m {ratio:6.2f}"
        )
        print(line, flush=True)
    ratio = totals["query"] / totals["plain"]
    print(
        f"total over {len(queries)} questions: query {totals['query'] * 1000:.0f} ms, generic "
        f"{totals['generic'] * 1000:.0f} ms, plain {totals['plain'] * 1000:.0f} ms; "
        f"query/plain {ratio:.2f} (worst single question {worst:.2f}); target <= 1.5"
    )
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
