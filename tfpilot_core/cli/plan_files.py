"""Plans made elsewhere: ``tfpilot plan show FILE`` and ``tfpilot cost estimate FILE``.

Any ``terraform show -json`` output (format 0.1 to 1.x, or the same wrapped by
``hashicorp/setup-terraform``) is read by :class:`~tfpilot_core.plan.Plan`, masked by the one
masking (:func:`~tfpilot_core.plan.masked_plan`) before anything is printed, summarised by the
rules summariser, and its attribute diff is :func:`tfpilot_core.plan_diff.changes`: the same
renderings as a request's plan.

``tfpilot plan`` stays the command that plans a request (``tfpilot plan REQUEST_ID``):
:class:`PlanGroup` sends anything but its subcommand names, ``show`` and ``export``
(:mod:`tfpilot_core.cli.plan_export`), to the request command unchanged. A request id is never
one of them (ids are ``req_<env>_<module>_<suffix>``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from tfpilot_core.cli.app import app, emit, json_option
from tfpilot_core.cli.plan_export import plan_export_command

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tfpilot_core.models import Request
    from tfpilot_core.plan import Plan

#: The placeholder placement of a plan file: no project, module or request of tfpilot's.
FILE_PROJECT = "external"
FILE_MODULE = "plan file"


class PlanGroup(click.Group):
    """``tfpilot plan REQUEST_ID`` (plan a request) and ``tfpilot plan show FILE``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.commands:
            return super().resolve_command(ctx, args)
        from tfpilot_core.cli.requests import plan_command

        # The request form, arguments and options untouched (`plan --verbose REQ` too).
        return "plan", plan_command, args


@click.group(
    "plan",
    cls=PlanGroup,
    context_settings={"ignore_unknown_options": True},
    subcommand_metavar="REQUEST_ID [--verbose] | show FILE | export REQUEST_ID",
)
def plan_group() -> None:
    """Plan a request: Terraform plan, policy, cost and summary.

    `tfpilot plan REQUEST_ID` plans a request (exits 9 when a blocking policy finding stops it;
    `--verbose` streams Terraform's masked output). `tfpilot plan show FILE` summarises a plan
    made elsewhere. `tfpilot plan export REQUEST_ID` prints a request's plan as masked JSON.

    \b
    Examples:
      tfpilot plan req_dev_bucket_k3x9pq
      tfpilot plan req_dev_bucket_k3x9pq --verbose
      terraform show -json tfplan > plan.json && tfpilot plan show plan.json
      tfpilot plan export req_dev_bucket_k3x9pq --output plan.json
    """


plan_group.add_command(plan_export_command)


def read_plan(path: str, *, masked: bool = False, sensitive_inputs: Sequence[str] = ()) -> Plan:
    """The plan in file ``path`` (``-``: stdin); errors name the file and the field.

    ``masked``: read it masked in one pass (see :meth:`Plan.parse`).
    """
    from tfpilot_core.errors import FieldProblem, ValidationError
    from tfpilot_core.plan import Plan, PlanError

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise ValidationError(
            [FieldProblem("FILE", "file", exc.strerror or str(exc))], subject=path
        ) from None
    try:
        return Plan.parse(data, masked=masked, sensitive_inputs=sensitive_inputs)
    except PlanError as exc:
        raise ValidationError(exc.problems, subject=f"plan file {path}") from None


def file_request(path: str, env_key: str | None, actor: str) -> Request:
    """A stand-in request for a plan file: what the summariser and the estimators are given.

    It has no inputs and no history (so an estimator compares against nothing deployed), and its
    environment is ``env_key`` (whose estimators are used) or ``standalone``.
    """
    import os

    from tfpilot_core.models import Placement, Request

    return Request(
        id=os.path.basename(path) if path != "-" else "stdin",
        placement=Placement(
            project=FILE_PROJECT,
            environment=env_key or "standalone",
            module=FILE_MODULE,
            module_version="-",
        ),
        inputs={},
        created_by=actor,
    )


def plan_report(plan: Plan, request: Request) -> dict[str, Any]:
    """What ``plan show --json`` prints of a *masked* plan: counts, operations, completeness,
    the rules summary and the attribute diff."""
    from tfpilot_core import plan_diff
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.summary_rules import summarize_plan

    text, markdown = summarize_plan(request, plan, SummaryContext())
    return {
        "file": request.id,
        "format_version": plan.format_version,
        "terraform_version": plan.terraform_version,
        "counts": {action.value: n for action, n in plan.counts().items()},
        "operations": plan.operations(),
        "has_changes": plan.has_changes,
        "errored": plan.errored,
        "complete": plan.complete,
        "applyable": plan.applyable,
        "incomplete": plan.incomplete(),
        "from_setup_terraform_wrapper": plan.from_wrapper,
        "drifted": plan.drifted_addresses,
        "summary": text,
        "summary_markdown": markdown,
        "resources": plan_diff.changes(plan),
    }


@plan_group.command("show")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--env", "env_key", metavar="ENV", help="Name this environment in the summary.")
@click.option(
    "--sensitive-input",
    "sensitive",
    multiple=True,
    metavar="NAME",
    help="A root variable whose value is masked wherever it appears (repeatable).",
)
@click.option("--markdown", is_flag=True, help="Print Markdown (as a PR comment shows it).")
@json_option
def plan_show_command(
    path: str, env_key: str | None, sensitive: tuple[str, ...], markdown: bool
) -> None:
    """Summarise a plan made elsewhere: counts, imports and moves, masked attribute diff.

    FILE is `terraform show -json` output (`-` reads stdin), from any Terraform 0.12 on, also
    as printed through hashicorp/setup-terraform's wrapper. Values Terraform marks sensitive, and
    the variables named with --sensitive-input, are masked before anything is printed. An
    errored or incomplete plan is said so first.

    \b
    Examples:
      terraform show -json tfplan > plan.json && tfpilot plan show plan.json
      tfpilot --json plan show plan.json | jq .counts
    """
    from tfpilot_core import plan_diff

    state = app()
    plan = read_plan(path, masked=True, sensitive_inputs=sensitive)
    report = plan_report(plan, file_request(path, env_key, state.whoami()))

    def render() -> None:
        if markdown:
            click.echo(report["summary_markdown"], nl=False)
            diff = plan_diff.markdown({"resources": report["resources"]})
            if diff:
                click.echo("\n" + diff)
            return
        click.echo(report["summary"], nl=False)
        if report["resources"]:
            click.echo("\nAttribute changes:")
        for resource in report["resources"]:
            label = resource["action"] + "".join(f", {op}" for op in resource["operations"])
            click.echo(f"  {resource['address']} ({label})")
            for row in resource["attributes"]:
                before = plan_diff.format_value(row["before"], present=row["had_before"])
                after = plan_diff.format_value(row["after"], unknown=row["unknown"])
                mark = "  (forces replacement)" if row["forces_replacement"] else ""
                click.echo(f"      {row['path']}: {before} -> {after}{mark}")
            if resource["more_attributes"]:
                click.echo(f"      ... and {resource['more_attributes']} more")

    emit(report, render)


def estimate_file(path: str, env_key: str | None) -> tuple[Request, Any]:
    """The configured estimators' estimate of plan file ``path`` (``None``: none priced it)."""
    state = app()
    if env_key is not None:
        state.config.environment(env_key)  # an unknown environment is refused by name
    request = file_request(path, env_key, state.whoami())
    plan = read_plan(path, masked=True)
    return request, state.host.estimate_cost(request, plan)
