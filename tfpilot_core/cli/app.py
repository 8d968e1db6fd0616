"""State shared by every CLI command: the options of the root group and what they build lazily."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pathlib import Path

    from tfpilot_core.config import Config
    from tfpilot_core.platform import Platform
    from tfpilot_core.plugins import LoadedPlugins, PluginHost

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """Root options, and the configuration, plugins and platform built from them on first use."""

    config_path: Path | None = None
    actor: str | None = None
    json: bool = False
    debug: bool = False
    strict_plugins: bool = False
    loaded: LoadedPlugins | None = None
    _config: Config | None = field(default=None, repr=False)
    _host: PluginHost | None = field(default=None, repr=False)
    _platform: Platform | None = field(default=None, repr=False)
    _identity: str | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """The validated configuration (errors name the file, key and reason)."""
        if self._config is None:
            from tfpilot_core.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def plugins(self) -> LoadedPlugins:
        """Discovered plugins."""
        if self.loaded is None:
            from tfpilot_core.plugins import load_plugins

            self.loaded = load_plugins(strict=self.strict_plugins)
        return self.loaded

    @property
    def host(self) -> PluginHost:
        """The plugin host for this configuration."""
        if self._host is None:
            from tfpilot_core.plugins import PluginHost
            from tfpilot_core.registrations import PluginContext

            config = self.config
            context = PluginContext.for_config(config)
            self._host = PluginHost(self.plugins, config, context)
            # Every plugin section is checked at start, not when the plugin is first used.
            self._host.validate_settings()
        return self._host

    @property
    def platform(self) -> Platform:
        """The embedding API over the configured plugins."""
        if self._platform is None:
            from tfpilot_core.platform import Platform

            self._platform = Platform(self.host)
        return self._platform

    def whoami(self) -> str:
        """The acting user, from the configured identity provider (``[core] identity``).

        ``local`` (the default): ``--as``, ``$TFPILOT_USER``, ``$GITHUB_ACTOR``, ``$USER``. Any
        other provider verifies the identity, and a claimed name (``--as``,
        ``$TFPILOT_USER``) is refused rather than silently ignored.
        """
        if self._identity is not None:
            return self._identity
        from tfpilot_core.errors import ForbiddenError
        from tfpilot_core.identity import LOCAL_CLAIMS, IdentityRequest

        provider = self.config.core.identity
        if provider != "local":
            claimed = ["--as"] if self.actor else []
            claimed += [f"${name}" for name in LOCAL_CLAIMS if os.environ.get(name)]
            if claimed:
                raise ForbiddenError(
                    f"{' and '.join(claimed)} cannot name the acting user: identity comes from "
                    f"the {provider!r} provider ([core] identity); unset it"
                )
        identity = self.host.identity_provider().identify(
            IdentityRequest(claimed=self.actor, environ=dict(os.environ))
        )
        self._identity = identity.actor
        return identity.actor


def app() -> App:
    """The current :class:`App` (from the click context)."""
    return click.get_current_context().find_object(App) or App()


def json_option(func: F) -> F:
    """``--json`` on a read command; the root group's ``--json`` means the same."""

    def callback(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
        if value:
            ctx.ensure_object(App).json = True
        return value

    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=callback,
        is_eager=True,
        help="Print JSON for scripts.",
    )(func)


def emit(data: Any, render: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON with ``--json``; otherwise call ``render`` (or print JSON)."""
    if app().json or render is None:
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        render()


def table(headers: list[str], rows: list[list[Any]], *, title: str | None = None) -> None:
    """A readable table on stdout (rich is imported here, not at start-up)."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_edge=False, header_style="bold")
    for header in headers:
        t.add_column(header)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    Console(file=sys.stdout, soft_wrap=True).print(t)
