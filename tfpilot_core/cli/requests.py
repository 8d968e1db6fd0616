"""Commands on requests: create, list, show, update, plan, approve, apply, destroy, drift,
timeline, audit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfpilot_core.cli.app import app, emit, json_option, list_envelope, table
from tfpilot_core.cli.completion import (
    complete_environment,
    complete_module,
    complete_request_id,
)
from tfpilot_core.cli.progress import verbose_option
from tfpilot_core.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from tfpilot_core.models import Event, Request


def parse_inputs(sets: tuple[str, ...], inputs_file: str | None) -> dict[str, Any]:
    """Inputs from ``--inputs FILE`` (JSON or YAML; ``-`` for stdin), then ``--set k=v`` over them.

    A ``--set`` value is read as JSON when it parses (numbers, booleans, lists, objects) and as a
    string otherwise.
    """
    data: dict[str, Any] = {}
    if inputs_file is not None:
        source = "stdin" if inputs_file == "-" else inputs_file
        try:
            text = sys.stdin.read() if inputs_file == "-" else Path(inputs_file).read_text()
        except OSError as exc:
            raise ValidationError(
                [FieldProblem("--inputs", "file", f"cannot read {source}: {exc.strerror}")]
            ) from None
        from tfpilot_core.limits import load_document

        # Parsed with limits before the depth check on inputs: a deep document or a YAML alias
        # bomb is refused by name (exit 3) instead of a RecursionError or minutes of expansion.
        loaded = load_document(
            text, source=source, fmt="yaml" if source.endswith((".yaml", ".yml")) else "json"
        )
        if not isinstance(loaded, dict):
            raise ValidationError(
                [FieldProblem("--inputs", "type", f"{source} must hold an object")]
            )
        data.update(loaded)
    problems = []
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            problems.append(FieldProblem(f"--set {item}", "format", "use key=value"))
            continue
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    if problems:
        raise ValidationError(problems, subject="command line")
    return data


def _pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or not text:
            raise ValidationError([FieldProblem(option, "format", f"{value!r}: use RULE=TEXT")])
        pairs.append((key, text))
    return pairs


def request_data(request: Request) -> dict[str, Any]:
    """The JSON form of a request, with its derived status."""
    # One public form everywhere: sensitive inputs are write-only and show as "(sensitive)".
    return app().reader.view(request)


def _next_step(request: Request, status: str) -> str | None:
    """The command that usually comes next, for people reading the output."""
    from tfpilot_core.models import RunKind

    plan = request.latest(RunKind.PLAN)
    if status == "plan_ready" and blocking_findings(request):
        # Nobody can approve past a blocking finding: the way on is new inputs.
        return (
            f"tfpilot suggest {request.id}  (or change inputs: tfpilot requests update "
            f"{request.id} --set KEY=VALUE); blocked by policy, it cannot be approved"
        )
    steps = {
        "request_created": f"tfpilot plan {request.id}",
        "plan_ready": f"tfpilot approve {request.id} --plan {(plan.plan_digest or '')[:12]}"
        if plan
        else None,
        "approved": f"tfpilot apply {request.id}"
        + ("  (applies the destroy plan)" if plan and plan.details.get("destroy") else ""),
        "applied": f"tfpilot plan {request.id}  (a new plan reverts the drift)"
        if request.drift is not None and request.drift.result.value == "drifted"
        else f"tfpilot drift check {request.id}",
        "failed": f"tfpilot timeline {request.id}  (then plan again, or requests reconcile)",
    }
    return steps.get(status)


def blocking_findings(request: Request) -> list[Any]:
    """The request's policy findings at level ``blocking`` (no approval can pass them)."""
    from tfpilot_core.models import PolicyLevel

    return [f for f in request.policy_findings if f.level is PolicyLevel.BLOCKING]


def exit_if_blocked(request: Request) -> None:
    """After a plan: say that and by what the request is blocked, and exit 9 (policy)."""
    from tfpilot_core.errors import ExitCode

    blocking = blocking_findings(request)
    if not blocking:
        return
    for finding in blocking:
        where = f" on {finding.address}" if finding.address else ""
        click.echo(f"blocked by policy: {finding.rule_id}{where}: {finding.message}", err=True)
    click.get_current_context().exit(ExitCode.POLICY)


