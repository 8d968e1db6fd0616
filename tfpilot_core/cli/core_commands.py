"""Built-in commands about tfpilot itself: plugins, config, version, schema."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option, list_envelope

#: The width ``tfpilot plugins`` fits (a classic terminal); names are never cut to fit it.
TABLE_WIDTH = 80


@click.group("plugins", invoke_without_command=True)
@json_option
@click.pass_context
def plugins_command(ctx: click.Context) -> None:
    """List plugins: name, distribution, version, status (--json: hooks, modules, errors).

    \b
    Examples:
      tfpilot plugins
      tfpilot --json plugins | jq '.items[] | {name, status}'
    """
    if ctx.invoked_subcommand is not None:
        return
    loaded = app().plugins
    infos = sorted(loaded.infos.values(), key=lambda i: (not i.default, i.name))
    listed = [info.to_dict() for info in infos]
    # ``plugins`` repeats the items under their own name: scripts written for the bare list of
    # 0.1 read one key or the other (``.plugins[]``), whichever shape they were written for.
    data = list_envelope(listed, plugins=listed)

    def render() -> None:
        rows = [[i.name, i.distribution, i.version or "-", i.status] for i in infos]
        for line in fit_table(["name", "distribution", "version", "status"], rows, TABLE_WIDTH):
            click.echo(line)
        problems = [i for i in infos if i.error]
        for info in problems:
            click.echo(
                textwrap.fill(f"{info.name}: {info.error}", TABLE_WIDTH, subsequent_indent="    ")
            )
        click.echo("(hooks and modules of each plugin: tfpilot --json plugins)")

    emit(data, render)


@plugins_command.command("new")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["notifier", "policy-pack", "cost", "summarizer", "store"]),
    help="What the plugin offers.",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the plugin folder.",
)
@json_option
def plugins_new(name: str, kind: str, parent: Path) -> None:
    """Write a new installable plugin folder (pyproject, lazy hooks, README, a test).

    \b
    Example:
      tfpilot plugins new notify_teams --kind notifier --dir plugins
    """
    from tfpilot_core.scaffold import scaffold

    target = scaffold(name, kind, parent)
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    data = {"name": name, "kind": kind, "path": str(target), "files": files}

    def render() -> None:
        click.echo(f"wrote {target} ({len(files)} files)")
        click.echo(f"next: pip install -e '{target}[test]' && pytest {target}")

    emit(data, render)


def fit_table(headers: list[str], rows: list[list[str]], width: int) -> list[str]:
    """Plain table lines no wider than ``width`` where possible, never cutting a cell.

    Columns are dropped from the right (the first one is always kept) until the rest fit.
    """
    columns = len(headers)
    while True:
        widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(columns)]
        if sum(widths) + 2 * (columns - 1) <= width or columns == 1:
            break
        columns -= 1
    lines = []
    for row in [headers, ["-" * w for w in widths], *rows]:
        cells = [str(row[c]).ljust(widths[c]) for c in range(columns)]
        lines.append("  ".join(cells).rstrip())
    return lines


@click.group("config")
def config_group() -> None:
    """Inspect the configuration.

    \b
    Example:
      tfpilot config show
    """


@config_group.command("show")
@json_option
def config_show() -> None:
    """Print the effective configuration, secrets masked.

    \b
    Examples:
      tfpilot config show
      tfpilot --config ci.toml --json config show | jq .core
    """
    from tfpilot_core.config import effective
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.registrations import PluginContext

    current = app()
    config = current.config
    # [plugins.*] sections are validated as every other command does (exit 4), even when two
    # plugins share a name (reported below rather than refused: this command diagnoses).
    host = PluginHost(
        current.plugins, config, PluginContext.for_config(config), allow_conflicts=True
    )
    host.validate_settings()
    data = effective(config)
    data["conflicts"] = list(current.plugins.conflicts.values())

    def render() -> None:
        import tomllib  # noqa: F401  (keeps the TOML-ish output honest to the file format)

        for conflict in data["conflicts"]:
            click.echo(f"# conflict: {conflict}")
        click.echo(f"# source: {data['source'] or '(no file; defaults)'}")
        click.echo(f"# home: {data['home']}")
        for key, origin in data["overrides"].items():
            click.echo(f"# {key} overridden by ${origin}")
        _print_toml(data["core"], ["core"])
        for user, settings in data["users"].items():
            _print_toml(settings, ["users", user])
        for plugin, settings in data["plugins"].items():
            _print_toml(settings, ["plugins", plugin])

    emit(data, render)


def _print_toml(table_data: dict[str, Any], path: list[str]) -> None:
    import json

    click.echo(f"\n[{'.'.join(path)}]")
    nested = {}
    for key, value in table_data.items():
        if isinstance(value, dict):
            nested[key] = value
        elif value is not None:
            click.echo(f"{key} = {json.dumps(value, default=str)}")
    for key, value in nested.items():
        _print_toml(value, [*path, key])


@click.command("version")
@json_option
def version_command() -> None:
    """Print the versions of tfpilot and of every plugin distribution.

    \b
    Examples:
      tfpilot version
      tfpilot --json version | jq .plugins
    """
    from tfpilot_core import __version__

    loaded = app().plugins
    infos = loaded.infos.values()
    plugins = {i.distribution: i.version for i in infos if i.distribution != "tfpilot-core"}
    data = {
        "tfpilot-core": __version__,
        "plugins": plugins,
        "conflicts": list(loaded.conflicts.values()),
    }

    def render() -> None:
        click.echo(f"tfpilot {__version__}")
        for distribution, version in sorted(plugins.items()):
            click.echo(f"  {distribution} {version or '(version unknown)'}")
        for conflict in loaded.conflicts.values():
            click.echo(f"conflict: {conflict}", err=True)

    emit(data, render)
