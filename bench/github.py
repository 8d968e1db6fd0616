"""What the GitHub runner costs: REST calls per lifecycle step, and a webhook next to its write.

1. **Calls per step.** One request through its whole GitHub life against the local stand-in
   (``tfpilot_runner_github.testing.GitHubStandIn``: real PyGithub, real HTTP): plan dispatch
   (request file, branch, PR, dispatch, comment), the plan job (comment, check run), the
   approving review, apply dispatch, the apply job, the destroy plan (cleanup PR), its approval,
   destroy dispatch and job. The jobs run in-process with the local runner and the sandbox (real
   Terraform). Prints the REST calls of each step by method and endpoint.
2. **A webhook delivery against the store write it causes.** ``--deliveries`` signed
   ``workflow_run`` deliveries through the FastAPI app (ASGI in-process), each moving one queued
   attempt to ``in_progress``; against the same update made directly (``tfpilot_core.runs.advance``:
   the compare-and-swap write of the request and its event) and the bare delivery-id record
   (``put_record``). Medians and p95 in milliseconds.

Run with (the ``test`` extra of plugins/runner_github installed)::

    .venv/bin/python bench/github.py [--deliveries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

# Run as a script, this file's directory comes first on sys.path and this module would shadow
# PyGithub's package, also named ``github``: take the directory out before anything imports it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.modules.pop("github", None)

SECRET = "bench-secret"
TOKEN = "ghs_bench"


def _platform(home: Path, url: str) -> Any:
    from tfpilot_core.platform import Platform

    config = home / "tfpilot.toml"
    config.write_text(
        '[core]\nrunner = "github"\n'
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "approver"\n'
        '[users.carol]\nrole = "admin"\n'
        "[plugins.local]\ntimeout_seconds = 300\n"
        f'[plugins.github]\nrepository = "acme/infra"\ntoken = "{TOKEN}"\napi_url = "{url}"\n'
        f'webhook_secret = "{SECRET}"\nseconds_between_requests = 0\n'
        "seconds_between_writes = 0\n"
        '[plugins.github.users]\n"bob-gh" = "bob"\n"carol-gh" = "carol"\n'
    )
    return Platform.from_config(environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)})


def _deliver(client: Any, event: str, payload: dict[str, Any]) -> Any:
    from tfpilot_runner_github.webhook import signature

    body = json.dumps(payload).encode()
    return client.post(
        "/github",
        content=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature(SECRET, body),
        },
    )


def calls_per_step(home: Path) -> list[tuple[str, Counter[str]]]:
    """Run one request through its GitHub life; the stand-in's calls of each step."""
    from fastapi.testclient import TestClient

    from tfpilot_core.models import RunKind
    from tfpilot_core.runs.executor import execute_apply, execute_destroy, execute_plan
    from tfpilot_runner_github.testing import GitHubStandIn
    from tfpilot_runner_github.webhook import create_webhook_app

    standin = GitHubStandIn(token=TOKEN).start()
    try:
        platform = _platform(home, standin.url)
        client = TestClient(create_webhook_app(platform))
        steps: list[tuple[str, Counter[str]]] = []

        def step(name: str, action: Any) -> Any:
            before = len(standin.seen)
            result = action()
            seen = standin.seen[before:]
            steps.append((name, Counter(f"{s.method} {_endpoint(s.path)}" for s in seen)))
            return result

        request = platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="bench",
            inputs={"name": "logs"},
        )
        rid = request.id

        def latest(kind: RunKind) -> str:
            return platform.get(rid).latest(kind).id  # type: ignore[no-any-return]

        def review(pr: int, login: str) -> Any:
            payload = {
                "action": "submitted",
                "pull_request": {"number": pr},
                "review": standin.review(pr, login),
            }
            return _deliver(client, "pull_request_review", payload)

        step("plan (dispatch: file, branch, PR)", lambda: platform.plan("alice", rid))
        step(
            "plan job (comment, check run)",
            lambda: execute_plan(platform, rid, latest(RunKind.PLAN)),
        )
        step("approving review (webhook)", lambda: review(1, "bob-gh"))
        step("apply (dispatch)", lambda: platform.apply("bob", rid))
        step("apply job (comment)", lambda: execute_apply(platform, rid, latest(RunKind.APPLY)))
        merge = {"action": "closed", "pull_request": standin.merge(1)}
        step("merge (webhook)", lambda: _deliver(client, "pull_request", merge))
        step("destroy plan (cleanup PR, dispatch)", lambda: platform.destroy("carol", rid))
        step("destroy plan job", lambda: execute_plan(platform, rid, latest(RunKind.PLAN)))
        cleanup = int(platform.store.get_record("github", rid).value["cleanup_pr"])
        step("approving review of the destroy", lambda: review(cleanup, "bob-gh"))
        step("destroy (dispatch)", lambda: platform.apply("carol", rid))
        step(
            "destroy job (comment)",
            lambda: execute_destroy(platform, rid, latest(RunKind.DESTROY)),
        )
        assert platform.status(platform.get(rid)).value == "destroyed"
        return steps
    finally:
        standin.stop()


