"""Executing a dispatched attempt inside the job (``tfpilot run plan|apply|destroy|drift``).

The job runs where the dispatching runner sent it (an Actions job), against the same shared store
as the dispatcher. It trusts nothing from the dispatch input but the ids: what to plan, which
plan to apply and who approved it are read from the store, and the apply refuses a plan file
whose sha256 is not the approved digest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract

from tfpilot_core.errors import ConflictError
from tfpilot_core.lifecycle import applying, drift, planning
from tfpilot_core.lifecycle.attempts import (
    RunUpdate,
    active_attempts,
    advance,
    find_attempt,
    without_attempt,
)
from tfpilot_core.lifecycle.kernel import Kernel, SupportsKernel, sha256
from tfpilot_core.log import get_logger
from tfpilot_core.models import Request, RequestQuery, RunAttempt, RunKind, RunStatus
from tfpilot_core.run_logs import live
from tfpilot_core.stores.rows import shard_of as shard_of  # re-exported: the drift shard rule

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner

log = get_logger("tfpilot.runs")
tracer = trace.get_tracer("tfpilot")

#: The runner that executes inside a job unless ``--runner`` names another.
DEFAULT_EXECUTOR = "local"


def executing_runner(platform: SupportsKernel, name: str = DEFAULT_EXECUTOR) -> Runner:
    """The runner that runs Terraform here (traced, failing closed), not the dispatcher.

    Wrapped like every runner of the lifecycle (``Kernel.runner``): each run's output is stored
    as the attempt's log, here as for a local run.
    """
    return platform.kernel.runner(name)


@contextmanager
def continued_trace(traceparent: str | None) -> Iterator[None]:
    """Continue the dispatcher's trace (W3C ``traceparent``) for the duration of the block."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)


def _job_identity() -> dict[str, str]:
    """Where this job runs, from the environment Actions sets (empty elsewhere)."""
    run_id = os.environ.get("GITHUB_RUN_ID")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo = os.environ.get("GITHUB_REPOSITORY")
    found: dict[str, str] = {}
    if run_id:
        found["external_id"] = run_id
        if repo:
            found["url"] = f"{server}/{repo}/actions/runs/{run_id}"
    return found


def _claim(kernel: Kernel, request: Request, attempt_id: str, kind: RunKind) -> RunAttempt:
    """Check the attempt is one of ``kind`` still to run, and mark it in progress."""
    attempt = find_attempt(request, attempt_id)
    if attempt.kind is not kind:
        raise ConflictError(
            f"attempt {attempt_id} of {request.id} is a {attempt.kind.value} run, not {kind.value}"
        )
    if attempt.status is RunStatus.COMPLETED:
        raise ConflictError(
            f"attempt {attempt_id} of {request.id} is already completed "
            f"({attempt.conclusion.value if attempt.conclusion else 'unknown'}); "
            "dispatch a new run"
        )
    if attempt.revision != request.revision:
        raise ConflictError(
            f"attempt {attempt_id} was made for revision {attempt.revision} but {request.id} is "
            f"at revision {request.revision}: plan again"
        )
    identity = _job_identity()
    advance(
        kernel,
        request.id,
        attempt_id,
        RunUpdate(
            status=RunStatus.IN_PROGRESS,
            source="job",
            external_id=identity.get("external_id"),
            url=identity.get("url"),
        ),
    )
    claimed = find_attempt(kernel.get(request.id), attempt_id)
    kernel.bind_attempt(request.id, claimed)
    return claimed


