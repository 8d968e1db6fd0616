"""``tfpilot cost``: the stored cost estimate of a request's current plan."""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app, emit, json_option


@click.group("cost")
def cost_group() -> None:
    """Cost estimates of requests."""


@cost_group.command("show")
@click.argument("request_id")
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
