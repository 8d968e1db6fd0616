"""Templates in the module request form: which templates a module offers, the form's values from
the chosen one (locked and non-overridable fields shown read-only), and the inputs posted back.

The core applies the template at create time (``Platform.create(template_id=...)``: its defaults
under the user's inputs; a locked or non-overridable input given is refused). So the form sends
only the inputs the user may set; the read-only fields are shown disabled (not posted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tfpilot_core.errors import FieldProblem, NotFoundError

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_core.templates import Template


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def fixed_inputs(template: Template, names: list[str]) -> list[str]:
    """The inputs of ``names`` a user of ``template`` may not set (locked, or not overridable)."""
    allowed = template.allowed_overrides
    return [n for n in names if n in template.locked or (allowed is not None and n not in allowed)]


def chosen(platform: Platform, module: str, name: str) -> Template | None:
    """The current version of template ``name`` for ``module`` (``None``: none chosen)."""
    if not name:
        return None
    from tfpilot_core.templates import Templates

    try:
        return Templates(platform).usable(name, module=module)
    except NotFoundError:
        return None


def prefill(params: Mapping[str, str]) -> dict[str, str]:
    """Form values from the query string (``input.NAME=...``, ``project``, ``environment``): what
    an example's button links to. Only shown in the form; nothing is created by a GET."""
    values = {
        k.removeprefix("input."): str(v)[:2000]
        for k, v in params.items()
        if k.startswith("input.") and len(k) <= 70
    }
    for key in ("project", "environment"):
        if params.get(key):
            values[key] = str(params[key])[:64]
    return values


def extras(platform: Platform, module: str, actor: str | None) -> dict[str, Any]:
    """Examples as pre-fill links, protected environments, the caller's granted projects, and
    which input gets the request id's suffix."""
    from tfpilot_core.rbac import Action

    spec = platform.catalog.get(module)
    projects: set[str] = set()
    user = platform.config.users.get(actor) if actor else None
    for grant in user.grants if user else []:
        projects.update(grant.projects)
    granted = sorted(
        p
        for p in projects
        if actor is not None
        and any(
            platform.access.may(actor, Action.CREATE, project=p, environment=e.key)
            for e in platform.config.core.environments
        )
    )
    return {
        "example_links": [
            (e.title, urlencode({f"input.{k}": _text(v) for k, v in e.inputs.items()}))
            for e in spec.examples
        ],
        "protected_envs": [e.key for e in platform.config.core.environments if e.protected],
        "project_choices": granted,
        "name_input": spec.name_input,
    }


def form_context(
    platform: Platform,
    module: str,
    name: str,
    values: dict[str, str],
    field_names: list[str],
    *,
    actor: str | None = None,
) -> dict[str, Any]:
    """What the form shows for templates (and :func:`extras`); fills ``values`` from the
    chosen template."""
    from tfpilot_core.templates import Templates

    offered = [r.current for r in Templates(platform).list(module=module)]
    template = chosen(platform, module, name)
    fixed: list[str] = []
    if template is not None:
        for key, value in template.defaults.items():
            values.setdefault(key, _text(value))
        if template.environment:
            values["environment"] = template.environment
        if template.project:
            values["project"] = template.project
        fixed = fixed_inputs(template, field_names)
    return {
        "templates_offered": offered,
        "template": template,
        "template_fixed": fixed,
        **extras(platform, module, actor),
    }


def posted_inputs(
    platform: Platform,
    module: str,
    form: dict[str, str],
    inputs: dict[str, Any],
    problems: list[FieldProblem],
    field_names: list[str],
) -> tuple[dict[str, Any], str | None, list[FieldProblem]]:
    """The inputs to create with, the template id, and the problems that still apply.

    The read-only fields of the chosen template are not posted: a "required" problem about one
    of them is the template's to fill, not the user's.
    """
    template = chosen(platform, module, form.get("template", ""))
    if template is None:
        return inputs, None, problems
    fixed = set(fixed_inputs(template, field_names))
    kept = {k: v for k, v in inputs.items() if k not in fixed}
    left = [
        p
        for p in problems
        if not any(p.field in (f"inputs.{n}", f"input.{n}", n) for n in fixed)
        and not (p.rule == "required" and p.field.removeprefix("inputs.") in template.defaults)
    ]
    return kept, template.name, left
