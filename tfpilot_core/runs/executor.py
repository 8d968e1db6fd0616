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

from tfpilot_core.errors import ConflictError, ForbiddenError, NotFoundError
from tfpilot_core.lifecycle import current_approval, current_plan
from tfpilot_core.log import get_logger
from tfpilot_core.models import Conclusion, Request, RunAttempt, RunKind, RunStatus
from tfpilot_core.registrations import Kind
from tfpilot_core.runs.model import RunUpdate, advance, find_attempt

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner
    from tfpilot_core.platform import Platform

log = get_logger("tfpilot.runs")
tracer = trace.get_tracer("tfpilot")

#: The runner that executes inside a job unless ``--runner`` names another.
DEFAULT_EXECUTOR = "local"


def executing_runner(platform: Platform, name: str = DEFAULT_EXECUTOR) -> Runner:
    """The runner that runs Terraform here (traced, failing closed), not the dispatcher."""
    return platform.host._traced(Kind.RUNNER, name)  # type: ignore[no-any-return]


@contextmanager
def continued_trace(traceparent: str | None) -> Iterator[None]:
    """Continue the dispatcher's trace (W3C ``traceparent``) for the duration of the block."""
    if not traceparent:
        yield
        return
    from opentelemetry.propagate import extract

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


def _claim(platform: Platform, request: Request, attempt_id: str, kind: RunKind) -> RunAttempt:
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
        platform,
        request.id,
        attempt_id,
        RunUpdate(
            status=RunStatus.IN_PROGRESS,
            source="job",
            external_id=identity.get("external_id"),
            url=identity.get("url"),
        ),
    )
    return find_attempt(platform.get(request.id), attempt_id)


def execute_plan(
    platform: Platform,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_out: Path | None = None,
) -> Request:
    """Run a dispatched plan attempt here and record its result (as :meth:`Platform.plan`)."""

    request = platform.get(request_id)
    runner = executing_runner(platform, runner_name)
    spec = platform.catalog.get(request.placement.module)
    attempt = find_attempt(request, attempt_id)
    lock = platform._lock(request_id, attempt.actor, f"plan {attempt_id}")
    try:
        with tracer.start_as_current_span(
            "tfpilot.run.plan",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ):
            attempt = _claim(platform, platform.get(request_id), attempt_id, RunKind.PLAN)
            request = platform.get(request_id)
            actor = attempt.actor
            with platform._recording_failure(request, attempt, actor, "plan_failed"):
                if attempt.details.get("destroy"):
                    # A destroy plan (destroy is a reviewed change, like any plan).
                    result = runner.plan(platform._run_spec(request, spec), destroy=True)
                else:
                    result = runner.plan(platform._run_spec(request, spec))
                if not result.success or result.plan_file is None or not result.plan_json:
                    raise platform._failed("plan", request, result)
                plan, digest, findings, cost, summary = platform._after_plan(
                    request, attempt.id, spec, result
                )
                if plan_out is not None:
                    _write_private(plan_out, result.plan_file)

            return platform._conclude_plan(
                request_id, attempt, actor, result, plan, digest, findings, cost, summary
            )
    finally:
        platform._unlock(lock)