def show_request(request: Request) -> None:
    """Print a request readably (or as JSON with ``--json``)."""

    def render() -> None:
        status = app().reader.status(request)
        p = request.placement
        click.echo(f"{request.id}  [{status.value}]  revision {request.revision}")
        click.echo(f"  module      {p.module} ({p.module_version[:12]})")
        click.echo(f"  placement   project {p.project}, environment {p.environment}")
        click.echo(f"  author      {request.created_by}")
        inputs = app().reader.view(request)["inputs"]
        click.echo("  inputs      " + json.dumps(inputs, sort_keys=True))
        for kind, attempts in request.runs.items():
            last = attempts[-1]
            conclusion = last.conclusion.value if last.conclusion else last.status.value
            digest = f" plan {last.plan_digest[:12]}" if last.plan_digest else ""
            label = "drift check" if kind.value == "drift" else kind.value
            click.echo(f"  {label:<11} #{last.number} {conclusion}{digest} by {last.actor}")
        for approval in request.approvals:
            plan = approval.plan_digest[:12]
            click.echo(f"  approved    by {approval.actor} (rev {approval.revision}, plan {plan})")
        if request.cost is not None:
            from tfpilot_core.cost import delta_phrase

            click.echo(f"  cost        {delta_phrase(request.cost)} ({request.cost.estimator})")
        if request.drift is not None:
            click.echo(
                f"  drift       {request.drift.result.value} {', '.join(request.drift.addresses)}"
            )
        for finding in request.policy_findings:
            where = f" {finding.address}" if finding.address else ""
            click.echo(
                f"  policy      {finding.level.value}: {finding.rule_id}{where} {finding.message}"
            )
        if request.summary is not None:
            click.echo("  summary:")
            for line in request.summary.text.splitlines():
                click.echo(f"    {line}")
        from tfpilot_core.failures import latest_failure, render_failure

        failure = latest_failure(request)
        if failure is not None:
            click.echo("  failure:")
            for line in render_failure(failure).splitlines():
                click.echo(f"    {line}")
        hint = _next_step(request, status.value)
        if hint:
            click.echo(f"  next        {hint}")
        from tfpilot_core.cli.runbooks import cli_runbook
        from tfpilot_core.run_logs.runbooks import request_kind

        runbook = cli_runbook(request_kind(request, status.value), request)
        if runbook:
            click.echo(f"  runbook     {runbook}")

    emit(request_data(request), render)


@click.group("requests")
def requests_group() -> None:
    """Create, list, show and update requests.

    \b
    Examples:
      tfpilot requests create --module sandbox/bucket --env dev --project shop --set name=logs
      tfpilot requests list --env prod --status applied
    """


_inputs_options = [
    click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE", help="An input (repeatable)."
    ),
    click.option(
        "--inputs",
        "inputs_file",
        metavar="FILE",
        help="Inputs from a JSON/YAML file, or - for stdin.",
    ),
]


def _with_inputs(func: Any) -> Any:
    for option in reversed(_inputs_options):
        func = option(func)
    return func


@requests_group.command("create")
@click.option(
    "--module",
    required=True,
    shell_complete=complete_module,
    help="Catalog module, e.g. sandbox/bucket.",
)
@click.option(
    "--env",
    "environment",
    required=True,
    shell_complete=complete_environment,
    help="Environment key, e.g. dev.",
)
@click.option("--project", required=True, help="Project the request belongs to.")
@_with_inputs
@click.option("--template", "template_id", help="Template the request comes from.")
@click.option(
    "--opt-out",
    "opt_outs",
    multiple=True,
    metavar="RULE=JUSTIFICATION",
    help="Opt out of a security default.",
)
@click.option("--idempotency-key", help="Replays the first result when repeated.")
@json_option
def create_command(
    module: str,
    environment: str,
    project: str,
    sets: tuple[str, ...],
    inputs_file: str | None,
    template_id: str | None,
    opt_outs: tuple[str, ...],
    idempotency_key: str | None,
) -> None:
    """Create a request (validated against the module's schema and policy).

    \b
    Examples:
      tfpilot requests create --module sandbox/bucket --env dev --project shop --set name=logs
      tfpilot requests create --module sandbox/bucket --env dev --project shop --inputs in.yaml
    """
    state = app()
    request = state.platform.create(
        state.whoami(),
        module=module,
        environment=environment,
        project=project,
        inputs=parse_inputs(sets, inputs_file),
        template_id=template_id,
        opt_outs=[{"rule_id": r, "justification": j} for r, j in _pairs(opt_outs, "--opt-out")],
        idempotency_key=idempotency_key,
    )
    show_request(request)


