"""A child process for the crash test: writes to a SQLite store as fast as it can, forever.

Run as ``python crash_writer.py <database> <run number>``; it prints ``ready`` once it is writing
and is then killed with SIGKILL by the test at a random moment. Its writes keep an invariant that
a half-applied write would break: a request's ``inputs["counter"]`` is always ``version - 1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfpilot_core.models import Event, Request
from tfpilot_core.stores.cas import update_request
from tfpilot_core.stores.sqlite import SQLiteStore
from tfpilot_core.testing.store_conformance import make_request


def _bump(request: Request) -> Request:
    request.inputs["counter"] += 1
    # Grow the document so that writes span several pages now and then.
    request.inputs["padding"] = "x" * (request.inputs["counter"] * 97 % 9000)
    return request


def main() -> None:
    store = SQLiteStore(Path(sys.argv[1]))
    run = int(sys.argv[2])
    record = None
    for i in range(1_000_000):
        request_id = f"req_run{run}_{i}"
        store.create_request(make_request(request_id, inputs={"counter": 0}))
        for step in range(3):
            update_request(store, request_id, _bump)
            store.append_event(Event(request_id=request_id, type="step", data={"step": step}))
        store.put_artifact(request_id, "plan.bin", (request_id * 500).encode())
        record = store.put_record(
            "writer",
            f"run{run}",
            {"last": request_id},
            expected_version=None if record is None else record.version,
        )
        if i == 2:
            print("ready", flush=True)


if __name__ == "__main__":
    main()