def execute_plan(
    platform: SupportsKernel,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_out: Path | None = None,
) -> Request:
    """Run a dispatched plan attempt here and record its result.

    The same checks as a local plan (:func:`~tfpilot_core.lifecycle.planning.plan_checks`, on
    the request as it was before this attempt was queued) and the same steps
    (:func:`~tfpilot_core.lifecycle.planning.run_plan`).
    """
    kernel = platform.kernel
    request = kernel.get(request_id)
    runner = executing_runner(kernel, runner_name)
    spec = kernel.catalog.get(request.placement.module)
    attempt = find_attempt(request, attempt_id)
    with (
        kernel.locked(request_id, attempt.actor, f"plan {attempt_id}"),
        tracer.start_as_current_span(
            "tfpilot.run.plan",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ),
    ):
        request = kernel.get(request_id)
        destroy = bool(find_attempt(request, attempt_id).details.get("destroy"))
        planning.plan_checks(
            kernel, attempt.actor, without_attempt(request, attempt_id), destroy=destroy
        )
        attempt = _claim(kernel, request, attempt_id, RunKind.PLAN)
        kept: list[bytes] = []
        with live.shipping(kernel.store, request_id, attempt.id):
            concluded = planning.run_plan(
                kernel, kernel.get(request_id), attempt, spec, runner, keep=kept
            )
        if plan_out is not None and kept:
            _write_private(plan_out, kept[0])
        return concluded


def execute_apply(
    platform: SupportsKernel,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_file: Path | None = None,
) -> Request:
    """Apply exactly the approved plan for a dispatched apply (or destroy) attempt.

    The one apply gate (:func:`~tfpilot_core.lifecycle.applying.apply_gate`, on the request as
    it was before this attempt was queued) decides, exactly as for ``tfpilot apply``; then the
    attempt must be of the plan's kind and dispatched for its digest, and ``plan_file`` (the
    artifact the plan job uploaded; without it the store's copy is used) must have the approved
    digest: an approval made on one machine binds the apply on another. Applying an approved
    destroy plan is a destroy attempt (``tfpilot run destroy``).
    """
    kernel = platform.kernel
    request = kernel.get(request_id)
    attempt = find_attempt(request, attempt_id)
    if attempt.kind not in (RunKind.APPLY, RunKind.DESTROY):
        raise ConflictError(
            f"attempt {attempt_id} of {request_id} is a {attempt.kind.value} run, not apply"
        )
    kind = attempt.kind
    runner = executing_runner(kernel, runner_name)
    with (
        kernel.locked(request_id, attempt.actor, f"{kind.value} {attempt_id}"),
        tracer.start_as_current_span(
            f"tfpilot.run.{kind.value}",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ),
    ):
        request = kernel.get(request_id)
        # A refusal is the attempt's conclusion, recorded like any failed run.
        with kernel.recording_failure(request, attempt, attempt.actor, f"{kind.value}_failed"):
            plan, _approval, spec, data = applying.apply_gate(
                kernel, attempt.actor, without_attempt(request, attempt_id)
            )
            if bool(plan.details.get("destroy")) != (kind is RunKind.DESTROY):
                raise ConflictError(
                    f"attempt {attempt_id} is a {kind.value} run but the current plan of "
                    f"{request_id} is "
                    f"{'a destroy' if plan.details.get('destroy') else 'an apply'} plan: refusing"
                )
            if attempt.plan_digest != plan.plan_digest:
                raise ConflictError(
                    f"{kind.value} attempt {attempt_id} was dispatched for plan "
                    f"{(attempt.plan_digest or '?')[:12]}, but the approved plan is "
                    f"{(plan.plan_digest or '?')[:12]}: refusing"
                )
            if plan_file is not None:
                data = plan_file.read_bytes()
                if sha256(data) != plan.plan_digest:
                    raise ConflictError(
                        f"the plan file of {request_id} does not match its approved digest "
                        f"({(plan.plan_digest or '?')[:12]}): refusing to apply a tampered plan"
                    )
        attempt = _claim(kernel, request, attempt_id, kind)
        request = kernel.get(request_id)
        with live.shipping(kernel.store, request_id, attempt.id):
            return applying.run_apply(kernel, request, attempt, plan, spec, data, runner)


