"""Commands on the catalog and the data formats: ``modules``, ``catalog``, ``templates``,
``schema``."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option, list_envelope, table
from tfpilot_core.cli.completion import complete_environment, complete_module

#: Models whose JSON Schema ``tfpilot schema`` prints, by the name users type.
SCHEMA_MODELS = {
    "request": "Request",
    "event": "Event",
    "environment": "Environment",
    "run-attempt": "RunAttempt",
    "approval": "Approval",
    "policy-finding": "PolicyFinding",
    "cost-estimate": "CostEstimate",
    "plan-summary": "PlanSummary",
    "drift-report": "DriftReport",
    "config": "FileSettings",
    "catalog": "CatalogDocument",
    "template": "TemplateRecord",
}


@click.group("modules")
def modules_group() -> None:
    """The module catalog.

    \b
    Examples:
      tfpilot modules list
      tfpilot modules show sandbox/bucket
    """


@modules_group.command("list")
@json_option
def modules_list() -> None:
    """Every module in the catalog.

    With --json: a list of {name, version, category, risk, description} (the one list that is
    not in the {"items": ...} envelope yet: scripts read it as a list; see docs/cli.md).

    \b
    Examples:
      tfpilot modules list
      tfpilot --json modules list | jq -r '.[].name'
    """
    from tfpilot_core.cli import startup_cache as quick

    state = app()
    # Unchanged modules and configuration: the listing the full path computed last time.
    data = quick.catalog_listing(state)
    if data is None:
        catalog = state.platform.catalog
        specs = catalog.list()
        data = [
            {
                "name": s.name,
                "version": s.version,
                "category": s.category,
                "risk": str(s.risk),
                "description": s.description,
            }
            for s in specs
        ]
        quick.save_catalog_listing(
            state, [os.path.abspath(catalog.location(s.name)) for s in specs], data
        )
    emit(
        data,
        lambda: table(
            ["name", "category", "risk", "version", "description"],
            [
                [d["name"], d["category"], d["risk"], d["version"][:12], d["description"]]
                for d in data
            ],
        ),
    )


@modules_group.command("show")
@click.argument("name", shell_complete=complete_module)
@json_option
def modules_show(name: str) -> None:
    """One module: its inputs (with types and rules) and its input JSON Schema.

    \b
    Examples:
      tfpilot modules show sandbox/bucket
      tfpilot --json modules show sandbox/bucket | jq .input_schema
    """
    spec = app().platform.catalog.get(name)
    data = spec.model_dump(mode="json")
    data["input_schema"] = spec.input_json_schema()

    def render() -> None:
        click.echo(f"{spec.name}  ({spec.category}, risk {spec.risk}, version {spec.version[:12]})")
        click.echo(f"  {spec.description}")
        rows: list[list[Any]] = []
        for item in spec.inputs.values():
            flags = [f for f in ("sensitive", "immutable", "read_only") if getattr(item, f, False)]
            allowed = getattr(item, "allowed", None)
            if allowed:
                flags.append("allowed: " + ", ".join(map(str, allowed)))
            default = "(required)" if item.required else json.dumps(item.default)
            rows.append([item.name, item.type_expr, default, " ".join(flags), item.description])
        table(["input", "type", "default", "rules", "description"], rows)

    emit(data, render)


@click.command("schema")
@click.argument("model", required=False, type=click.Choice(sorted(SCHEMA_MODELS)))
@json_option
def schema_command(model: str | None) -> None:
    """Print the JSON Schema of a data format (no MODEL: list them).

    A schema is JSON with or without --json; the list of formats is text, or with --json
    {"items": [names], "next_cursor": null}.

    \b
    Examples:
      tfpilot schema
      tfpilot schema request > request.schema.json
    """
    if model is None:
        names = sorted(SCHEMA_MODELS)
        emit(list_envelope(names), lambda: click.echo("\n".join(names)))
        return
    from tfpilot_core import config, models, service_catalog, templates

    name = SCHEMA_MODELS[model]
    cls = next(m for m in (models, config, service_catalog, templates) if hasattr(m, name))
    click.echo(json.dumps(getattr(cls, name).model_json_schema(), indent=2))


# -- the service catalog ------------------------------------------------------------------------


@click.group("catalog", invoke_without_command=True)
@click.option("--category", help="Only modules of this category.")
@click.option("--no-costs", is_flag=True, help="Do not compute typical costs (cached ones too).")
@json_option
@click.pass_context
def catalog_group(ctx: click.Context, category: str | None, no_costs: bool) -> None:
    """The service catalog: modules, examples, typical costs, usage.

    \b
    Examples:
      tfpilot catalog --category storage
      tfpilot catalog request sandbox/bucket --env dev --project shop --set name=logs
    """
    if ctx.invoked_subcommand is not None:
        return
    from tfpilot_core.service_catalog import ServiceCatalog, money

    state = app()
    document = ServiceCatalog(state.platform).document(
        state.whoami(), category=category, costs=not no_costs
    )

    def render() -> None:
        rows: list[list[Any]] = []
        for entry in document.modules:
            costs = ", ".join(
                f"{e.name} {money(e.typical_cost.monthly)}"
                if e.typical_cost.status == "estimated"
                else f"{e.name} ({e.typical_cost.status})"
                for e in entry.examples
            )
            rows.append(
                [entry.name, entry.category, entry.risk, entry.owner, entry.usage.total, costs]
            )
        table(["module", "category", "risk", "owner", "requests", "examples (USD/month)"], rows)

    emit(document.model_dump(mode="json"), render)


@catalog_group.command("show")
@click.argument("module", shell_complete=complete_module)
@click.option("--no-costs", is_flag=True, help="Do not compute typical costs.")
@json_option
def catalog_show(module: str, no_costs: bool) -> None:
    """One catalog entry: inputs, examples with costs, usage, changelog.

    \b
    Example:
      tfpilot catalog show sandbox/bucket --no-costs
    """
    from tfpilot_core.service_catalog import ServiceCatalog, money

    state = app()
    entry = ServiceCatalog(state.platform).entry(state.whoami(), module, costs=not no_costs)

    def render() -> None:
        owner = entry.owner or "-"
        click.echo(f"{entry.name}  ({entry.category}, risk {entry.risk}, owner {owner})")
        click.echo(f"  {entry.description}")
        click.echo(f"  version {entry.version[:12]}")
        table(
            ["input", "type", "default", "rules", "description"],
            [
                [
                    i.name,
                    i.type,
                    "(required)" if i.required else json.dumps(i.default),
                    " ".join(
                        [f for f in ("sensitive", "immutable", "read_only") if getattr(i, f)]
                        + (["allowed: " + ", ".join(map(str, i.allowed))] if i.allowed else [])
                    ),
                    i.description,
                ]
                for i in entry.inputs
            ],
        )
        for ex in entry.examples:
            cost = ex.typical_cost
            shown = (
                f"{money(cost.monthly)} {cost.currency}/month ({cost.estimator})"
                if cost.status == "estimated"
                else f"{cost.status}{': ' + cost.error if cost.error else ''}"
            )
            click.echo(f"  example {ex.name}: {ex.title}  [{shown}]")
            click.echo(f"    inputs {json.dumps(ex.inputs, sort_keys=True)}")
            if ex.security_defaults:
                click.echo(f"    keeps security defaults: {', '.join(ex.security_defaults)}")
            if ex.opt_outs:
                allowed = ", ".join(ex.opt_outs)
                click.echo(f"    opt-outs allowed (with a justification): {allowed}")
        for env, counts in entry.usage.by_environment.items():
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            click.echo(f"  usage {env}: {shown}")
        if entry.changelog:
            click.echo("  changelog:")
            for line in entry.changelog.splitlines()[:40]:
                click.echo(f"    {line}")

    emit(entry.model_dump(mode="json"), render)


@catalog_group.command("request")
@click.argument("module", shell_complete=complete_module)
@click.option("--example", help="Example to start from (default: the module's first).")
@click.option(
    "--env",
    "environment",
    required=True,
    shell_complete=complete_environment,
    help="Environment key, e.g. dev.",
)
@click.option("--project", required=True, help="Project the request belongs to.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override an input.")
@click.option("--inputs", "inputs_file", metavar="FILE", help="Inputs from a JSON/YAML file.")
@click.option("--template", "template_id", help="Template the request comes from.")
@click.option(
    "--opt-out",
    "opt_outs",
    multiple=True,
    metavar="RULE=JUSTIFICATION",
    help="Opt out of a security default.",
)
@json_option
def catalog_request(
    module: str,
    example: str | None,
    environment: str,
    project: str,
    sets: tuple[str, ...],
    inputs_file: str | None,
    template_id: str | None,
    opt_outs: tuple[str, ...],
) -> None:
    """Start a request from a catalog entry, the example pre-filled.

    \b
    Example:
      tfpilot catalog request sandbox/bucket --example private --env dev --project shop
    """
    from tfpilot_core.cli.requests import _pairs, parse_inputs, show_request
    from tfpilot_core.service_catalog import ServiceCatalog

    state = app()
    request = ServiceCatalog(state.platform).request(
        state.whoami(),
        module,
        example=example,
        environment=environment,
        project=project,
        inputs=parse_inputs(sets, inputs_file),
        template_id=template_id,
        opt_outs=[{"rule_id": r, "justification": j} for r, j in _pairs(opt_outs, "--opt-out")],
    )
    show_request(request)


# -- templates ----------------------------------------------------------------------------------


@click.group("templates")
def templates_group() -> None:
    """Request templates: named, versioned presets (admins manage them).

    \b
    Examples:
      tfpilot templates create logs --module sandbox/bucket --set versioning=true --lock versioning
      tfpilot templates list --module sandbox/bucket
    """


def _template_fields(
    sets: tuple[str, ...], lock: tuple[str, ...], allow: tuple[str, ...], any_override: bool
) -> dict[str, Any]:
    from tfpilot_core.cli.requests import parse_inputs

    fields: dict[str, Any] = {}
    if sets:
        fields["defaults"] = parse_inputs(sets, None)
    if lock:
        fields["locked"] = list(lock)
    if allow:
        fields["allowed_overrides"] = list(allow)
    if any_override:
        fields["allowed_overrides"] = None
    return fields


_template_options = [
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="A default input."),
    click.option("--lock", multiple=True, metavar="INPUT", help="A locked field (repeatable)."),
    click.option(
        "--allow", multiple=True, metavar="INPUT", help="An allowed override (repeatable)."
    ),
    click.option("--description", help="What the template is for."),
]


def _with_template_options(func: Any) -> Any:
    for option in reversed(_template_options):
        func = option(func)
    return func


def _show_template(record: Any) -> None:
    current = record.current

    def render() -> None:
        state = " (retired)" if record.retired else ""
        click.echo(f"{record.name} v{current.version}{state}  module {current.module}")
        if current.description:
            click.echo(f"  {current.description}")
        env, project = current.environment or "any", current.project or "any"
        click.echo(f"  environment {env}, project {project}")
        click.echo(f"  defaults    {json.dumps(current.defaults, sort_keys=True)}")
        click.echo(f"  locked      {', '.join(current.locked) or '-'}")
        allowed = current.allowed_overrides
        overrides = "any unlocked input" if allowed is None else ", ".join(allowed) or "none"
        click.echo(f"  overrides   {overrides}")

    emit(record.model_dump(mode="json"), render)


@templates_group.command("create")
@click.argument("name")
@click.option(
    "--module",
    required=True,
    shell_complete=complete_module,
    help="Catalog module, e.g. sandbox/bucket.",
)
@click.option(
    "--env",
    "environment",
    shell_complete=complete_environment,
    help="Pin the template to this environment.",
)
@click.option("--project", help="Pin the template to this project.")
@_with_template_options
@json_option
def templates_create(
    name: str,
    module: str,
    environment: str | None,
    project: str | None,
    sets: tuple[str, ...],
    lock: tuple[str, ...],
    allow: tuple[str, ...],
    description: str | None,
) -> None:
    """Create a template (version 1).

    \b
    Example:
      tfpilot --as admin templates create logs --module sandbox/bucket --set versioning=true
    """
    from tfpilot_core.templates import Templates

    state = app()
    templates = Templates(state.platform)
    fields = _template_fields(sets, lock, allow, False)
    templates.create(
        state.whoami(),
        name,
        module=module,
        environment=environment,
        project=project,
        description=description or "",
        **fields,
    )
    _show_template(templates.record(name))


@templates_group.command("update")
@click.argument("name")
@click.option("--env", "environment", help="Pin to this environment ('' removes the pin).")
@click.option("--project", help="Pin to this project ('' removes the pin).")
@click.option("--any-override", is_flag=True, help="Allow overriding any unlocked input.")
@_with_template_options
@json_option
def templates_update(
    name: str,
    environment: str | None,
    project: str | None,
    any_override: bool,
    sets: tuple[str, ...],
    lock: tuple[str, ...],
    allow: tuple[str, ...],
    description: str | None,
) -> None:
    """A new version of a template (existing requests keep theirs).

    \b
    Example:
      tfpilot --as admin templates update logs --lock versioning --description "audited logs"
    """
    from tfpilot_core.templates import Templates

    state = app()
    templates = Templates(state.platform)
    fields = _template_fields(sets, lock, allow, any_override)
    if "defaults" in fields:
        # --set changes the inputs it names; the other defaults stay as they were.
        fields["defaults"] = {**templates.get(name).defaults, **fields["defaults"]}
    if environment is not None:
        fields["environment"] = environment or None
    if project is not None:
        fields["project"] = project or None
    if description is not None:
        fields["description"] = description
    templates.update(state.whoami(), name, **fields)
    _show_template(templates.record(name))


@templates_group.command("list")
@click.option("--module", shell_complete=complete_module, help="Only templates of this module.")
@click.option(
    "--env",
    "environment",
    shell_complete=complete_environment,
    help="Only templates usable in this environment.",
)
@click.option("--all", "include_retired", is_flag=True, help="Include retired templates.")
@json_option
def templates_list(module: str | None, environment: str | None, include_retired: bool) -> None:
    """List templates (current versions).

    With --json: {"items": [templates], "next_cursor": null}.

    \b
    Examples:
      tfpilot templates list --module sandbox/bucket
      tfpilot --json templates list --all | jq -r '.items[].name'
    """
    from tfpilot_core.templates import Templates

    records = Templates(app().platform).list(
        module=module, environment=environment, include_retired=include_retired
    )
    data = list_envelope([r.model_dump(mode="json") for r in records])
    emit(
        data,
        lambda: table(
            ["name", "version", "module", "env", "project", "locked", "retired"],
            [
                [
                    r.name,
                    r.current.version,
                    r.current.module,
                    r.current.environment or "any",
                    r.current.project or "any",
                    ", ".join(r.current.locked),
                    "yes" if r.retired else "",
                ]
                for r in records
            ],
        ),
    )


@templates_group.command("show")
@click.argument("name")
@json_option
def templates_show(name: str) -> None:
    """One template, with every version (--json).

    \b
    Example:
      tfpilot --json templates show logs | jq '.versions | length'
    """
    from tfpilot_core.templates import Templates

    _show_template(Templates(app().platform).record(name))


@templates_group.command("retire")
@click.argument("name")
@json_option
def templates_retire(name: str) -> None:
    """Retire a template: it cannot be used for new requests.

    \b
    Example:
      tfpilot --as admin templates retire logs
    """
    from tfpilot_core.templates import Templates

    state = app()
    _show_template(Templates(state.platform).retire(state.whoami(), name))


@templates_group.command("diff")
@click.argument("name")
@json_option
def templates_diff(name: str) -> None:
    """What changed between versions, and which requests use an older version.

    \b
    Example:
      tfpilot templates diff logs
    """
    from tfpilot_core.templates import Templates

    state = app()
    data = Templates(state.platform).diff(name, state.whoami())

    def render() -> None:
        click.echo(f"{data['template']}: current version {data['current_version']}")
        for change in data["changes"]:
            fields = ", ".join(sorted(change["changed"])) or "nothing"
            click.echo(f"  v{change['from']} -> v{change['to']}: {fields}")
        table(
            ["request", "template version", "env", "project", "status"],
            [
                [r["request"], r["template_version"], r["environment"], r["project"], r["status"]]
                for r in data["older"]
            ],
            title="requests on an older version",
        )

    emit(data, render)


@modules_group.command("init")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace an existing tfpilot.module.toml.")
@click.option("--print", "print_only", is_flag=True, help="Print it instead of writing it.")
@json_option
def modules_init(path: str, force: bool, print_only: bool) -> None:
    """Write a starting tfpilot.module.toml for the module at PATH, from its variables.

    The tags input, allowed values of `contains([...], var.x)` validations and secret-looking
    inputs are filled in; decisions (name input, examples, owner) are left commented.

    \b
    Examples:
      tfpilot modules init modules/storage-account
      tfpilot modules init vendor/terraform-null-label --print
    """
    from pathlib import Path

    from tfpilot_core.catalog.init_metadata import starting_metadata
    from tfpilot_core.catalog.spec import METADATA_FILE
    from tfpilot_core.errors import ConflictError

    directory = Path(path)
    text = starting_metadata(directory)
    target = directory / METADATA_FILE
    if print_only:
        emit(
            {"path": str(target), "written": False, "text": text},
            lambda: click.echo(text, nl=False),
        )
        return
    if target.exists() and not force:
        raise ConflictError(f"{target} exists: use --force to replace it")
    target.write_text(text)
    emit(
        {"path": str(target), "written": True, "text": text},
        lambda: click.echo(f"wrote {target}: review it, then add examples and the name input"),
    )
