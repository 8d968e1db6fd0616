"""``tfpilot plugins new NAME --kind KIND``: an installable plugin folder.

The folder has a ``pyproject.toml`` (hatchling, so ``pip install`` and ``python -m build`` work
as for any package) with the ``tfpilot`` entry point, the lazy shape (the hook
imports the settings model, and the factory the implementation, only when called), a README
naming every setting, and a test that passes with the fixtures ``tfpilot-core`` ships. The
templates are the ``*.tmpl`` files next to this module (``string.Template``: ``$name``...).
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from tfpilot_core.errors import FieldProblem, ValidationError

#: ``--kind`` -> (registration hook, what the plugin registers, the entry in ``[core]``).
KINDS: dict[str, tuple[str, str, str]] = {
    "notifier": ("tfpilot_register_notifiers", "notifier", 'notifiers = ["$name"]'),
    "policy-pack": (
        "tfpilot_register_policy_rules",
        "policy rules",
        'policy_engines = ["policy_builtin"]',
    ),
    "cost": ("tfpilot_register_cost_estimators", "cost estimator", 'cost_estimators = ["$name"]'),
    "summarizer": ("tfpilot_register_summarizers", "summarizer", 'summarizer = "$name"'),
    "store": ("tfpilot_register_stores", "store", 'store = "$name"'),
}
_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
_TEMPLATES = Path(__file__).parent / "templates"


def _problem(field: str, message: str) -> ValidationError:
    return ValidationError([FieldProblem(field, "scaffold", message)], subject="plugins new")


def files_for(name: str, kind: str) -> dict[str, str]:
    """The relative paths and texts of a new plugin ``name`` of ``kind``."""
    if not _NAME.fullmatch(name):
        raise _problem("NAME", f"{name!r} must be 2-40 lowercase letters, digits or _")
    if kind not in KINDS:
        raise _problem("--kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    hook, what, core = KINDS[kind]
    package = f"tfpilot_{name}"
    values = {
        "name": name,
        "package": package,
        "distribution": f"tfpilot-{name.replace('_', '-')}",
        "hook": hook,
        "what": what,
        "Class": "".join(part.capitalize() for part in name.split("_")),
        "core_line": string.Template(core).substitute(name=name),
    }
    kind_dir = kind.replace("-", "_")

    def render(template: str) -> str:
        return string.Template((_TEMPLATES / template).read_text()).substitute(values)

    files = {
        "pyproject.toml": render("pyproject.toml.tmpl"),
        "README.md": render(f"README{'.pack' if kind == 'policy-pack' else ''}.md.tmpl"),
        f"{package}/__init__.py": f'"""The {name} tfpilot plugin ({what})."""\n',
        f"{package}/plugin.py": render(f"{kind_dir}/plugin.py.tmpl"),
        f"{package}/impl.py": render(f"{kind_dir}/impl.py.tmpl"),
        "tests/test_plugin.py": render(f"{kind_dir}/test_plugin.py.tmpl"),
    }
    if kind != "policy-pack":  # a pack's rules read [plugins.policy_builtin] rule_params
        files[f"{package}/settings.py"] = render("settings.py.tmpl")
    return files


def scaffold(name: str, kind: str, parent: Path) -> Path:
    """Write the plugin folder ``parent/<distribution>``; refuses to overwrite one."""
    files = files_for(name, kind)
    target = parent / f"tfpilot-{name.replace('_', '-')}"
    if target.exists():
        raise _problem("NAME", f"{target} already exists")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target
