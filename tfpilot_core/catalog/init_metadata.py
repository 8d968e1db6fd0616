"""A starting ``tfpilot.module.toml`` for a module, from its variables (``tfpilot modules init``).

What can be read from ``variables.tf`` is written; what is a decision is left commented for a
person to make:

* ``tags_input``: the ``map(string)`` (or ``map(any)``) input named ``tags``, ``labels``,
  ``common_tags``, ``default_tags`` or ending in ``_tags`` (``labels`` with
  ``tags_format = "gcp-labels"``: GCP label keys cannot hold tfpilot's ``tfpilot:`` keys);
* ``allowed`` lists: from ``validation`` conditions of the form ``contains([literals], var.X)``
  (a literal list of strings or numbers only);
* ``sensitive`` and ``ephemeral``: inputs Terraform already marks so are listed in a comment
  (tfpilot masks them, and never stores ephemeral ones in a plan, anyway); inputs whose names
  say secret (``password``, ``secret``, ``token``, ``private_key``) but are not marked are
  marked here;
* ``name_input``: left commented: tfpilot appends ``-<suffix>`` to it, which only fits modules
  whose name rules allow it (an Azure storage account name does not);
* one example with the required inputs, commented, to fill in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tfpilot_core.interfaces import ModuleLocation

from .spec import InputSpec, ModuleSpec, load_module
from .types import Kind, parse_literal

_TAG_NAMES = ("tags", "labels", "common_tags", "default_tags")
_SECRET_WORDS = re.compile(r"(password|passwd|secret|token|private_key|api_key)", re.I)
_CONTAINS = re.compile(r"contains\(\s*(\[[^\[\]]*\])\s*,\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\)")


def tags_input(spec: ModuleSpec) -> str | None:
    """The input that holds tags or labels (a map of strings), if there is one."""
    candidates = [
        name
        for name, item in spec.inputs.items()
        if item.tftype.kind is Kind.MAP
        and item.tftype.element is not None
        and item.tftype.element.kind in (Kind.STRING, Kind.ANY)
        and (name in _TAG_NAMES or name.endswith("_tags"))
    ]
    candidates.sort(
        key=lambda n: (n not in _TAG_NAMES, _TAG_NAMES.index(n) if n in _TAG_NAMES else 0)
    )
    return candidates[0] if candidates else None


def allowed_values(item: InputSpec) -> list[object] | None:
    """The literal list of a ``contains([...], var.<name>)`` validation of ``item``, if any."""
    for validation in item.validations:
        for match in _CONTAINS.finditer(validation.condition):
            if match.group(2) != item.name:
                continue
            try:
                values = parse_literal(match.group(1))
            except ValueError:
                continue
            if (
                isinstance(values, list)
                and values
                and all(
                    isinstance(v, str | int | float) and not isinstance(v, bool) for v in values
                )
            ):
                return list(values)
    return None


def _toml(value: object) -> str:
    # JSON literals of strings, numbers and lists of them are valid TOML.
    return json.dumps(value)


def starting_metadata(path: Path) -> str:
    """The text of a starting ``tfpilot.module.toml`` for the module at ``path``."""
    spec = load_module(ModuleLocation(name="init/module", path=path))
    tags = tags_input(spec)
    lines = [
        f"# Written by `tfpilot modules init` from {len(spec.inputs)} variables; review it.",
        'description = ""',
        'category = "general"',
        'risk = "medium"',
        'owner = ""',
    ]
    if tags == "labels":
        # GCP label keys allow lowercase letters, digits, "_" and "-" only: tfpilot writes its
        # own keys as tfpilot_request_id there.
        lines.append('tags_input = "labels"')
        lines.append('tags_format = "gcp-labels"  # label keys: tfpilot_request_id, not tfpilot:')
    elif tags is not None:
        lines.append(f"tags_input = {_toml(tags)}  # tfpilot adds its own tags (tfpilot:*) here")
    else:
        lines.append("# No tags input found (a map(string) named tags, labels or *_tags).")
    if "name" in spec.inputs and spec.inputs["name"].tftype.kind is Kind.STRING:
        lines.append(
            '# name_input = "name"  # tfpilot would append -<6 characters>: only if the '
            "module's name rules allow it"
        )
    marked = [n for n, item in spec.inputs.items() if item.sensitive and not item.ephemeral]
    if marked:
        lines.append(f"# Sensitive in variables.tf (masked everywhere): {', '.join(marked)}")
    ephemeral = spec.ephemeral_inputs
    if ephemeral:
        lines.append(
            "# Ephemeral in variables.tf (never stored in a plan or a file): "
            + ", ".join(ephemeral)
        )
    required = [n for n, item in spec.inputs.items() if item.required]
    lines += ["", "# [[examples]]", '# title = "A first request"']
    example = ", ".join(f'{n} = ""' for n in required)
    lines.append(f"# inputs = {{ {example} }}")
    for name, item in spec.inputs.items():
        table: list[str] = []
        allowed = allowed_values(item)
        if allowed is not None:
            table.append(f"allowed = {_toml(allowed)}  # from its validation block")
        if not item.sensitive and _SECRET_WORDS.search(name):
            table.append("sensitive = true  # the name says secret; Terraform does not mark it")
        if table:
            lines += ["", f"[inputs.{name}]", *table]
    return "\n".join(lines) + "\n"