def execute_destroy(
    platform: SupportsKernel,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_file: Path | None = None,
) -> Request:
    """Run a dispatched destroy attempt: apply the approved destroy plan, archive the state.

    A destroy attempt dispatched without a destroy plan (a runner's one-step destroy) runs
    ``terraform destroy`` directly, after the same checks as a local one-step destroy.
    """
    kernel = platform.kernel
    request = kernel.get(request_id)
    attempt = find_attempt(request, attempt_id)
    if attempt.plan_digest is not None:
        return execute_apply(
            kernel, request_id, attempt_id, runner_name=runner_name, plan_file=plan_file
        )
    runner = executing_runner(kernel, runner_name)
    with (
        kernel.locked(request_id, attempt.actor, f"destroy {attempt_id}"),
        tracer.start_as_current_span(
            "tfpilot.run.destroy",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ),
    ):
        request = kernel.get(request_id)
        planning.plan_checks(
            kernel, attempt.actor, without_attempt(request, attempt_id), destroy=True
        )
        attempt = _claim(kernel, request, attempt_id, RunKind.DESTROY)
        with live.shipping(kernel.store, request_id, attempt.id):
            return applying.run_legacy_destroy(kernel, kernel.get(request_id), attempt, runner)


def execute_drift(
    platform: SupportsKernel, actor: str, request_id: str, *, runner_name: str = DEFAULT_EXECUTOR
) -> Request:
    """A drift check of an applied request, run here (the nightly workflow's matrix jobs).

    Terraform runs with the executing runner, not the dispatcher configured in ``[core]
    runner``; the checks and steps are those of every drift check.
    """
    kernel = platform.kernel
    with tracer.start_as_current_span(
        "tfpilot.run.drift", attributes={"tfpilot.request_id": request_id}
    ):
        return drift.check_drift(
            kernel, actor, request_id, runner=executing_runner(kernel, runner_name)
        )


def shard_count(total: int, *, per_shard: int = 50, max_shards: int = 200) -> int:
    """How many matrix jobs the drift workflow fans out to for ``total`` applied requests.

    At most ``max_shards`` (GitHub allows 256 jobs per matrix), at least one.
    """
    return max(1, min(max_shards, -(-total // per_shard)))


def applied_requests(platform: SupportsKernel) -> list[Request]:
    """Every applied request (all pages)."""
    kernel = platform.kernel
    found: list[Request] = []
    cursor: str | None = None
    while True:
        page = kernel.store.list_requests(RequestQuery(status="applied", limit=1000, cursor=cursor))
        found += [r for r in page.items if kernel.status(r).value == "applied"]
        cursor = page.next_cursor
        if cursor is None:
            return found


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by this user only (a plan holds request data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def sync(platform: SupportsKernel, *, runner_name: str | None = None) -> list[dict[str, Any]]:
    """Poll the dispatching runner for every unfinished attempt and record what it says.

    The runner answers through an optional ``run_status(request, attempt) -> RunUpdate | None``.
    Returns one row per attempt looked at: request, attempt, what was recorded or why not.
    """
    kernel = platform.kernel
    runner: Any = kernel.runner() if runner_name is None else executing_runner(kernel, runner_name)
    poll = getattr(runner, "run_status", None)
    rows: list[dict[str, Any]] = []
    for status in ("planning", "applying", "destroying"):
        cursor: str | None = None
        while True:
            page = kernel.store.list_requests(
                RequestQuery(status=status, limit=1000, cursor=cursor)
            )
            for request in page.items:
                for attempt in active_attempts(request):
                    row: dict[str, Any] = {"request": request.id, "attempt": attempt.id}
                    update = poll(request, attempt) if callable(poll) else None
                    if update is None:
                        row["result"] = "unknown"
                    else:
                        stored, reason = advance(kernel, request.id, attempt.id, update)
                        now = find_attempt(stored, attempt.id)
                        row["result"] = reason or f"recorded {now.status.value}"
                        row["status"] = kernel.status(stored).value
                    rows.append(row)
            cursor = page.next_cursor
            if cursor is None:
                break
    return rows
