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
    from tfpilot_core.lifecycle.reads import Reader
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
    _reader: Reader | None = field(default=None, repr=False)
    _platform: Platform | None = field(default=None, repr=False)
    _identity: str | None = field(default=None, repr=False)
    #: Why the acting user may only read (an unverified name on a shared store), if so.
    reads_only: str | None = field(default=None, repr=False)

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
            from tfpilot_core.discovery import load_plugins

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
            from tfpilot_core.cli import startup_cache as quick

            # Every plugin section is checked at start, not when the plugin is first used;
            # unless an earlier command checked these very settings (same file, overrides,
            # plugins and versions, and no section reading a secret or an environment value).
            if not quick.settings_validated(self):
                self._host.validate_settings()
                # What was just validated lets later commands start with less work.
                quick.save(self)
        return self._host

    @property
    def platform(self) -> Platform:
        """The embedding API over the configured plugins."""
        if self._platform is None:
            from tfpilot_core.platform import Platform

            self._platform = Platform(self.host)
        return self._platform

    @property
    def reader(self) -> Platform | Reader:
        """What read commands use: the platform when one is built, else the lifecycle's reads
        over a kernel (the same functions, without importing the capabilities)."""
        if self._platform is not None:
            return self._platform
        if self._reader is None:
            from tfpilot_core.lifecycle.kernel import Kernel
            from tfpilot_core.lifecycle.reads import Reader

            self._reader = Reader(Kernel(self.host))
        return self._reader

    @property
    def resolved_identity(self) -> str | None:
        """The acting user, if a command has asked for it already (for error hints)."""
        return self._identity

    def whoami(self) -> str:
        """The acting user, from the configured identity provider (``[core] identity``).

        ``local`` (the default): ``--as``, ``$TFPILOT_USER``, ``$GITHUB_ACTOR``, ``$USER``. Any
        other provider verifies the identity, and a claimed name (``--as``,
        ``$TFPILOT_USER``) is refused rather than silently ignored.
        """
        if self._identity is not None:
            return self._identity
        from tfpilot_core.errors import ForbiddenError
        from tfpilot_core.identity import LOCAL_CLAIMS, IdentityRequest, untrusted_reason

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
        core = self.config.core
        self.reads_only = untrusted_reason(
            identity, store=core.store, trust_local_user=core.trust_local_user
        )
        if self.reads_only is not None:
            # The one configuration every decision reads (host, kernel, access): capped there.
            self.config.limit_to_reads(identity.actor)
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


def list_envelope(items: list[Any], next_cursor: str | None = None, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of every list a command prints with ``--json`` (docs/cli.md).

    ``{"items": [...], "next_cursor": null | "..."}``, as ``GET /api/requests`` answers: the
    items, and the cursor of the next page (``null`` on the last one; pass it back with
    ``--cursor`` where a command pages). Extra keys describe the listing (counts, warnings).
    """
    return {"items": items, "next_cursor": next_cursor, **extra}


def render_table(
    headers: list[str],
    rows: list[list[Any]],
    *,
    title: str | None = None,
    width: int | None = None,
    bold: bool = False,
) -> str:
    """The text of a table: a header row, a rule, then one line per row (cells never cut).

    With ``width`` (a terminal's), the widest columns are wrapped until the table fits, as far
    as a column can narrow (8 characters); without it (output to a file or a pipe), cells are
    never wrapped, so scripts always get whole values.
    """
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [
        max([len(h), *(len(line) for r in cells for line in r[i].splitlines() or [""])])
        for i, h in enumerate(headers)
    ]
    if width is not None:
        # Each column costs its width plus two spaces of padding and one separator.
        while sum(widths) + 3 * len(widths) - 1 > width and max(widths) > 8:
            widths[widths.index(max(widths))] -= 1
    lines: list[str] = []
    if title:
        lines.append(title.center(sum(widths) + 3 * len(widths) - 1).rstrip())

    def cell_lines(value: str, w: int) -> list[str]:
        if all(len(line) <= w for line in value.splitlines()):
            return value.splitlines() or [""]
        import textwrap

        wrapped: list[str] = []
        for line in value.splitlines():
            wrapped += textwrap.wrap(line, w, break_long_words=True) or [""]
        return wrapped

    head = "┃".join(f" {h.ljust(w)} " for h, w in zip(headers, widths, strict=True)).rstrip()
    lines.append(f"\033[1m{head}\033[0m" if bold else head)
    lines.append("╇".join("━" * (w + 2) for w in widths))
    for row in cells:
        split = [cell_lines(v, w) for v, w in zip(row, widths, strict=True)]
        for n in range(max(len(part) for part in split) if split else 1):
            line = "│".join(
                f" {(part[n] if n < len(part) else '').ljust(w)} "
                for part, w in zip(split, widths, strict=True)
            )
            lines.append(line.rstrip())
    return "\n".join(lines)


def table(headers: list[str], rows: list[list[Any]], *, title: str | None = None) -> None:
    """A readable table on stdout (plain text: no rich to import, so commands start fast).

    On a terminal, long cells wrap to fit it and the header is bold (unless ``NO_COLOR``).
    """
    width = None
    tty = sys.stdout.isatty()
    if tty:
        try:
            width = os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):
            width = None
    bold = tty and not os.environ.get("NO_COLOR")
    click.echo(render_table(headers, rows, title=title, width=width, bold=bold))
