"""What does the S3 store cost over plain boto3, and what does its listing index buy?

Runs moto's S3 server (``tfpilot_store_s3.testing.MotoS3Server``) in a separate process, so that
the server and the measured client do not share one interpreter lock, and talks real HTTP to it.

1. **list + get 2,000 requests** through the store (``list_requests`` page after page: it lists
   the index and GETs every document it returns) against a plain boto3 loop making the minimum
   calls for the same result (LIST ``requests/``, GET every document, parse it, sort newest
   first). Measured in alternating rounds (the order flips every round) so that a noisy machine
   slows both alike; medians are compared. Twice: both sequential (``workers=1`` against a plain
   loop), and both with 16 parallel GETs (the store's default against a plain thread pool).
2. **list 10,000 requests**: the first page (100, newest first) and a filtered page
   (``environment="prod"``, ``status="applied"``), with the index against without it (without:
   LIST every document, GET all of them, filter and sort: what a store without an index must do).

3. **The request-count model** (``--counts``, alone): the S3 requests each operation makes
   (counted by the store's botocore event hook, ``S3Store.calls``, not timed) at 1,000 and at
   10,000 stored requests: create, update, show, list first page, list by status, count by
   environment, one drift shard of 50, a deliverer pass with 10 due deliveries (among one outbox
   record per 10 requests), ``notify list --pending`` (those 10 and 5 held for a digest), the
   digest pass's read of the 5 held, and the catalog's usage count. 100,000 is extrapolated from the
   counts: only LIST calls grow with the store (one page per 1,000 index keys; their growth per
   1,000 requests is solved from the two sizes), every other request is per result, taken as
   measured at the larger size.

Run with (the ``test`` extra of plugins/store_s3 installed)::

    .venv/bin/python bench/store_s3.py [--rounds 5] [--small 2000] [--large 10000]
    .venv/bin/python bench/store_s3.py --counts [--small 1000] [--large 10000]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "us-east-1"
PREFIX = "bench/"


def _serve(port: int, ready: Any, stop: Any) -> None:
    from tfpilot_store_s3.testing import MotoS3Server

    server = MotoS3Server(port=port).start()
    ready.set()
    stop.wait()
    server.stop()


def _request(i: int) -> Any:
    # The conformance suite's request builders: every fourth request applied (plan and apply
    # succeeded), environments and authors in turn.
    from tfpilot_core.testing.store_conformance import make_applied_request, make_request

    build = make_applied_request if i % 4 == 1 else make_request
    return build(
        f"req_{i:06d}",
        environment=("dev", "stage", "prod")[i % 3],
        author=("alice", "bob", "carol")[i % 3],
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
        inputs={"name": f"bucket-{i}", "tags": {"team": "platform", "cost_center": str(i % 7)}},
    )


def _seed(store: Any, start: int, stop: int) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.create_request(_request(i)), range(start, stop)))
    return time.perf_counter() - began


def _through_store(store: Any) -> list[str]:
    from tfpilot_core.models import RequestQuery

    ids: list[str] = []
    cursor = None
    while True:
        page = store.list_requests(RequestQuery(limit=1000, cursor=cursor))
        ids.extend(r.id for r in page.items)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _plain(client: Any, bucket: str, workers: int) -> list[str]:
    """The minimum with plain boto3: LIST the documents, GET each, parse, sort newest first."""
    from tfpilot_core.models import Request

    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": PREFIX + "requests/"}
    while True:
        page = client.list_objects_v2(**kwargs)
        keys.extend(o["Key"] for o in page.get("Contents", []))
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def get(key: str) -> Request:
        return Request.load(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    if workers == 1:
        requests = [get(k) for k in keys]
    else:
        with ThreadPoolExecutor(workers) as pool:
            requests = list(pool.map(get, keys))
    requests.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return [r.id for r in requests]


def _alternate(
    rounds: int, first: Callable[[], object], second: Callable[[], object]
) -> tuple[list[float], list[float]]:
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        order = [(first, a), (second, b)] if i % 2 == 0 else [(second, b), (first, a)]
        for func, times in order:
            began = time.perf_counter()
            func()
            times.append(time.perf_counter() - began)
    return a, b


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _counts(store: Any, seeded: int) -> dict[str, int]:
    """S3 requests of each operation of the model, on a store holding ``seeded`` requests."""
    from types import SimpleNamespace

    from tfpilot_core.lifecycle import derive_status
    from tfpilot_core.models import RequestQuery, utcnow
    from tfpilot_core.notifications import outbox
    from tfpilot_core.query.rows import applied_shard, readable_rows
    from tfpilot_core.runs.executor import shard_count
    from tfpilot_core.stores.cas import update_request
    from tfpilot_core.stores.rows import IndexFilter

    # What the query layer needs of a platform here: the store, statuses, read grants.
    allow = SimpleNamespace(may=lambda *a, **k: True)
    kernel = SimpleNamespace(store=store, status=derive_status, access=allow)

    def total(func: Callable[[], object]) -> tuple[int, int]:
        with store.calls.counting() as calls:
            func()
        return calls.get("total", 0), calls.get("ListObjectsV2", 0)

    applied = seeded // 4  # every fourth request of _request() is applied
    shards = shard_count(applied, per_shard=50)
    now = utcnow()
    # One outbox record per 10 requests, delivered (no due entry), and 10 due deliveries.
    for i in range(seeded // 10 - _counts_outbox.get(id(store), 0)):
        n = _counts_outbox.get(id(store), 0) + i
        store.put_record(
            "outbox", f"dlv_done_{n:06d}", {"state": "delivered"}, expected_version=None
        )
    _counts_outbox[id(store)] = seeded // 10
    for i in range(10):
        key = f"dlv_due_{seeded}_{i}"
        value = {"state": "pending", "next_at": (now - timedelta(seconds=i + 1)).isoformat()}
        outbox.will_be_due(store, "outbox", key, value)
        store.put_record("outbox", key, value, expected_version=None)
    # 5 deliveries held for a user's drift digest.
    for i in range(5):
        key = f"dlv_held_{seeded}_{i}"
        value = {"state": "held", "created_at": now.isoformat(), "next_at": now.isoformat()}
        outbox.will_be_due(store, "outbox", key, value)
        store.put_record("outbox", key, value, expected_version=None)
    due: list[Any] = []
    held: list[Any] = []
    waiting = ("pending", "sending", "held")
    result = {
        "create": total(lambda: store.create_request(_request(10**6 + seeded))),
        "update": total(
            lambda: update_request(
                store, _request(1).id, lambda r: r.model_copy(update={"inputs": {"n": seeded}})
            )
        ),
        "show": total(lambda: store.get_request(_request(2).id)),
        "list first page (20)": total(lambda: store.list_requests(RequestQuery(limit=20))),
        "list applied (20)": total(
            lambda: store.list_requests(RequestQuery(limit=20, status="applied"))
        ),
        "count by environment": total(lambda: store.index_rows(IndexFilter(environments=["dev"]))),
        "drift shard (~50 members)": total(lambda: applied_shard(kernel, 0, shards)),
        "deliverer reads 10 due": total(
            lambda: due.extend(outbox.due_records(store, "outbox", now))
        ),
        "notify list --pending (15)": total(
            lambda: outbox.records_in(store, "outbox", waiting, now)
        ),
        "digest reads 5 held": total(
            lambda: held.extend(outbox.records_in(store, "outbox", ["held"], now) or [])
        ),
        "catalog usage count": total(
            lambda: readable_rows(kernel, "alice", modules=["bucket"], with_status=True)
        ),
    }
    assert len(due) >= 10, "the due index lost a due delivery"
    assert len(held) == 5, "the held index lost a held delivery"
    for record in held:  # digested: out of the held index
        digested = {**record.value, "state": "digested"}
        store.put_record("outbox", record.key, digested, expected_version=record.version)
        outbox.moved(store, "outbox", record.key, record.value, digested)
    for record in due:  # delivered: out of the due index, so the next size measures its own 10
        store.put_record(
            "outbox", record.key, {"state": "delivered"}, expected_version=record.version
        )
        outbox.moved(store, "outbox", record.key, record.value, {"state": "delivered"})
    member_count = len(applied_shard(kernel, 0, shards) or [])
    print(f"   ({applied} applied, {shards} shards: shard 0 has {member_count} members)")
    return result


#: Outbox records already seeded per store (the sizes are measured on one growing store).
_counts_outbox: dict[int, int] = {}


def _count_model(store: Any, small: int, large: int) -> None:
    seeded = _seed(store, 0, small)
    print(f"seeded {small} requests through the store in {seeded:.1f} s")
    at_small = _counts(store, small)
    seeded = _seed(store, small, large)
    print(f"seeded {large - small} more ({large} in all) in {seeded:.1f} s")
    at_large = _counts(store, large)
    print("\n3. S3 requests per operation (counted by the botocore hook, not timed)")
    print(
        f"   {'operation':28s} {small:>8,d} {large:>8,d} {100_000:>9,d} (LIST pages extrapolated)"
    )
    for name, (a, a_lists) in at_small.items():
        b, b_lists = at_large[name]
        # LIST pages grow with the index (1,000 keys each); every other request is per result.
        per_thousand = (b_lists - a_lists) / ((large - small) / 1000)
        lists = a_lists + per_thousand * (100_000 - small) / 1000
        print(f"   {name:28s} {a:8d} {b:8d} {b - b_lists + lists:9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--counts", action="store_true", help="the request-count model only")
    args = parser.parse_args()

    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "NO_PROXY": "127.0.0.1",
    }.items():
        os.environ.setdefault(name, value)

    import boto3
    from botocore.config import Config

    from tfpilot_core.models import RequestQuery
    from tfpilot_store_s3.store import S3Store
    from tfpilot_store_s3.testing import free_port

    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("moto server did not start")
        endpoint = f"http://127.0.0.1:{port}"
        bucket = "tfpilot-bench"
        client = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=endpoint,
            config=Config(max_pool_connections=16, retries={"mode": "standard"}),
        )
        client.create_bucket(Bucket=bucket)
        settings: dict[str, Any] = {
            "bucket": bucket,
            "prefix": PREFIX,
            "region": REGION,
            "endpoint_url": endpoint,
        }
        parallel = S3Store(**settings, workers=16)
        sequential = S3Store(**settings, workers=1)
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, moto server in a child")
        if args.counts:
            _count_model(parallel, args.small if args.small != 2000 else 1000, args.large)
            return

        seeded = _seed(parallel, 0, args.small)
        print(f"seeded {args.small} requests through the store in {seeded:.1f} s")
        expected = _plain(client, bucket, 16)
        assert _through_store(parallel) == expected, "the store and the plain loop disagree"

        print(f"\n1. list + get {args.small} requests ({args.rounds} alternating rounds, medians)")
        for label, store, workers in (
            ("sequential", sequential, 1),
            ("16 parallel GETs", parallel, 16),
        ):
            store_times, plain_times = _alternate(
                args.rounds,
                functools.partial(_through_store, store),
                functools.partial(_plain, client, bucket, workers),
            )
            s, p = _median(store_times), _median(plain_times)
            print(
                f"   {label:17s} store {s:6.2f} s   plain boto3 {p:6.2f} s   ratio {s / p:.2f}"
                f"   (store min {min(store_times):.2f}, plain min {min(plain_times):.2f})"
            )

        seeded = _seed(parallel, args.small, args.large)
        print(f"\nseeded {args.large - args.small} more ({args.large} in all) in {seeded:.1f} s")
        print(f"2. list {args.large} requests: with the index vs without (LIST + GET everything)")
        for label, query in (
            ("first page (100)", RequestQuery(limit=100)),
            ("prod+applied (100)", RequestQuery(limit=100, environment="prod", status="applied")),
        ):
            calls: dict[str, int] = {}

            def count(model: Any, calls: dict[str, int] = calls, **_: Any) -> None:
                calls[model.name] = calls.get(model.name, 0) + 1

            parallel.client.meta.events.register("before-call.s3", count)
            indexed: list[float] = []
            for _ in range(args.rounds):
                began = time.perf_counter()
                page = parallel.list_requests(query)
                indexed.append(time.perf_counter() - began)
            parallel.client.meta.events.unregister("before-call.s3", count)
            per_call = {k: v // args.rounds for k, v in calls.items()}

            from tfpilot_core.lifecycle import derive_status

            began = time.perf_counter()
            everything = parallel.scan_requests()
            matching = [
                r
                for r in everything
                if (query.environment is None or r.placement.environment == query.environment)
                and (query.status is None or derive_status(r).value == query.status)
            ][: query.limit]
            scanned = time.perf_counter() - began
            assert [r.id for r in matching] == [r.id for r in page.items], label
            print(
                f"   {label:19s} index {_median(indexed):6.3f} s {per_call}"
                f"   without {scanned:6.2f} s ({len(everything)} GETs)"
                f"   x{scanned / _median(indexed):.0f}"
            )
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()


if __name__ == "__main__":
    main()
