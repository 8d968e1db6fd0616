"""Commands on the catalog and the data formats: ``modules``, ``schema``."""

from __future__ import annotations

import json
from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option, table

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
}


@click.group("modules")
def modules_group() -> None:
    """The module catalog."""


@modules_group.command("list")
@json_option
def modules_list() -> None:
    """Every module in the catalog."""
    specs = app().platform.catalog.list()
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
@click.argument("name")
@json_option
def modules_show(name: str) -> None:
    """One module: its inputs (with types and rules) and its input JSON Schema."""
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
def schema_command(model: str | None) -> None:
    """Print the JSON Schema of a data format (no MODEL: list them)."""
    if model is None:
        for name in sorted(SCHEMA_MODELS):
            click.echo(name)
        return
    from tfpilot_core import config, models

    cls = getattr(models, SCHEMA_MODELS[model], None) or getattr(config, SCHEMA_MODELS[model])
    click.echo(json.dumps(cls.model_json_schema(), indent=2))
