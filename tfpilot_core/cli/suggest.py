"""``tfpilot suggest``: safer or cheaper inputs for a request, and applying one of them.

``tfpilot suggest REQ`` lists checked suggestions; ``tfpilot suggest apply REQ SUGGESTION_ID``
applies one as an ordinary update (a new revision; plans and approvals voided; planned again if
the request had a plan). Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from tfpilot_core.cli.app import app, emit, json_option

if TYPE_CHECKING:
    from tfpilot_core.suggestions.service import SuggestionReport

USAGE = "REQ | apply REQ SUGGESTION_ID"


def report_data(report: SuggestionReport) -> dict[str, Any]:
    """The JSON form of a report (``--json``)."""
    return {
        "request_id": report.request_id,
        "revision": report.revision,
        "what_if": report.what_if,
        "what_if_note": report.what_if_note,
        "unused_opt_outs": report.unused_opt_outs,
        "suggestions": [s.to_dict() for s in report.suggestions],
        "rejected": [vars(r) for r in report.rejected],
    }


def _render(report: SuggestionReport) -> None:
    import json

    click.echo(f"Suggestions for {report.request_id} (revision {report.revision})")
    if report.what_if_note:
        click.echo(f"  note: {report.what_if_note}")
    if not report.suggestions:
        click.echo("  none: nothing to make safer or cheaper")
    for s in report.suggestions:
        click.echo(f"\n  {s.id}  [{s.kind}, {s.source}]  {s.title}")
        click.echo(f"    why      {s.rationale}")
        click.echo(f"    patch    {json.dumps(s.patch, sort_keys=True)}")
        for ref in s.clears:
            where = f" on {ref.address}" if ref.address else ""
            click.echo(f"    clears   {ref.level} {ref.rule_id}{where} ({ref.stage})")
        for ref in s.introduces:
            where = f" on {ref.address}" if ref.address else ""
            click.echo(f"    adds     {ref.level} {ref.rule_id}{where} ({ref.stage})")
        if s.cost is not None and s.cost.delta is not None:
            click.echo(
                f"    cost     {s.cost.before} -> {s.cost.after} {s.cost.currency}/month "
                f"({s.cost.delta:+} {s.cost.currency})"
            )
        elif s.cost_note and s.cost_note != report.what_if_note:
            click.echo(f"    cost     unknown: {s.cost_note}")
        if s.unused_opt_outs:
            click.echo(f"    opt-outs no longer needed: {', '.join(s.unused_opt_outs)}")
    if report.rejected:
        click.echo(f"\n  rejected ({len(report.rejected)}): proposals that failed a check")
        for r in report.rejected:
            click.echo(f"    {r.id}  [{r.source}]  {r.reason}")
    if report.unused_opt_outs:
        click.echo(f"\n  opt-outs no finding needs: {', '.join(report.unused_opt_outs)}")
    if report.suggestions:
        click.echo(f"\n  apply one with: tfpilot suggest apply {report.request_id} <id>")


@click.command("suggest")
@click.argument("words", nargs=-1, required=True, metavar=USAGE)
@click.option(
    "--what-if/--no-what-if",
    default=None,
    help="Plan the patched inputs what-if for cost and plan policy "
    "[default: when the request has been planned and the runner is local].",
)
@click.option("--no-plan", is_flag=True, help="apply: do not plan the new revision.")
@json_option
def suggest_command(words: tuple[str, ...], what_if: bool | None, no_plan: bool) -> None:
    """Suggest safer or cheaper inputs for a request, as patches to review.

    "tfpilot suggest REQ" lists suggestions: each is a patch on the request's inputs, checked
    against the module's schema, with the policy findings it clears (policy re-run on the
    patched inputs) and, after a plan, its cost effect. "tfpilot suggest apply REQ ID" applies
    one as a new revision (re-validated, approvals voided, planned again). Nothing is applied
    unless you run apply.

    \b
    Examples:
      tfpilot suggest req_dev_bucket_k3x9pq
      tfpilot suggest apply req_dev_bucket_k3x9pq lifecycle-expiry
    """
    state = app()
    if words and words[0] == "apply":
        if len(words) != 3:
            raise click.UsageError("usage: tfpilot suggest apply REQ SUGGESTION_ID")
        from tfpilot_core.cli.requests import show_request

        _, request_id, suggestion_id = words
        request = state.platform.suggestions.apply(
            state.whoami(), request_id, suggestion_id, plan=not no_plan
        )
        show_request(request)
        return
    if len(words) != 1:
        raise click.UsageError(f"usage: tfpilot suggest {USAGE}")
    report = state.platform.suggestions.for_request(state.whoami(), words[0], what_if=what_if)
    emit(report_data(report), lambda: _render(report))