@requests_group.command("new")
@click.option("--assist", is_flag=True, help="Be guided through the request, step by step.")
@click.option("--module", help="Catalog module (otherwise picked from your description).")
@click.option("--env", "environment", help="Environment key (otherwise asked).")
@click.option("--project", help="Project (otherwise asked).")
@click.option("--answers", "answers_file", metavar="FILE", help="Answers from a JSON/YAML file.")
@json_option
def new_command(
    assist: bool,
    module: str | None,
    environment: str | None,
    project: str | None,
    answers_file: str | None,
) -> None:
    """Create a request with the assistant: module, inputs, policy preview, then confirm.

    \b
    Examples:
      tfpilot requests new --assist
      tfpilot --json requests new --assist --answers answers.yaml
    """
    # Imported here: the assistant is only loaded by this command.
    from tfpilot_core.assistant import AnswersConversation, run_assistant
    from tfpilot_core.assistant.terminal import TerminalConversation

    if not assist:
        raise click.UsageError("use --assist (or `tfpilot requests create` with every input)")
    state = app()
    conversation: Any
    if answers_file is not None:
        answers = parse_inputs((), answers_file)
        # With --json the conversation goes to stderr and stdout holds only the result.
        conversation = AnswersConversation(
            answers, say=lambda text: click.echo(text, err=state.json)
        )
    else:
        conversation = TerminalConversation(err=state.json)
    result = run_assistant(
        state.platform,
        state.whoami(),
        conversation,
        module=module,
        environment=environment,
        project=project,
    )
    data = {
        "created": result.created is not None,
        "request": state.platform.view(result.created) if result.created else None,
        "draft": result.draft.to_dict() if result.draft else None,
        "transcript": result.transcript,
    }
    emit(data, lambda: None)


@requests_group.command("update")
@click.argument("request_id", shell_complete=complete_request_id)
@_with_inputs
@click.option("--idempotency-key", help="Replays the first result when repeated.")
@json_option
def update_command(
    request_id: str, sets: tuple[str, ...], inputs_file: str | None, idempotency_key: str | None
) -> None:
    """Change inputs: a new revision, which voids earlier plans and approvals.

    \b
    Example:
      tfpilot requests update req_dev_bucket_k3x9pq --set versioning=true
    """
    state = app()
    request = state.platform.update(
        state.whoami(), request_id, parse_inputs(sets, inputs_file), idempotency_key=idempotency_key
    )
    show_request(request)


@requests_group.command("show")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def show_command(request_id: str) -> None:
    """Show one request.

    \b
    Examples:
      tfpilot requests show req_dev_bucket_k3x9pq
      tfpilot --json requests show req_dev_bucket_k3x9pq | jq .status
    """
    state = app()
    show_request(state.reader.read(state.whoami(), request_id))


