"""``tfpilot ask``: a question about requests, answered offline with the query it ran."""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app, emit, json_option, table


@click.command("ask")
@click.argument("question", nargs=-1, required=True)
@json_option
def ask_command(question: tuple[str, ...]) -> None:
    """Answer a question about requests (offline; shows the query it ran).

    Examples: "how many requests are in prod?", "which prod requests drifted this week?",
    "total monthly cost by project". Only requests you may read are counted or shown. With a
    model configured (``[plugins.summarize_llm] ask = true``), a question the offline parser
    cannot read goes to the model, whose one tool is the typed query; the query it made is shown.
    A question that is not understood exits with 3 and lists forms that work.

    \b
    Examples:
      tfpilot ask "which prod requests drifted this week?"
      tfpilot --json ask "total monthly cost by project"
    """
    import json

    from tfpilot_core.ask import ask
    from tfpilot_core.errors import ExitCode

    state = app()
    # The lifecycle's reads over a kernel (App.reader): a question only reads, and needs none
    # of the capabilities the facade wires up.
    answer = ask(state.reader, state.whoami(), " ".join(question))

    def render() -> None:
        if not answer.answered:
            click.echo(answer.text)
            for example in answer.suggestions:
                click.echo(f"  tfpilot ask {example!r}")
            return
        click.echo("query: " + json.dumps(answer.query, sort_keys=True))
        click.echo(answer.text)
        result = answer.result
        if result is not None and result.rows:
            rows = [
                [
                    r.id,
                    r.status,
                    r.project,
                    r.environment,
                    r.module,
                    r.author,
                    "" if r.monthly_cost is None else r.monthly_cost,
                    r.drift or "",
                ]
                for r in result.rows
            ]
            table(["id", "status", "project", "env", "module", "author", "cost/mo", "drift"], rows)

    emit(answer.to_dict(), render)
    if not answer.answered:
        click.get_current_context().exit(ExitCode.VALIDATION)
