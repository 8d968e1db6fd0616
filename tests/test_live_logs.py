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