def execute_apply(
    platform: Platform,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_file: Path | None = None,
) -> Request:
    """Apply exactly the approved plan for a dispatched apply (or destroy) attempt.

    ``plan_file`` is the artifact the plan job uploaded; without it the store's copy is used.
    Either way its sha256 must be the approved digest, which must be the digest the attempt was
    dispatched for: an approval made on one machine binds the apply on another. Applying an
    approved destroy plan is a destroy attempt (``tfpilot run destroy``).
    """
    from tfpilot_core.platform import _mask_outputs, sha256

    request = platform.get(request_id)
    attempt = find_attempt(request, attempt_id)
    if attempt.kind not in (RunKind.APPLY, RunKind.DESTROY):
        raise ConflictError(
            f"attempt {attempt_id} of {request_id} is a {attempt.kind.value} run, not apply"
        )
    kind = attempt.kind
    runner = executing_runner(platform, runner_name)
    lock = platform._lock(request_id, attempt.actor, f"{kind.value} {attempt_id}")
    try:
        with tracer.start_as_current_span(
            f"tfpilot.run.{kind.value}",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ):
            request = platform.get(request_id)
            plan = current_plan(request)
            approval = current_approval(request)
            env = platform.environment(request.placement.environment)
            if plan is None or plan.plan_digest is None:
                raise ForbiddenError(f"request {request_id} has no current plan to apply")
            if approval is None and (env.auto_apply is False or kind is RunKind.DESTROY):
                raise ForbiddenError(f"request {request_id}: the plan was not approved")
            if bool(plan.details.get("destroy")) != (kind is RunKind.DESTROY):
                raise ConflictError(
                    f"attempt {attempt_id} is a {kind.value} run but the current plan of "
                    f"{request_id} is {'a destroy' if plan.details.get('destroy') else 'an apply'}"
                    " plan: refusing"
                )
            if attempt.plan_digest != plan.plan_digest:
                raise ConflictError(
                    f"{kind.value} attempt {attempt_id} was dispatched for plan "
                    f"{(attempt.plan_digest or '?')[:12]}, but the approved plan is "
                    f"{plan.plan_digest[:12]}: refusing"
                )
            attempt = _claim(platform, request, attempt_id, kind)
            request = platform.get(request_id)
            actor = attempt.actor
            failed_event = f"{kind.value}_failed"
            with platform._recording_failure(request, attempt, actor, failed_event):
                stored = platform.store.get_artifact(request_id, f"{plan.id}.tfplan")
                data = plan_file.read_bytes() if plan_file is not None else stored
                if sha256(data) != plan.plan_digest or sha256(stored) != plan.plan_digest:
                    raise ConflictError(
                        f"the plan file of {request_id} does not match its approved digest "
                        f"({plan.plan_digest[:12]}): refusing to apply a tampered plan"
                    )
                before: bytes | None = None
                if kind is RunKind.DESTROY:
                    try:
                        before = platform.store.get_artifact(request_id, "state.tfstate")
                    except NotFoundError:
                        before = None
                spec = platform.catalog.get(request.placement.module)
                result = runner.apply(
                    platform._run_spec(request, spec), data, rendered_digest=plan.rendered_digest
                )
                if not result.success:
                    raise platform._failed(kind.value, request, result)
                details: dict[str, Any] = {**attempt.details}
                if kind is RunKind.DESTROY:
                    details["archived_state"] = (
                        platform.store.put_artifact(request_id, "final-state.tfstate", before)
                        if before is not None
                        else None
                    )
                else:
                    if result.state is not None:
                        platform.store.put_artifact(request_id, "state.tfstate", result.state)
                    details["outputs"] = _mask_outputs(result)
            request = platform._finish_attempt(
                request_id, attempt, Conclusion.SUCCESS, details=details
            )
            data_out: dict[str, Any] = {"run": attempt.id, "plan_digest": plan.plan_digest}
            if kind is RunKind.DESTROY:
                data_out["archived_state"] = details["archived_state"]
            platform._emit(request, f"{kind.value}_succeeded", actor, data_out)
            return request
    finally:
        platform._unlock(lock)


