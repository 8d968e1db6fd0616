"""The loop behind ``tfpilot notify worker``: run some jobs every ``interval`` seconds.

Kept apart from the command so that a test can drive it with a fake clock and stop it; the jobs
themselves are the same calls ``notify deliver`` and ``notify digest`` make.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tfpilot_core.log import get_logger

log = get_logger("tfpilot.worker")

Job = tuple[str, Callable[[], dict[str, int]]]


def run_worker(
    jobs: Sequence[Job],
    *,
    interval: float,
    rounds: int | None = None,
    report: Callable[[int, dict[str, dict[str, int]]], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run every job once per round until ``rounds`` are done or ``stop`` is set (or SIGTERM).

    A job that raises is logged and the loop goes on (the next round retries it): a worker that
    dies on one bad delivery would deliver nothing. Returns how many rounds ran.
    """
    stopping = stop or threading.Event()
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        # A service manager stops the worker with SIGTERM: finish the round, then leave.
        previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    done = 0
    try:
        while not stopping.is_set():
            done += 1
            counts: dict[str, dict[str, int]] = {}
            for name, job in jobs:
                try:
                    counts[name] = job()
                except Exception as exc:  # isolate: the next round tries again
                    log.error("worker_job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
                    counts[name] = {"errors": 1}
            if report is not None:
                report(done, counts)
            if rounds is not None and done >= rounds:
                break
            stopping.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return done
