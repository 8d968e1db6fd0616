"""``tfpilot reject``: refuse the current plan of a request with a reason (or ask for changes)."""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app, json_option
from tfpilot_core.cli.completion import complete_request_id
from tfpilot_core.cli.requests import show_request


@click.command("reject")
@click.argument("request_id", shell_complete=complete_request_id)
@click.option(
    "--plan",
    "plan_digest",
    required=True,
    metavar="DIGEST",
    help="The digest of the plan you reviewed, or its first 12+ characters (refused if it "
    "changed).",
)
@click.option(
    "--reason",
    required=True,
    metavar="TEXT",
    help="Why (required): recorded with the rejection and sent to the request's authors.",
)
@click.option(
    "--request-changes",
    is_flag=True,
    help="Ask the author for changes instead of rejecting (status changes_requested).",
)
@json_option
def reject_command(request_id: str, plan_digest: str, reason: str, request_changes: bool) -> None:
    """Reject the current plan of a request, with a reason.

    Who may reject is who may approve (four eyes in protected environments). A rejected plan
    cannot be approved or applied; an update of the request, or a new plan, is reviewed anew.
    Exit 3 without a reason, 6 when you may not, 8 when the plan changed or is not reviewable.

    \b
    Examples:
      tfpilot --as bob reject req_dev_bucket_k3x9pq --plan 3f2a9c1e0b7d \\
        --reason "public access must stay off"
      tfpilot --as bob reject req_dev_bucket_k3x9pq --plan 3f2a9c1e0b7d \\
        --reason "add a cost-center tag" --request-changes
    """
    state = app()
    request = state.platform.reject(
        state.whoami(),
        request_id,
        plan_digest=plan_digest,
        reason=reason,
        request_changes=request_changes,
    )
    show_request(request)
