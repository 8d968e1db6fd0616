"""``tfpilot metrics``, ``tfpilot logs`` and ``tfpilot trace``: observing what tfpilot did."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option
from tfpilot_core.cli.completion import complete_environment, complete_request_id


def _visible(state: Any) -> Any:
    from tfpilot_core.rbac import Action

    actor = state.whoami()
    access = state.platform.access

    def visible(project: str, environment: str) -> bool:
        return bool(access.may(actor, Action.READ, project=project, environment=environment))

    return visible


@click.command("metrics")
@click.option("--since", default="7d", show_default=True, help="Window: 30m, 12h, 7d, 2w.")
@click.option("--by", type=click.Choice(["module", "env", "project"]), help="Break down by.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "openmetrics"]),
    default=None,
    help="Output format [default: text; json with --json].",
)
@json_option
def metrics_command(since: str, by: str | None, fmt: str | None) -> None:
    """Metrics from the event stream: runs, durations (p50/p95/p99), drift, policy, cost.

    \b
    Examples:
      tfpilot metrics --since 30d --by env
      tfpilot metrics --format openmetrics > tfpilot.prom
    """
    from tfpilot_core.metrics import metrics, parse_since
    from tfpilot_core.metrics.formats import openmetrics, text

    state = app()
    report = metrics(state.platform.store, since=parse_since(since), by=by, visible=_visible(state))
    if fmt == "openmetrics":
        click.echo(openmetrics(report), nl=False)
    elif fmt == "json" or state.json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(text(report))


class _LogsGroup(click.Group):
    """``logs REQ`` shows a request's logs; ``logs search QUERY`` searches them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A first argument that is not a sub-command is a request id: `logs REQ [--attempt N]`.
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("logs", cls=_LogsGroup)
def logs_group() -> None:
    """Captured Terraform output of a request's runs: show, follow, search.

    \b
    Examples:
      tfpilot logs req_dev_bucket_k3x9pq --follow
      tfpilot logs search "Error acquiring the state lock" --since 7d
    """


def _attempts(request: Any, number: int | None) -> list[Any]:
    from tfpilot_core.models import RunKind

    attempts = sorted(
        (a for kind in RunKind for a in request.attempts(kind)), key=lambda a: a.created_at
    )
    if number is not None:
        attempts = [a for i, a in enumerate(attempts, 1) if i == number]
        if not attempts:
            from tfpilot_core.errors import NotFoundError

            raise NotFoundError(f"request {request.id} has no attempt {number}")
    return attempts


@logs_group.command("show")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option("--attempt", "number", type=int, help="Only attempt N (1 = the first run).")
@click.option("--follow", is_flag=True, help="Wait for a running attempt and print its log.")
@json_option
def logs_show_command(request_id: str, number: int | None, follow: bool) -> None:
    """Show the captured Terraform output of a request's attempts, oldest first.

    With --json: one JSON object per attempt and line (JSON Lines, so --follow can stream).

    \b
    Examples:
      tfpilot logs show req_dev_bucket_k3x9pq --attempt 2
      tfpilot logs req_dev_bucket_k3x9pq --follow
    """
    from tfpilot_core.errors import NotFoundError
    from tfpilot_core.models import RunStatus
    from tfpilot_core.run_logs import read

    state = app()
    actor = state.whoami()
    request = state.platform.read(actor, request_id)
    shown: set[str] = set()
    while True:
        items = []
        for i, attempt in enumerate(_attempts(request, number), 1):
            if attempt.id in shown:
                continue
            try:
                text = read(state.platform.store, request.id, attempt.id)
            except NotFoundError:
                if attempt.status is not RunStatus.COMPLETED:
                    continue  # still running: its log is stored when it ends
                text = "(no log captured for this attempt)"
            shown.add(attempt.id)
            items.append(
                {
                    "attempt": attempt.id,
                    "number": number or i,
                    "kind": attempt.kind.value,
                    "conclusion": attempt.conclusion.value if attempt.conclusion else None,
                    "log": text,
                }
            )
        if state.json:
            for item in items:
                click.echo(json.dumps(item))
        else:
            for item in items:
                click.secho(
                    f"=== {item['attempt']} ({item['kind']}, {item['conclusion'] or 'running'})",
                    bold=True,
                )
                click.echo(item["log"])
        running = [a for a in _attempts(request, number) if a.status is not RunStatus.COMPLETED]
        if not follow or not running:
            return
        time.sleep(1.0)
        request = state.platform.read(actor, request_id)


