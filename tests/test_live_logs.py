"""Live output of runs in progress (tfpilot_core.run_logs.live): lines follow the attempt bound on
the log context, also from the executor's reader threads."""

from __future__ import annotations

import contextvars
import threading

from tfpilot_core import log
from tfpilot_core.run_logs import live


def test_lines_are_kept_per_attempt_from_any_thread_of_the_run() -> None:
    live.follow()
    live.follow()  # idempotent
    logger = log.get_logger("tfpilot.terraform")
    with log.bound(attempt_id="plan-1-live0001", request_id="req_dev_x"):
        logger.info("terraform_output", line="Plan: 1 to add", stream="stdout")
        # The executor's readers run in a copy of the caller's context.
        reader = threading.Thread(
            target=contextvars.copy_context().run,
            args=(logger.info, "terraform_output"),
            kwargs={"line": "from a reader thread", "stream": "stdout"},
        )
        reader.start()
        reader.join()
    with log.bound(attempt_id="plan-1-live0002"):
        logger.info("terraform_output", line="another run", stream="stdout")
        logger.info("terraform_started", args=["plan"])  # not an output line
    assert live.text("plan-1-live0001") == "Plan: 1 to add\nfrom a reader thread"
    assert live.text("plan-1-live0002") == "another run"
    assert live.text("plan-1-unknown") is None


def test_at_most_max_attempts_are_kept() -> None:
    live.follow()
    logger = log.get_logger("tfpilot.terraform")
    for i in range(live.MAX_ATTEMPTS + 3):
        with log.bound(attempt_id=f"plan-1-many{i:04d}"):
            logger.info("terraform_output", line=f"line {i}", stream="stdout")
    assert live.text("plan-1-many0000") is None
    assert live.text(f"plan-1-many{live.MAX_ATTEMPTS + 2:04d}") == f"line {live.MAX_ATTEMPTS + 2}"


class _Artifacts:
    """An artifact store that records each write (and can fail on purpose)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.writes: list[tuple[str, str, str]] = []
        self.fail = fail

    def put_artifact(self, request_id: str, name: str, data: bytes) -> str:
        if self.fail:
            raise OSError("store unreachable")
        self.writes.append((request_id, name, data.decode()))
        return "digest"

    def get_artifact(self, request_id: str, name: str) -> bytes:
        for rid, stored, body in reversed(self.writes):
            if (rid, stored) == (request_id, name):
                return body.encode()
        from tfpilot_core.errors import NotFoundError

        raise NotFoundError(f"no artifact {name}")


def test_a_job_ships_its_lines_to_the_store_while_it_runs_and_once_more_at_the_end() -> None:
    store = _Artifacts()
    logger = log.get_logger("tfpilot.terraform")
    attempt = "plan-1-ship0001"
    with log.bound(attempt_id=attempt), live.shipping(store, "req_dev_ship", attempt, every=0.01):  # type: ignore[arg-type]
        logger.info("terraform_output", line="Initializing...", stream="stdout")
        deadline = threading.Event()
        for _ in range(200):  # the shipper runs on its own thread: wait for its first copy
            if store.writes:
                break
            deadline.wait(0.01)
        assert store.writes, "nothing was shipped while the run was going on"
        first = len(store.writes)
        deadline.wait(0.05)
        assert len(store.writes) == first, "unchanged lines were written again"
        logger.info("terraform_output", line="Plan: 1 to add", stream="stdout")
    assert store.writes[-1] == (
        "req_dev_ship",
        "plan-1-ship0001.live.log",
        "Initializing...\nPlan: 1 to add",
    )
    # A viewer in another process (no lines of the attempt there) reads the shipped copy.
    store.put_artifact("req_dev_ship", live.shipped_name("plan-1-elsewhere"), b"from the job")
    assert live.current(store, "req_dev_ship", "plan-1-elsewhere") == "from the job"  # type: ignore[arg-type]
    assert live.current(store, "req_dev_ship", "plan-1-other000") is None  # type: ignore[arg-type]


def test_a_store_that_fails_never_fails_the_run() -> None:
    logger = log.get_logger("tfpilot.terraform")
    with (
        log.bound(attempt_id="plan-1-ship0002"),
        live.shipping(
            _Artifacts(fail=True),
            "req_dev_ship",
            "plan-1-ship0002",
            every=0.01,  # type: ignore[arg-type]
        ),
    ):
        logger.info("terraform_output", line="still running", stream="stdout")
    assert live.text("plan-1-ship0002") == "still running"