def _endpoint(path: str) -> str:
    parts = path.split("/")[4:]  # after /repos/owner/name
    out = []
    for part in parts:
        out.append(":n" if part.isdigit() or len(part) > 30 or part.endswith(".json") else part)
    return "/" + "/".join(out)


def delivery_vs_write(home: Path, count: int) -> dict[str, list[float]]:
    """Time deliveries, direct advances and bare record writes."""
    from fastapi.testclient import TestClient

    from tfpilot_core.models import RunKind, RunStatus
    from tfpilot_core.runs import RunUpdate, advance
    from tfpilot_runner_github.testing import GitHubStandIn
    from tfpilot_runner_github.webhook import create_webhook_app

    standin = GitHubStandIn(token=TOKEN).start()
    try:
        platform = _platform(home, standin.url)
        client = TestClient(create_webhook_app(platform))
        attempts = []
        for i in range(2 * count):
            request = platform.create(
                "alice",
                module="sandbox/bucket",
                environment="dev",
                project="bench",
                inputs={"name": f"b{i}"},
            )
            planned = platform.plan("alice", request.id)
            attempts.append((request.id, planned.latest(RunKind.PLAN), standin.dispatches[-1]))
        times: dict[str, list[float]] = {"delivery": [], "advance": [], "put_record": []}
        # Alternating, so that a store growing or a machine getting busier slows both alike.
        for i in range(count):
            _, _, dispatch = attempts[2 * i]
            run = dict(standin.repo.runs[dispatch["run_id"]], status="in_progress")
            payload = {"action": "in_progress", "workflow_run": run}
            started = time.perf_counter()
            answer = _deliver(client, "workflow_run", payload)
            times["delivery"].append((time.perf_counter() - started) * 1000)
            assert answer.json()["status"] == "processed", answer.text
            rid, attempt, dispatch = attempts[2 * i + 1]
            update = RunUpdate(RunStatus.IN_PROGRESS, external_id=str(dispatch["run_id"]))
            started = time.perf_counter()
            advance(platform, rid, attempt.id, update)
            times["advance"].append((time.perf_counter() - started) * 1000)
        for _ in range(count):
            started = time.perf_counter()
            platform.store.put_record(
                "bench", uuid.uuid4().hex, {"event": "workflow_run"}, expected_version=None
            )
            times["put_record"].append((time.perf_counter() - started) * 1000)
        return times
    finally:
        standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    import structlog

    from tfpilot_core.telemetry import setup_logging

    setup_logging(level="error")
    structlog.get_logger()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lifecycle"
        home.mkdir()
        os.environ["HOME"] = str(home)
        print("REST calls to the stand-in per step (one request, whole life):")
        total = 0
        for name, counts in calls_per_step(home):
            n = sum(counts.values())
            total += n
            detail = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
            print(f"  {name:<40} {n:>3}  {detail}")
        print(f"  {'total':<40} {total:>3}")
        home2 = Path(tmp) / "deliveries"
        home2.mkdir()
        times = delivery_vs_write(home2, args.deliveries)
        print(f"\n{args.deliveries} workflow_run deliveries (each: one queued -> in_progress):")
        for name, values in times.items():
            values.sort()
            p95 = values[int(len(values) * 0.95) - 1]
            print(f"  {name:<12} median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms")


if __name__ == "__main__":
    main()