@logs_group.command("search")
@click.argument("query")
@click.option("--since", help="Only the last 30m, 12h, 7d, ...")
@click.option(
    "--env", "environment", shell_complete=complete_environment, help="Only this environment."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="At most this many matches.",
)
@json_option
def logs_search_command(query: str, since: str | None, environment: str | None, limit: int) -> None:
    """Search captured logs and events (only what you may read).

    \b
    Example:
      tfpilot logs search "AccessDenied" --env prod --since 7d
    """
    from tfpilot_core.metrics import parse_since
    from tfpilot_core.models import utcnow
    from tfpilot_core.run_logs.search import search

    state = app()
    start = utcnow() - parse_since(since) if since else None
    result = search(
        state.platform.store,
        query,
        readable=_visible(state),
        since=start,
        environment=environment,
        limit=limit,
    )

    def render() -> None:
        if not result["hits"]:
            click.echo("no matches")
        for hit in result["hits"]:
            where = f"{hit['request_id']} {hit['attempt'] or ''}".strip()
            click.echo(f"{hit['at'][:19]}  {hit['source']:<5} {where}: {hit['excerpt']}")
        if result["truncated"]:
            click.echo("(more matches: narrow the query or raise --limit)")

    emit(result, render)


@click.command("trace")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def trace_command(request_id: str) -> None:
    """The trace ids of a request's attempts and events (and a link to your tracing UI).

    \b
    Example:
      TFPILOT_TRACE_URL='http://jaeger:16686/trace/{trace_id}' tfpilot trace req_dev_bucket_k3x9pq
    """
    state = app()
    actor = state.whoami()
    request = state.platform.read(actor, request_id)
    events = state.platform.timeline(actor, request_id)
    template = os.environ.get("TFPILOT_TRACE_URL", "")
    rows = []
    for attempt in _attempts(request, None):
        trace_id = attempt.details.get("trace_id")
        rows.append(
            {
                "attempt": attempt.id,
                "kind": attempt.kind.value,
                "revision": attempt.revision,
                "trace_id": trace_id,
                "correlation_id": attempt.details.get("correlation_id") or trace_id,
                # The workflow run that executed it (a dispatching runner), when known.
                "run_id": attempt.external_id,
                "run_url": attempt.url,
                "traceparent": f"00-{trace_id}-{attempt.details.get('span_id', '0' * 16)}-01"
                if trace_id
                else None,
                "link": template.replace("{trace_id}", trace_id) if template and trace_id else None,
            }
        )
    correlations = sorted({e.correlation_id for e in events if e.correlation_id})
    data = {"request_id": request.id, "attempts": rows, "event_correlation_ids": correlations}

    def render() -> None:
        for row in rows:
            line = f"{row['attempt']:<24} rev {row['revision']}  trace {row['trace_id'] or '-'}"
            if row["correlation_id"] and row["correlation_id"] != row["trace_id"]:
                line += f"  correlation {row['correlation_id']}"
            line += f"  {row['link']}" if row["link"] else ""
            line += f"  run {row['run_url']}" if row["run_url"] else ""
            click.echo(line)
        click.echo(f"event correlation ids: {', '.join(correlations) or '-'}")
        if not template:
            click.echo("(set TFPILOT_TRACE_URL, e.g. http://jaeger:16686/trace/{trace_id})")

    emit(data, render)
