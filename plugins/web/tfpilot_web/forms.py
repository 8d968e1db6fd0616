"""The request form, generated from a module's input JSON Schema, and parsing what it posts.

Enums become selects, booleans a true/false select (so "use the default" stays possible),
numbers number fields, sensitive inputs (``writeOnly``) password fields, and maps, lists and
objects a JSON text area. Read-only inputs are not shown (the module sets them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tfpilot_core.errors import FieldProblem


@dataclass
class FormField:
    """One input of the request form."""

    name: str
    label: str
    widget: str  # text | password | number | select | bool | json
    description: str = ""
    required: bool = False
    options: list[str] = field(default_factory=list)
    default: str = ""
    pattern: str | None = None
    maxlength: int | None = None
    sensitive: bool = False
    step: str = "1"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """The fields of the request form for a module's input JSON Schema."""
    required = set(schema.get("required", []))
    fields: list[FormField] = []
    for name, prop in schema.get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        kind = prop.get("type")
        if isinstance(kind, list) and len([k for k in kind if k != "null"]) == 1:
            # A nullable input (["number", "null"]): the widget of its one non-null type.
            kind = next(k for k in kind if k != "null")
        sensitive = bool(prop.get("writeOnly") or prop.get("x-tfpilot-sensitive"))
        item = FormField(
            name=name,
            label=str(prop.get("title") or name),
            widget="text",
            description=str(prop.get("description", "")),
            required=name in required,
            default="" if sensitive else _text(prop.get("default")),
            pattern=prop.get("pattern"),
            maxlength=prop.get("maxLength"),
            sensitive=sensitive,
        )
        if "enum" in prop:
            item.widget = "select"
            item.options = [_text(v) for v in prop["enum"]]
        elif kind == "boolean":
            item.widget = "bool"
            item.options = ["true", "false"]
        elif kind in ("integer", "number"):
            item.widget = "number"
            item.step = "1" if kind == "integer" else "any"
        elif kind == "string" or (isinstance(kind, list) and "string" in kind):
            item.widget = "password" if sensitive else "text"
        else:
            item.widget = "json"
        fields.append(item)
    return fields


def parse_form(
    fields: list[FormField], form: dict[str, str]
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The inputs a submitted form holds; an empty field means "use the default"."""
    inputs: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for item in fields:
        raw = form.get(f"input.{item.name}", "")
        if raw == "":
            continue
        path = f"inputs.{item.name}"
        if item.widget == "bool":
            if raw not in ("true", "false"):
                problems.append(FieldProblem(path, "type", "choose true or false"))
                continue
            inputs[item.name] = raw == "true"
        elif item.widget == "number":
            try:
                number = float(raw)
                inputs[item.name] = (
                    int(number) if item.step == "1" and number.is_integer() else number
                )
            except ValueError:
                problems.append(FieldProblem(path, "type", "must be a number"))
        elif item.widget == "json":
            try:
                inputs[item.name] = json.loads(raw)
            except ValueError:
                problems.append(FieldProblem(path, "json", 'must be JSON, e.g. {"team": "x"}'))
        elif item.widget == "select" and item.options and raw not in item.options:
            problems.append(FieldProblem(path, "allowlist", "choose one of the options"))
        else:
            inputs[item.name] = raw
    return inputs, problems


def errors_by_field(problems: list[FieldProblem]) -> dict[str, str]:
    """Problems keyed by form field (``inputs.name`` -> ``name``; ``project`` stays)."""
    errors: dict[str, str] = {}
    for p in problems:
        key = p.field.removeprefix("inputs.").split(".")[0].split("[")[0] or "form"
        errors.setdefault(key, p.message)
    return errors
