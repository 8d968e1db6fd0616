"""``tfpilot sandbox``: look at the sandbox cloud and change it out of band (for drift demos)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from tfpilot_sandbox import ROOT_ENV

if TYPE_CHECKING:
    from pathlib import Path

# This module is imported whenever `tfpilot` starts (the commands are registered then), so the
# object store (and pathlib) are imported inside the commands. Kept equal to objects.TYPES by
# tests/test_commands.py.
TYPE_NAMES = ("sandbox_bucket", "sandbox_instance", "sandbox_queue")

_ROOT_HELP = (
    f"Directory of the sandbox objects (default: ${ROOT_ENV}, else $TFPILOT_HOME/sandbox/objects)."
)


def resolve_root(root: str | Path | None) -> Path:
    """``--root``, else ``$TFPILOT_SANDBOX_ROOT`` (what the provider reads), else the home rule."""
    from pathlib import Path

    if root is not None:
        return Path(root)
    from_env = os.environ.get(ROOT_ENV)
    if from_env:
        return Path(from_env)
    # Imported here: the settings module loads pydantic, which `tfpilot --help` must not pay for.
    from tfpilot_sandbox.settings import sandbox_root, tfpilot_home

    return sandbox_root(None, tfpilot_home())


def _summary(obj: dict[str, Any]) -> str:
    from tfpilot_sandbox.objects import TYPES

    spec = TYPES[obj["type"]]
    parts = [f"{key}={json.dumps(obj.get(key))}" for key in spec.key_attributes]
    return " ".join(parts)


@click.group("sandbox")
def sandbox() -> None:
    """The local sandbox cloud managed by the tfpilot/sandbox Terraform provider.

    \b
    Examples:
      tfpilot sandbox ls --type sandbox_bucket
      tfpilot sandbox edit bucket logs --set public_access=true    # make drift
    """


@sandbox.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--root", type=click.Path(file_okay=False), help=_ROOT_HELP)
@click.option("--type", "type_name", type=click.Choice(TYPE_NAMES), help="Only this type.")
def ls(as_json: bool, root: str | None, type_name: str | None) -> None:
    """List the objects in the sandbox: type, name, region and key attributes.

    \b
    Examples:
      tfpilot sandbox ls
      tfpilot sandbox ls --json --type sandbox_queue
    """
    from tfpilot_sandbox.objects import ObjectStore

    store = ObjectStore(resolve_root(root))
    objects = list(store.list(type_name))
    if as_json:
        click.echo(json.dumps(objects, indent=2, sort_keys=True))
        return
    if not objects:
        click.echo(f"no objects in {store.root}")
        return
    rows = [
        (obj["type"], str(obj.get("name")), str(obj.get("region")), _summary(obj))
        for obj in objects
    ]
    widths = [max(len(row[i]) for row in [("TYPE", "NAME", "REGION", ""), *rows]) for i in range(3)]
    click.echo(f"{'TYPE':<{widths[0]}}  {'NAME':<{widths[1]}}  {'REGION':<{widths[2]}}  ATTRIBUTES")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


@sandbox.command("edit")
@click.argument("type_name", metavar="TYPE")
@click.argument("name")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    required=True,
    metavar="KEY=VALUE",
    help="Attribute to change (repeatable). Maps take a JSON object.",
)
@click.option("--root", type=click.Path(file_okay=False), help=_ROOT_HELP)
def edit(type_name: str, name: str, assignments: tuple[str, ...], root: str | None) -> None:
    """Change one object out of band, as someone clicking in a cloud console would.

    TYPE may be given with or without its prefix (``bucket`` or ``sandbox_bucket``). The next
    refresh-only plan reports the change as drift; a normal apply reverts it.

    \b
    Example:
      tfpilot sandbox edit bucket logs --set public_access=true
    """
    from tfpilot_sandbox.objects import ObjectStore, SandboxError, check_type, coerce_value

    full_type = type_name if type_name.startswith("sandbox_") else f"sandbox_{type_name}"
    try:
        spec = check_type(full_type)
        changes: dict[str, Any] = {}
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            if not sep:
                raise SandboxError(f"--set takes KEY=VALUE, got {assignment!r}")
            if key not in spec.attributes or key in ("id", "name"):
                settable = sorted(set(spec.attributes) - {"id", "name"})
                raise SandboxError(
                    f"cannot set {key!r} on {full_type}; settable: {', '.join(settable)}"
                )
            changes[key] = coerce_value(spec.attributes[key], raw)
        updated = ObjectStore(resolve_root(root)).update(full_type, name, changes)
    except (SandboxError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{full_type} {name}: " + ", ".join(f"{k}={json.dumps(updated[k])}" for k in changes)
    )


def register(cli: click.Group) -> None:
    """Add the ``sandbox`` group to ``cli``."""
    cli.add_command(sandbox)
