"""``tfpilot run ...`` (execute a dispatched attempt inside a job) and ``tfpilot runs sync``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option, list_envelope, table
from tfpilot_core.errors import FieldProblem, ValidationError

_RUNNER_HELP = "The runner that executes Terraform here [default: local]."
_INPUT_HELP = (
    "The dispatch input (JSON: request_id, attempt_id, traceparent, ...) [default: "
    "$TFPILOT_RUN_INPUT]; fills in what is not given on the command line."
)


def _dispatch_input(raw: str | None) -> dict[str, Any]:
    text = raw if raw is not None else os.environ.get("TFPILOT_RUN_INPUT", "")
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError([FieldProblem("--input", "json", str(exc))]) from None
    if not isinstance(data, dict):
        raise ValidationError([FieldProblem("--input", "type", "must be a JSON object")])
    return data


def _ids(
    request_id: str | None, attempt_id: str | None, given: dict[str, Any], *, need_attempt: bool
) -> tuple[str, str | None]:
    request_id = request_id or given.get("request_id")
    attempt_id = attempt_id or given.get("attempt_id")
    problems = []
    if not request_id:
        problems.append(FieldProblem("REQUEST_ID", "required", "give it or --input request_id"))
    if need_attempt and not attempt_id:
        problems.append(FieldProblem("--attempt", "required", "give it or --input attempt_id"))
    if problems:
        raise ValidationError(problems, subject="command line")
    return str(request_id), (str(attempt_id) if attempt_id else None)


def _show(request: Any) -> None:
    from tfpilot_core.cli.requests import show_request

    show_request(request)


def _execute_attempt(
    execute: Any,
    request_id: str | None,
    attempt_id: str | None,
    dispatch_input: str | None,
    **options: Any,
) -> None:
    """Run one dispatched attempt (ids from the options or the dispatch input) in its trace."""
    from tfpilot_core.runs.executor import continued_trace

    given = _dispatch_input(dispatch_input)
    rid, aid = _ids(request_id, attempt_id, given, need_attempt=True)
    assert aid is not None
    platform = app().platform
    with continued_trace(given.get("traceparent")), _attempt_ids(platform, rid, aid, given):
        _show(execute(platform, rid, aid, **options))


def _attempt_ids(platform: Any, rid: str, aid: str, given: dict[str, Any]) -> Any:
    """The dispatcher's ids on this job's events, log lines and spans (its correlation id)."""
    from tfpilot_core.run_logs.correlation import attempt_context

    revision = given.get("revision")
    correlation = given.get("correlation_id")
    if not isinstance(revision, int) or not correlation:
        from tfpilot_core.runs import find_attempt

        try:  # started by hand with --attempt only: the attempt knows its ids
            attempt = find_attempt(platform.get(rid), aid)
        except Exception:  # the executor reports a missing request or attempt itself
            attempt = None
        if attempt is not None:
            revision = attempt.revision if not isinstance(revision, int) else revision
            correlation = correlation or attempt.details.get("correlation_id")
    return attempt_context(
        rid, revision if isinstance(revision, int) else 0, aid, str(correlation or "") or None
    )


def _common(func: Any) -> Any:
    func = click.option("--input", "dispatch_input", metavar="JSON", help=_INPUT_HELP)(func)
    func = click.option("--runner", "runner_name", default="local", help=_RUNNER_HELP)(func)
    func = click.option("--attempt", "attempt_id", metavar="ID", help="The attempt to run.")(func)
    func = click.argument("request_id", required=False)(func)
    return json_option(func)


@click.group("run")
def run_group() -> None:
    """Execute a dispatched run here (inside a job) and record its result.

    \b
    Examples:
      tfpilot run plan --input "$TFPILOT_RUN_INPUT" --plan-out out/tfplan
      tfpilot run drift --shard 0/4
    """


@run_group.command("plan")
@_common
@click.option(
    "--plan-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the saved plan here (the job uploads it as an artifact).",
)
def run_plan(
    request_id: str | None,
    attempt_id: str | None,
    runner_name: str,
    dispatch_input: str | None,
    plan_out: Path | None,
) -> None:
    """Run a dispatched plan attempt with the local runner; record the plan and its digest.

    \b
    Example:
      tfpilot --json run plan --plan-out out/tfplan > out/request.json
    """
    from tfpilot_core.runs.executor import execute_plan

    _execute_attempt(
        execute_plan,
        request_id,
        attempt_id,
        dispatch_input,
        runner_name=runner_name,
        plan_out=plan_out,
    )


@run_group.command("apply")
@_common
@click.option(
    "--plan-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The plan artifact of the plan job (its sha256 must be the approved digest).",
)
def run_apply(
    request_id: str | None,
    attempt_id: str | None,
    runner_name: str,
    dispatch_input: str | None,
    plan_file: Path | None,
) -> None:
    """Apply the approved plan for a dispatched apply attempt (digest-bound).

    \b
    Example:
      tfpilot run apply --plan-file out/tfplan     # ids from $TFPILOT_RUN_INPUT
    """
    from tfpilot_core.runs.executor import execute_apply

    _execute_attempt(
        execute_apply,
        request_id,
        attempt_id,
        dispatch_input,
        runner_name=runner_name,
        plan_file=plan_file,
    )


@run_group.command("destroy")
@_common
@click.option(
    "--plan-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The destroy plan artifact of the plan job (its sha256 must be the approved digest).",
)
def run_destroy(
    request_id: str | None,
    attempt_id: str | None,
    runner_name: str,
    dispatch_input: str | None,
    plan_file: Path | None,
) -> None:
    """Run a dispatched destroy attempt (the approved destroy plan); archive the final state.

    \b
    Example:
      tfpilot run destroy --plan-file out/tfplan   # ids from $TFPILOT_RUN_INPUT
    """
    from tfpilot_core.runs.executor import execute_destroy

    _execute_attempt(
        execute_destroy,
        request_id,
        attempt_id,
        dispatch_input,
        runner_name=runner_name,
        plan_file=plan_file,
    )


@run_group.command("drift")
@_common
@click.option("--shard", metavar="I/N", help="Check every applied request of shard I of N.")
@click.option(
    "--drift-exit-code",
    type=click.IntRange(0, 255),
    default=11,
    show_default=True,
    envvar="TFPILOT_DRIFT_EXIT_CODE",
    help="Exit code when drift is found ($TFPILOT_DRIFT_EXIT_CODE; 0: drift is not a failure).",
)
def run_drift(
    request_id: str | None,
    attempt_id: str | None,
    runner_name: str,
    dispatch_input: str | None,
    shard: str | None,
    drift_exit_code: int,
) -> None:
    """Check one request, or a shard of the applied requests, for drift here.

    Exits 11 (or --drift-exit-code) when drift is found, 10 when a check failed.

    \b
    Examples:
      tfpilot run drift req_prod_bucket_k3x9pq
      TFPILOT_DRIFT_EXIT_CODE=0 tfpilot run drift --shard 0/4   # report, do not fail the job
    """
    from tfpilot_core.errors import ExitCode
    from tfpilot_core.runs.executor import (
        applied_requests,
        continued_trace,
        execute_drift,
        shard_of,
    )

    state = app()
    platform = state.platform
    given = _dispatch_input(dispatch_input)
    if shard is None:
        rid, _ = _ids(request_id, attempt_id, given, need_attempt=False)
        with continued_trace(given.get("traceparent")):
            checked = execute_drift(platform, state.whoami(), rid, runner_name=runner_name)
        _show(checked)
        if checked.drift is not None and checked.drift.result.value == "drifted":
            raise click.exceptions.Exit(drift_exit_code)
        return
    index, sep, count = shard.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise ValidationError(
            [FieldProblem("--shard", "format", f"{shard!r}: use I/N, 0 <= I < N")]
        )
    from tfpilot_core.query.rows import applied_shard

    rows = []
    failed = drifted = 0
    # The shard's members only, from the store's index where it has one (docs/store.md).
    members = applied_shard(platform, int(index), int(count))
    if members is None:
        members = [
            r for r in applied_requests(platform) if shard_of(r.id, int(count)) == int(index)
        ]
    for request in members:
        try:
            checked = execute_drift(platform, state.whoami(), request.id, runner_name=runner_name)
            result = checked.drift.result.value if checked.drift else "unknown"
        except Exception as exc:  # one request's failure must not stop the shard
            failed += 1
            result = f"error: {exc}"
        drifted += result == "drifted"
        rows.append({"request": request.id, "result": result})
    emit(
        list_envelope(rows, drifted=drifted, failed=failed),
        lambda: table(["request", "drift"], [[r["request"], r["result"]] for r in rows]),
    )
    # Drift found is what the scheduled job exists to report; a failed check is a tool failure.
    if drifted and drift_exit_code:
        raise click.exceptions.Exit(drift_exit_code)
    if failed:
        raise click.exceptions.Exit(ExitCode.EXTERNAL)


@click.group("runs")
def runs_group() -> None:
    """Dispatched runs: poll their status, plan the drift fan-out.

    \b
    Examples:
      tfpilot runs sync
      tfpilot runs cancel req_dev_bucket_k3x9pq
      tfpilot runs shards --per-shard 50
    """


@runs_group.command("cancel")
@click.argument("request_id")
@click.option(
    "--attempt",
    "attempt_id",
    default=None,
    metavar="ID",
    help="The queued run attempt to cancel [default: the request's queued run].",
)
@json_option
def runs_cancel(request_id: str, attempt_id: str | None) -> None:
    """Cancel a queued run of a request (dispatched, not started yet).

    Whoever started the run, or an admin, may cancel it; the request goes back to where it was
    before the run was queued, and the runner cancels the run where it waits if it can (GitHub
    Actions: the workflow run). A run already running cannot be cancelled (exit 8).

    \b
    Example:
      tfpilot runs cancel req_dev_bucket_k3x9pq
    """
    from tfpilot_core.cli.requests import show_request

    state = app()
    show_request(state.platform.cancel(state.whoami(), request_id, attempt_id))


@runs_group.command("sync")
@json_option
def runs_sync() -> None:
    """Ask the dispatching runner about every unfinished run and record the answers.

    \b
    Example:
      tfpilot --json runs sync | jq '.items[] | select(.result != "running")'
    """
    from tfpilot_core.runs.executor import sync

    rows = sync(app().platform)
    emit(
        list_envelope(rows),
        lambda: table(
            ["request", "attempt", "result"],
            [[r["request"], r["attempt"], r["result"]] for r in rows],
        ),
    )


@runs_group.command("shards")
@click.option(
    "--per-shard",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Applied requests per shard (one job each).",
)
@click.option(
    "--max-shards",
    default=200,
    show_default=True,
    type=click.IntRange(1, 256),
    help="At most this many shards (GitHub's matrix limit is 256).",
)
@json_option
def runs_shards(per_shard: int, max_shards: int) -> None:
    """The drift matrix: shard labels I/N covering every applied request (for a job matrix).

    Always one line of JSON (written to $GITHUB_OUTPUT by the workflow).

    \b
    Example:
      echo "matrix=$(tfpilot runs shards)" >> "$GITHUB_OUTPUT"
    """
    from tfpilot_core.query.rows import applied_count
    from tfpilot_core.runs.executor import applied_requests, shard_count

    # Counted from the store's index where it has one: no document read.
    total = applied_count(app().platform)
    if total is None:
        total = len(applied_requests(app().platform))
    count = shard_count(total, per_shard=per_shard, max_shards=max_shards)
    data = {"applied": total, "shards": [f"{i}/{count}" for i in range(count)]}
    # A matrix needs one line of JSON (written to $GITHUB_OUTPUT by the workflow).
    click.echo(json.dumps(data, separators=(",", ":")))
