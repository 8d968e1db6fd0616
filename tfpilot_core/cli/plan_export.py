"""``tfpilot plan export REQ``: a request's current plan as masked JSON, for other scanners."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from tfpilot_core.cli.app import app, emit, json_option


@click.command("export")
@click.argument("request_id", metavar="REQUEST_ID")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    metavar="FILE",
    help="Write the plan document to FILE instead of standard output.",
)
@json_option
def plan_export_command(request_id: str, output: str | None) -> None:
    """Export the request's current plan as `terraform show -json` JSON, masked.

    The document is the plan tfpilot recorded when the request was planned: every value
    Terraform marks sensitive, every sensitive output and every sensitive module input is
    replaced by the mask, so it can go to other scanners (Checkov, Trivy, conftest). Its
    `tfpilot` object names the request, revision, attempt and plan digest (the digest approvals
    bind to). Reading it needs the right to read the request. With --json, an envelope with the
    digests and the document (`plan`; left out when written to --output).

    \b
    Examples:
      tfpilot plan export req_dev_bucket_k3x9pq > plan.json
      tfpilot plan export req_dev_bucket_k3x9pq --output plan.json && checkov -f plan.json
      tfpilot --json plan export req_dev_bucket_k3x9pq | jq .plan_digest
    """
    from tfpilot_core.lifecycle.reads import export_plan

    state = app()
    attempt, data = export_plan(state.reader.kernel, state.whoami(), request_id)
    digest = attempt.plan_digest or ""
    if output is not None and output != "-":
        Path(output).write_bytes(data)
    envelope = {
        "request_id": request_id,
        "revision": attempt.revision,
        "attempt_id": attempt.id,
        "plan_digest": digest,
        "document_sha256": hashlib.sha256(data).hexdigest(),
        "output": output if output not in (None, "-") else None,
    }

    def render() -> None:
        if envelope["output"] is None:
            click.echo(data.decode())
            return
        click.echo(f"wrote {output}: plan {digest[:12]} of {request_id} (masked)")

    if envelope["output"] is None and state.json:
        envelope["plan"] = json.loads(data)
    emit(envelope, render)