@requests_group.command("list")
@click.option("--status", help="Derived status, e.g. applied.")
@click.option(
    "--env", "environment", shell_complete=complete_environment, help="Only this environment."
)
@click.option("--module", shell_complete=complete_module, help="Only requests for this module.")
@click.option("--author", help="Only requests created by this user.")
@click.option("--project", help="Only requests of this project.")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="At most this many (the JSON's next_cursor says whether more follow).",
)
@json_option
def list_command(
    status: str | None,
    environment: str | None,
    module: str | None,
    author: str | None,
    project: str | None,
    limit: int,
) -> None:
    """List requests, newest first.

    With --json: {"items": [...], "next_cursor": ..., "unreadable": N}.

    \b
    Examples:
      tfpilot requests list --env prod --status applied
      tfpilot --json requests list | jq -r '.items[].id'
    """
    headers = ["id", "status", "module", "env", "author", "rev"]
    state = app()
    from tfpilot_core.cli import startup_cache as quick

    # An empty store needs neither the domain model nor pydantic (tfpilot_core.cli.startup_cache); a
    # --status filter is checked against the statuses, which live in the model.
    if status is None and quick.store_is_empty(state):
        emit(list_envelope([], unreadable=0), lambda: table(headers, []))
        return
    from tfpilot_core.models import RequestQuery

    platform = state.reader
    page = platform.list(
        state.whoami(),
        RequestQuery(
            status=status,
            environment=environment,
            module=module,
            author=author,
            project=project,
            limit=limit,
        ),
    )
    if page.unreadable:
        click.echo(
            f"Warning: {len(page.unreadable)} stored request(s) could not be read and are not "
            f"listed: {', '.join(page.unreadable[:5])} (tfpilot requests show ID says why)",
            err=True,
        )

    def render() -> None:
        rows = [
            [
                r.id,
                platform.status(r).value,
                r.placement.module,
                r.placement.environment,
                r.created_by,
                r.revision,
            ]
            for r in page.items
        ]
        table(headers, rows)

    if not state.json:
        # The table shows no inputs: the public view (which masks them by the module's
        # schema, so it reads the catalog) is built for --json only.
        render()
        return
    items = [request_data(r) for r in page.items]
    emit(list_envelope(items, page.next_cursor, unreadable=len(page.unreadable)))


@click.command("plan")
@click.argument("request_id", shell_complete=complete_request_id)
@verbose_option
@json_option
def plan_command(request_id: str, verbose: bool) -> None:
    """Plan a request: Terraform plan, policy, cost and summary.

    Exits 9 when a blocking policy finding stops the plan from being approved (the output says
    which rule and where); on a terminal a spinner shows the step and the time taken.

    \b
    Examples:
      tfpilot plan req_dev_bucket_k3x9pq
      tfpilot plan req_dev_bucket_k3x9pq --verbose    # stream Terraform's (masked) output
      tfpilot --json plan req_dev_bucket_k3x9pq | jq .status
    """
    from tfpilot_core.cli.progress import progress

    state = app()
    with progress(f"planning {request_id}", verbose=verbose):
        request = state.platform.plan(state.whoami(), request_id)
    show_request(request)
    if request.cost is not None and not state.json:
        from tfpilot_core.cost import render_text

        click.echo(render_text(request.cost))
    exit_if_blocked(request)


@click.command("approve")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option(
    "--plan",
    "plan_digest",
    metavar="DIGEST",
    help="The digest of the plan you reviewed, or its first 12+ characters (refused if it "
    "changed). Required, except on a terminal outside protected environments, where the plan "
    "is shown and you confirm it.",
)
@click.option("--comment", default="", help="A note kept with the approval.")
@click.option(
    "--override",
    "overrides",
    multiple=True,
    metavar="RULE=REASON",
    help="Override a mandatory finding.",
)
@json_option
def approve_command(
    request_id: str, plan_digest: str | None, comment: str, overrides: tuple[str, ...]
) -> None:
    """Approve the current plan of a request.

    Name the plan you reviewed with --plan: its digest is in `tfpilot requests show` (and its
    --json). Without --plan, a terminal shows the plan's summary and digest and asks you to
    confirm; a script, or any approval in a protected environment, must name the plan.

    \b
    Example:
      tfpilot --as bob approve req_dev_bucket_k3x9pq --plan 3f2a9c1e0b7d
    """
    state = app()
    if plan_digest is None:
        plan_digest = _confirm_current_plan(request_id)
    request = state.platform.approve(
        state.whoami(),
        request_id,
        plan_digest=plan_digest,
        comment=comment,
        overrides=[{"rule_id": r, "reason": t} for r, t in _pairs(overrides, "--override")],
    )
    show_request(request)


