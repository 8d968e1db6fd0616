"""Many processes on one bucket: no lost update, one winner per create, gapless events.

Children are spawned (not forked) and each builds its own boto3 client from a picklable factory,
as separate machines would; the moto server runs in the test process.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tfpilot_core.errors import AlreadyExistsError
from tfpilot_core.models import Event, Request
from tfpilot_core.stores.cas import update_request
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3.store import S3Store

_TIMEOUT = 900.0


def _increment(request: Request) -> Request:
    request.inputs["counter"] = int(request.inputs.get("counter", 0)) + 1
    return request


def _updater(factory: Callable[[], S3Store], updates: int, barrier: Any, results: Any) -> None:
    try:
        store = factory()
        barrier.wait()
        versions = []
        for _ in range(updates):
            # Attempts are generous: 8 writers on one document conflict most of the time, and what
            # is tested is that no accepted update is lost, not how often a writer loses.
            versions.append(update_request(store, "req_hot", _increment, attempts=100_000).version)
        results.put(("ok", versions))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _creator(factory: Callable[[], S3Store], barrier: Any, results: Any) -> None:
    try:
        store = factory()
        barrier.wait()
        store.create_request(make_request("req_once"))
        results.put(("won", None))
    except AlreadyExistsError:
        results.put(("lost", None))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _appender(factory: Callable[[], S3Store], count: int, barrier: Any, results: Any) -> None:
    try:
        store = factory()
        barrier.wait()
        seqs = [
            store.append_event(Event(request_id="req_log", type="t", data={"i": i})).seq
            for i in range(count)
        ]
        results.put(("ok", seqs))
    except BaseException as exc:
        results.put(("error", repr(exc)))


def _run(target: Callable[..., None], args: Sequence[Any], count: int) -> list[tuple[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count, timeout=120)
    results = ctx.Queue()
    children = [
        ctx.Process(target=target, args=(*args, barrier, results), daemon=True)
        for _ in range(count)
    ]
    for child in children:
        child.start()
    outcomes = []
    try:
        for _ in children:
            kind, detail = results.get(timeout=_TIMEOUT)
            assert kind != "error", f"a child process failed: {detail}"
            outcomes.append((kind, detail))
    except queue.Empty:
        raise AssertionError("a child process reported nothing in time") from None
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    return outcomes


@pytest.mark.slow
def test_8_processes_x_100_updates_lose_nothing(
    make_store: Callable[..., S3Store], store_factory: Callable[[], S3Store]
) -> None:
    store = make_store()
    store.create_request(make_request("req_hot", inputs={"counter": 0}))
    started = time.perf_counter()
    outcomes = _run(_updater, (store_factory, 100), 8)
    elapsed = time.perf_counter() - started
    final = store.get_request("req_hot")
    accepted = sorted(v for _, versions in outcomes for v in versions)
    print(f"\n8 processes x 100 updates of one request: {elapsed:.1f} s")
    # Every accepted write got its own version, and together they are exactly 2..801.
    assert accepted == list(range(2, 802))
    assert final.version == 1 + 800
    assert final.inputs["counter"] == 800


@pytest.mark.slow
def test_8_concurrent_creates_one_winner(
    make_store: Callable[..., S3Store], store_factory: Callable[[], S3Store]
) -> None:
    outcomes = _run(_creator, (store_factory,), 8)
    assert sorted(kind for kind, _ in outcomes) == ["lost"] * 7 + ["won"]
    assert make_store().get_request("req_once").version == 1


@pytest.mark.slow
def test_processes_append_distinct_gapless_events(
    make_store: Callable[..., S3Store], store_factory: Callable[[], S3Store]
) -> None:
    store = make_store()
    store.create_request(make_request("req_log"))
    outcomes = _run(_appender, (store_factory, 25), 4)
    claimed = sorted(seq for _, seqs in outcomes for seq in seqs)
    assert claimed == list(range(1, 101))
    assert [e.seq for e in store.list_events("req_log")] == list(range(1, 101))
