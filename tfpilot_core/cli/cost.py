"""``tfpilot cost``: the stored cost estimate of a request's current plan."""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app, emit, json_option
from tfpilot_core.cli.completion import complete_request_id


@click.group("cost")
def cost_group() -> None:
    """Cost estimates of requests.

    \b
    Example:
      tfpilot cost show req_dev_bucket_k3x9pq --top 10
    """


@cost_group.command("show")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option(
    "--top",
    default=5,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many resources to list, largest change first.",
)
@click.option("--markdown", is_flag=True, help="Print Markdown (as a PR comment shows it).")
@json_option
def cost_show_command(request_id: str, top: int, markdown: bool) -> None:
    """Show a request's cost: monthly total, previous, delta and top resources by change.

    The estimate is the one stored with the current plan (bound to its digest): showing it again
    runs no estimator.

    \b
    Examples:
      tfpilot cost show req_dev_bucket_k3x9pq --top 10
      tfpilot cost show req_dev_bucket_k3x9pq --markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from tfpilot_core.cost import estimate_dict, render_markdown, render_text
    from tfpilot_core.errors import NotFoundError

    state = app()
    request = state.platform.read(state.whoami(), request_id)
    estimate = request.cost
    if estimate is None:
        raise NotFoundError(
            f"request {request.id} has no cost estimate: plan it first "
            f"(tfpilot plan {request.id}), with a cost estimator installed"
        )

    def render() -> None:
        click.echo(
            render_markdown(estimate, top=top) if markdown else render_text(estimate, top=top)
        )

    emit({"request_id": request.id, **estimate_dict(estimate, top=top)}, render)


@cost_group.command("estimate")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--env", "env_key", metavar="ENV", help="Use this environment's cost estimators.")
@click.option(
    "--top",
    default=5,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many resources to list, largest change first.",
)
@click.option("--markdown", is_flag=True, help="Print Markdown (as a PR comment shows it).")
@json_option
@click.pass_context
def cost_estimate_command(
    ctx: click.Context, path: str, env_key: str | None, top: int, markdown: bool
) -> None:
    """Price a plan made elsewhere with the configured cost estimators.

    FILE is `terraform show -json` output (`-` reads stdin). The plan is masked first and
    priced as a first plan (nothing deployed to compare with). Exits 10 when the estimate failed
    or is partial (e.g. Infracost could not price some projects), 7 when no estimator priced it.

    \b
    Examples:
      tfpilot cost estimate plan.json --top 10
      tfpilot --json cost estimate plan.json --env prod | jq .monthly
    """
    from tfpilot_core.cli.plan_files import estimate_file
    from tfpilot_core.cost import estimate_dict, render_markdown, render_text
    from tfpilot_core.errors import ExitCode, NotFoundError

    request, estimate = estimate_file(path, env_key)
    if estimate is None:
        raise NotFoundError(
            f"no cost estimator priced {request.id}: install one (e.g. tfpilot-cost-infracost) "
            "or check [core] cost_estimators"
        )

    def render() -> None:
        click.echo(
            render_markdown(estimate, top=top) if markdown else render_text(estimate, top=top)
        )

    emit({"file": request.id, **estimate_dict(estimate, top=top)}, render)
    if estimate.error:
        ctx.exit(ExitCode.EXTERNAL)