def on_terminal() -> bool:
    """Whether a person is at a terminal (both standard input and output are one)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm_current_plan(request_id: str) -> str:
    """The digest of the current plan, once the person at the terminal has seen and confirmed
    it; a script (no terminal, or ``--json``) and protected environments must pass ``--plan``."""
    from tfpilot_core.lifecycle import current_plan
    from tfpilot_core.rbac import Action

    state = app()
    actor = state.whoami()
    request = state.reader.read(actor, request_id)
    # Whoever may not approve at all hears that first (exit 6), not how to name a plan.
    state.reader.kernel.access.check(actor, Action.APPROVE, request)
    env = state.config.environment(request.placement.environment)
    plan = current_plan(request)
    digest = plan.plan_digest if plan is not None else None
    interactive = on_terminal() and not state.json
    if env.protected or not interactive or digest is None:
        why = (
            f"{request.placement.environment} is a protected environment"
            if env.protected
            else "no terminal to confirm the plan on"
            if not interactive
            else "there is no current plan to show"
        )
        # The digest is not printed here: an approval names the plan its approver reviewed.
        raise ValidationError(
            [
                FieldProblem(
                    "plan",
                    "required",
                    f"name the plan you reviewed with --plan DIGEST: {why}; review it and its "
                    f"digest with tfpilot requests show {request_id}",
                )
            ],
            subject="approve",
        )
    click.echo(f"{request.id}: plan {digest}")
    if request.summary is not None:
        for line in request.summary.text.splitlines():
            click.echo(f"  {line}")
    for finding in request.policy_findings:
        click.echo(f"  policy {finding.level.value}: {finding.rule_id} {finding.message}")
    click.confirm(f"Approve plan {digest[:12]}?", abort=True)
    return digest


@click.command("apply")
@click.argument("request_id", shell_complete=complete_request_id)
@verbose_option
@json_option
def apply_command(request_id: str, verbose: bool) -> None:
    """Apply exactly the approved plan.

    Exits 8 when there is no approved plan to apply (plan and approve first).

    \b
    Examples:
      tfpilot apply req_dev_bucket_k3x9pq
      tfpilot apply req_dev_bucket_k3x9pq --verbose    # stream Terraform's (masked) output
    """
    from tfpilot_core.cli.progress import progress

    state = app()
    with progress(f"applying {request_id}", verbose=verbose):
        request = state.platform.apply(state.whoami(), request_id)
    show_request(request)


@click.command("destroy")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option(
    "--yes",
    is_flag=True,
    help="Unprotected environments: plan and apply the destroy at once. Refused (exit 3) in "
    "a protected environment, where a destroy plan must be approved by someone else.",
)
@verbose_option
@json_option
def destroy_command(request_id: str, yes: bool, verbose: bool) -> None:
    """Destroy what an applied request created.

    \b
    Examples:
      tfpilot destroy req_dev_bucket_k3x9pq          # a destroy plan, to approve and apply
      tfpilot destroy req_dev_bucket_k3x9pq --yes    # unprotected environment: at once
                                                     # (refused in a protected one, exit 3)
    """
    # A destroy is a reviewed change: this makes a destroy plan (summary, policy, cost delta);
    # it is approved (by someone else in a protected environment) and then applied with
    # `tfpilot apply`. With --yes an unprotected environment does both steps at once.
    from tfpilot_core.cli.progress import progress

    state = app()
    with progress(f"destroying {request_id}", verbose=verbose):
        request = state.platform.destroy(state.whoami(), request_id, yes=yes)
    show_request(request)


@click.group("drift")
def drift_group() -> None:
    """Drift checks: one request, a scan of all, and the status of the last checks.

    \b
    Examples:
      tfpilot drift check req_prod_bucket_k3x9pq
      tfpilot drift status --env prod
    """


@drift_group.command("check")
@click.argument("request_id", shell_complete=complete_request_id)
@verbose_option
@json_option
def drift_check_command(request_id: str, verbose: bool) -> None:
    """Check one applied request for drift (exit 11 when drift is found).

    \b
    Example:
      tfpilot drift check req_prod_bucket_k3x9pq || echo "drifted (11) or failed"
    """
    from tfpilot_core.cli.progress import progress
    from tfpilot_core.errors import ExitCode
    from tfpilot_core.models import DriftResult

    state = app()
    with progress(f"checking {request_id} for drift", verbose=verbose):
        request = state.platform.check_drift(state.whoami(), request_id)
    show_request(request)
    if request.drift is not None and request.drift.result is DriftResult.DRIFTED:
        sys.exit(ExitCode.FOUND)


@drift_group.command("scan")
@click.option(
    "--env",
    "environment",
    shell_complete=complete_environment,
    help="Only requests in this environment.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="How many checks run at once.",
)
@json_option
def drift_scan_command(environment: str | None, parallel: int) -> None:
    """Check every applied request for drift (exit 11 if any drifted, 10 if a check failed).

    \b
    Example:
      tfpilot drift scan --env prod --parallel 4
    """
    import contextvars
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from rich.progress import Progress

    from tfpilot_core.errors import ExitCode, TfpilotError
    from tfpilot_core.models import DriftResult, RunKind

    state = app()
    platform = state.platform
    actor = state.whoami()
    requests = applied_requests(environment)
    results: dict[str, tuple[str, list[str], str | None]] = {}

    def check(request_id: str) -> tuple[str, list[str], str | None]:
        try:
            checked = platform.check_drift(actor, request_id)
        except TfpilotError as exc:
            return DriftResult.ERROR.value, [], exc.message
        drift, run = checked.drift, checked.latest(RunKind.DRIFT)
        if drift is None:
            return DriftResult.ERROR.value, [], "no drift result recorded"
        return drift.result.value, drift.addresses, run.error if run else None

    with (
        Progress(transient=True, disable=state.json) as progress,
        ThreadPoolExecutor(parallel) as pool,
    ):
        task = progress.add_task("checking drift", total=len(requests))
        # Each check in a copy of this context: its spans and log lines stay in the command's
        # trace (a pool thread starts with an empty context).
        futures = {pool.submit(contextvars.copy_context().run, check, r.id): r.id for r in requests}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            progress.advance(task)
    ordered = sorted(results.items())
    counts = {
        r: sum(1 for _, (result, _, _) in ordered if result == r)
        for r in ("none", "drifted", "error")
    }

    def render() -> None:
        title = f"{len(ordered)} applied request(s): {counts['drifted']} drifted"
        table(
            ["request", "drift", "addresses / error"],
            [
                [rid, result, ", ".join(addrs) or error or ""]
                for rid, (result, addrs, error) in ordered
            ],
            title=f"{title}, {counts['error']} error(s)",
        )

    data = [
        {"request_id": rid, "result": result, "addresses": addrs, "error": error}
        for rid, (result, addrs, error) in ordered
    ]
    emit({"checked": len(ordered), "counts": counts, "results": data}, render)
    if counts["drifted"]:
        sys.exit(ExitCode.FOUND)
    if counts["error"]:
        sys.exit(ExitCode.EXTERNAL)


def applied_requests(environment: str | None) -> list[Request]:
    """Every applied request the acting user may read (all pages), in ``environment`` if given."""
    from tfpilot_core.models import RequestQuery

    state = app()
    actor = state.whoami()
    found: list[Request] = []
    cursor: str | None = None
    while True:
        page = state.platform.list(
            actor,
            RequestQuery(status="applied", environment=environment, limit=500, cursor=cursor),
        )
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found


@drift_group.command("status")
@click.option(
    "--env",
    "environment",
    shell_complete=complete_environment,
    help="Only requests in this environment.",
)
@click.option("--drifted", is_flag=True, help="Only requests whose last check found drift.")
@click.option(
    "--fail-on-drift",
    is_flag=True,
    help="Exit 11 when a listed request drifted (for a scheduled job).",
)
@json_option
def drift_status_command(environment: str | None, drifted: bool, fail_on_drift: bool) -> None:
    """The last drift check of every applied request (runs nothing: reads what was recorded).

    With --json: {"items": [{request_id, environment, module, result, checked_at, addresses}],
    "next_cursor": null, "counts": {...}}; a request never checked has result "unchecked".

    \b
    Examples:
      tfpilot drift status --env prod
      tfpilot --json drift status --drifted | jq -r '.items[].request_id'
    """
    from tfpilot_core.errors import ExitCode

    rows: list[dict[str, Any]] = []
    for request in sorted(applied_requests(environment), key=lambda r: r.id):
        drift = request.drift
        rows.append(
            {
                "request_id": request.id,
                "environment": request.placement.environment,
                "module": request.placement.module,
                "result": drift.result.value if drift else "unchecked",
                "checked_at": drift.checked_at.isoformat() if drift else None,
                "addresses": list(drift.addresses) if drift else [],
            }
        )
    if drifted:
        rows = [r for r in rows if r["result"] == "drifted"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["result"]] = counts.get(row["result"], 0) + 1

    def render() -> None:
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"
        table(
            ["request", "env", "drift", "checked", "addresses"],
            [
                [
                    r["request_id"],
                    r["environment"],
                    r["result"],
                    (r["checked_at"] or "never")[:19].replace("T", " "),
                    ", ".join(r["addresses"]),
                ]
                for r in rows
            ],
            title=f"{len(rows)} applied request(s): {shown}",
        )

    emit(list_envelope(rows, counts=counts), render)
    if fail_on_drift and counts.get("drifted"):
        sys.exit(ExitCode.FOUND)


@requests_group.command("promote")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option("--to", "to", metavar="ENV", help="Target environment (next on the path).")
@click.option("--dry-run", is_flag=True, help="Show the gates and the input diff; change nothing.")
@click.option("--idempotency-key", help="Replays the first result when repeated.")
@json_option
def promote_command(
    request_id: str, to: str | None, dry_run: bool, idempotency_key: str | None
) -> None:
    """Copy an applied request to the next environment (a new request to plan and approve).

    A gate that refuses (soak time, drift check age, ...) exits 8: the source's state does not
    allow the promotion yet.

    \b
    Examples:
      tfpilot requests promote req_dev_bucket_k3x9pq --dry-run
      tfpilot requests promote req_dev_bucket_k3x9pq --to stage
    """
    state = app()
    if dry_run:
        from tfpilot_core.promotion import Promotions

        preview = Promotions(state.platform).preview(state.whoami(), request_id, to=to)

        def render() -> None:
            click.echo(f"{preview['source']}: {preview['from']} -> {preview['to'] or '-'}")
            for gate in preview["gates"]:
                verdict = "ok" if gate["ok"] else "REFUSED"
                click.echo(f"  gate {gate['gate']:<16} {verdict:<8} {gate['detail']}")
            template = preview.get("template")
            if template:
                click.echo(f"  template {template['name']} v{template['version']}")
            rows = [
                [
                    d["input"],
                    json.dumps(d["source"]),
                    json.dumps(d["target"]),
                    "" if d["same"] else d.get("why", "changed"),
                ]
                for d in preview.get("inputs", [])
            ]
            if rows:
                table(["input", preview["from"], preview["to"], "difference"], rows)

        emit(preview, render)
        return
    show_request(
        state.platform.promote(state.whoami(), request_id, to=to, idempotency_key=idempotency_key)
    )


@requests_group.command("promotion-ready")
@click.option(
    "--env",
    "environment",
    shell_complete=complete_environment,
    help="Only requests in this environment.",
)
@json_option
def promotion_ready_command(environment: str | None) -> None:
    """Emit promotion_ready for applied requests whose soak time ended (run it on a schedule).

    \b
    Example:
      tfpilot requests promotion-ready --env dev
    """
    from tfpilot_core.promotion import Promotions

    announced = Promotions(app().platform).announce_ready(environment)
    emit(
        {"announced": announced},
        lambda: click.echo("\n".join(announced) or "no request finished its soak time since"),
    )


@requests_group.command("reconcile")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def reconcile_command(request_id: str) -> None:
    """Close stale runs (a process died mid-run) so the request can be retried.

    \b
    Example:
      tfpilot requests reconcile req_dev_bucket_k3x9pq
    """
    state = app()
    show_request(state.platform.reconcile(state.whoami(), request_id))


def _short(value: object) -> object:
    # Digests are 64 hex characters; 12 identify them in a readable timeline (--json has all).
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]
    return value


def format_event(event: Event, request: Request | None = None) -> str:
    """One readable line for an event (``findings`` shown as a count, digests shortened).

    With the ``request``, a runbook link is filled with its module, environment and id.
    """
    parts = []
    for key, value in sorted(event.data.items()):
        if key == "inputs":
            continue
        if key == "findings" and isinstance(value, list):
            parts.append(f"findings={len(value)}")
            continue
        parts.append(f"{key}={json.dumps(_short(value), default=str)}")
    details = ", ".join(parts)
    when = f"{event.at:%Y-%m-%d %H:%M:%S}"
    from tfpilot_core.cli.runbooks import cli_runbook
    from tfpilot_core.run_logs.runbooks import DEFAULT_RUNBOOKS

    runbook = cli_runbook(event.type, request) if event.type in DEFAULT_RUNBOOKS else None
    line = f"{event.seq:>4}  {when}  {event.type:<20} {event.actor:<10} {details}"
    return f"{line}  runbook: {runbook}" if runbook else line


@click.command("timeline")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def timeline_command(request_id: str) -> None:
    """The request's events, oldest first.

    With --json: {"items": [events], "next_cursor": null}.

    \b
    Examples:
      tfpilot timeline req_dev_bucket_k3x9pq
      tfpilot --json timeline req_dev_bucket_k3x9pq | jq -r '.items[].type'
    """
    state = app()
    actor = state.whoami()
    events = state.reader.timeline(actor, request_id)
    request = state.reader.read(actor, request_id)

    def render() -> None:
        for event in events:
            click.echo(format_event(event, request))

    emit(list_envelope([e.model_dump(mode="json") for e in events]), render)


@click.group("audit")
def audit_group() -> None:
    """Audit records: the change decision record, and its hash chain.

    \b
    Examples:
      tfpilot audit export req_prod_bucket_k3x9pq > record.json
      tfpilot audit verify req_prod_bucket_k3x9pq
      tfpilot audit refusals --json
    """


@audit_group.command("export")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def audit_export_command(request_id: str) -> None:
    """The change decision record of a request (deterministic JSON).

    \b
    Example:
      tfpilot audit export req_prod_bucket_k3x9pq > record.json
    """
    state = app()
    record = state.platform.audit(state.whoami(), request_id)
    click.echo(json.dumps(record, indent=2, sort_keys=True, default=str))


@audit_group.command("refusals")
@json_option
def audit_refusals_command() -> None:
    """Creates and updates refused by policy: who asked for what, and which rules refused it.

    No request is stored for a refused create; its record is kept here (sensitive inputs
    masked). Shown for the projects and environments where you are an admin.

    \b
    Example:
      tfpilot audit refusals --json
    """
    from tfpilot_core.lifecycle.changes import refusals

    state = app()
    actor = state.whoami()
    rows = refusals(state.platform.kernel, actor)

    def render() -> None:
        if not rows:
            click.echo("no refusals recorded (that you may audit)")
        for row in rows:
            click.echo(
                f"{row['at']}  {row['actor']} {row['action']} {row['module']} in "
                f"{row['project']}/{row['environment']}: refused by {', '.join(row['rules'])}"
            )

    emit(list_envelope(rows), render)


@audit_group.command("verify")
@click.argument("request_id", shell_complete=complete_request_id)
@json_option
def audit_verify_command(request_id: str) -> None:
    """Check the request's event hash chain (exit 11 at the first break).

    \b
    Example:
      tfpilot audit verify req_prod_bucket_k3x9pq
    """
    from tfpilot_core.errors import ExitCode

    state = app()
    report = state.platform.verify_audit(state.whoami(), request_id)

    def render() -> None:
        if report.ok:
            note = f" ({report.unchained} older events without links)" if report.unchained else ""
            click.echo(f"{request_id}: {report.events} events, chain intact{note}")
            click.echo(f"  head {report.head}")
        else:
            click.echo(f"{request_id}: chain broken at event {report.broken_at}: {report.reason}")

    emit(report.to_dict(), render)
    if not report.ok:
        sys.exit(ExitCode.FOUND)