def execute_destroy(
    platform: Platform,
    request_id: str,
    attempt_id: str,
    *,
    runner_name: str = DEFAULT_EXECUTOR,
    plan_file: Path | None = None,
) -> Request:
    """Run a dispatched destroy attempt: apply the approved destroy plan, archive the state.

    A destroy attempt dispatched without a destroy plan (a runner's one-step destroy) runs
    ``terraform destroy`` directly.
    """
    request = platform.get(request_id)
    attempt = find_attempt(request, attempt_id)
    if attempt.plan_digest is not None:
        return execute_apply(
            platform, request_id, attempt_id, runner_name=runner_name, plan_file=plan_file
        )
    runner = executing_runner(platform, runner_name)
    lock = platform._lock(request_id, attempt.actor, f"destroy {attempt_id}")
    try:
        with tracer.start_as_current_span(
            "tfpilot.run.destroy",
            attributes={"tfpilot.request_id": request_id, "tfpilot.attempt": attempt_id},
        ):
            attempt = _claim(platform, platform.get(request_id), attempt_id, RunKind.DESTROY)
            request = platform.get(request_id)
            actor = attempt.actor
            with platform._recording_failure(request, attempt, actor, "destroy_failed"):
                result = runner.destroy(platform._run_spec(request))
                if not result.success:
                    raise platform._failed("destroy", request, result)
                archived = None
                if result.state is not None:
                    archived = platform.store.put_artifact(
                        request_id, "final-state.tfstate", result.state
                    )
            request = platform._finish_attempt(
                request_id,
                attempt,
                Conclusion.SUCCESS,
                details={**attempt.details, "archived_state": archived},
            )
            platform._emit(
                request, "destroy_succeeded", actor, {"run": attempt.id, "archived_state": archived}
            )
            return request
    finally:
        platform._unlock(lock)


def execute_drift(
    platform: Platform, actor: str, request_id: str, *, runner_name: str = DEFAULT_EXECUTOR
) -> Request:
    """A drift check of an applied request, run here (the nightly workflow's matrix jobs)."""
    executor = executing_runner(platform, runner_name)
    # check_drift asks the platform for its runner: inside a job that is the executing one, not
    # the dispatcher configured in [core] runner.
    original = platform.runner
    platform.runner = lambda: executor  # type: ignore[method-assign]
    try:
        with tracer.start_as_current_span(
            "tfpilot.run.drift", attributes={"tfpilot.request_id": request_id}
        ):
            return platform.check_drift(actor, request_id)
    finally:
        platform.runner = original  # type: ignore[method-assign]


def shard_of(request_id: str, shards: int) -> int:
    """The drift shard of a request: a stable hash, so shards keep their members between runs."""
    import hashlib

    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") % shards


def shard_count(total: int, *, per_shard: int = 50, max_shards: int = 200) -> int:
    """How many matrix jobs the drift workflow fans out to for ``total`` applied requests.

    At most ``max_shards`` (GitHub allows 256 jobs per matrix), at least one.
    """
    return max(1, min(max_shards, -(-total // per_shard)))


def applied_requests(platform: Platform) -> list[Request]:
    """Every applied request (all pages)."""
    from tfpilot_core.models import RequestQuery

    found: list[Request] = []
    cursor: str | None = None
    while True:
        page = platform.store.list_requests(
            RequestQuery(status="applied", limit=1000, cursor=cursor)
        )
        found += [r for r in page.items if platform.status(r).value == "applied"]
        cursor = page.next_cursor
        if cursor is None:
            return found


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by this user only (a plan holds request data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def sync(platform: Platform, *, runner_name: str | None = None) -> list[dict[str, Any]]:
    """Poll the dispatching runner for every unfinished attempt and record what it says.

    The runner answers through an optional ``run_status(request, attempt) -> RunUpdate | None``.
    Returns one row per attempt looked at: request, attempt, what was recorded or why not.
    """
    from tfpilot_core.models import RequestQuery
    from tfpilot_core.runs.model import active_attempts

    runner: Any = (
        platform.runner() if runner_name is None else executing_runner(platform, runner_name)
    )
    poll = getattr(runner, "run_status", None)
    rows: list[dict[str, Any]] = []
    for status in ("planning", "applying", "destroying"):
        cursor: str | None = None
        while True:
            page = platform.store.list_requests(
                RequestQuery(status=status, limit=1000, cursor=cursor)
            )
            for request in page.items:
                for attempt in active_attempts(request):
                    row: dict[str, Any] = {"request": request.id, "attempt": attempt.id}
                    update = poll(request, attempt) if callable(poll) else None
                    if update is None:
                        row["result"] = "unknown"
                    else:
                        stored, reason = advance(platform, request.id, attempt.id, update)
                        now = find_attempt(stored, attempt.id)
                        row["result"] = reason or f"recorded {now.status.value}"
                        row["status"] = platform.status(stored).value
                    rows.append(row)
            cursor = page.next_cursor
            if cursor is None:
                break
    return rows
