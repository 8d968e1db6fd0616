"""Built-in commands about tfpilot itself: plugins, config, version, schema."""

from __future__ import annotations

from typing import Any

import click

from tfpilot_core.cli.app import app, emit, json_option, table


@click.command("plugins")
@json_option
def plugins_command() -> None:
    """List plugins: name, distribution, version, hooks implemented, status."""
    infos = sorted(app().plugins.infos.values(), key=lambda i: (not i.default, i.name))
    data = [info.to_dict() for info in infos]

    def render() -> None:
        rows = [
            [
                i.name,
                i.distribution,
                i.version,
                ", ".join(h.removeprefix("tfpilot_") for h in i.hooks) or "-",
                i.status + (f" ({i.error})" if i.error else ""),
            ]
            for i in infos
        ]
        table(["name", "distribution", "version", "hooks", "status"], rows)

    emit(data, render)


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@json_option
def config_show() -> None:
    """Print the effective configuration, secrets masked."""
    from tfpilot_core.config import effective

    data = effective(app().config)

    def render() -> None:
        import tomllib  # noqa: F401  (keeps the TOML-ish output honest to the file format)

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
    """Print the versions of tfpilot and of every plugin distribution."""
    from tfpilot_core import __version__

    infos = app().plugins.infos.values()
    data = {
        "tfpilot-core": __version__,
        "plugins": {i.distribution: i.version for i in infos if i.distribution != "tfpilot-core"},
    }
    emit(data, lambda: click.echo(f"tfpilot {__version__}"))
