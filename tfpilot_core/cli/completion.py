"""Shell completion of the values people type most: request ids, module names, environments.

Click completes commands and options by itself; these callbacks complete the values, read from
this configuration (environments), its catalog (modules) and the store (the requests the acting
user may read). A completion never fails the shell: any error completes nothing.

Turn it on with ``eval "$(_TFPILOT_COMPLETE=bash_source tfpilot)"`` (``zsh_source``,
``fish_source``): see docs/cli.md.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

#: At most this many request ids are offered (newest first).
MAX_REQUESTS = 200


def _state(ctx: click.Context) -> Any:
    from tfpilot_core.cli.app import App

    return ctx.find_object(App) or App()


def complete_environment(
    ctx: click.Context, _: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The configured environment keys starting with ``incomplete``."""
    try:
        environments = _state(ctx).config.core.environments
    except Exception:  # a broken configuration: nothing to offer
        return []
    return [
        CompletionItem(e.key, help="protected" if e.protected else None)
        for e in environments
        if e.key.startswith(incomplete)
    ]


def complete_module(
    ctx: click.Context, _: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The catalog's module names starting with ``incomplete``."""
    try:
        specs = _state(ctx).platform.catalog.list()
    except Exception:
        return []
    return [
        CompletionItem(s.name, help=s.description or None)
        for s in specs
        if s.name.startswith(incomplete)
    ]


def complete_request_id(
    ctx: click.Context, _: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Ids of the requests the acting user may read, newest first, starting with ``incomplete``."""
    try:
        from tfpilot_core.models import RequestQuery

        state = _state(ctx)
        page = state.platform.list(state.whoami(), RequestQuery(limit=MAX_REQUESTS))
    except Exception:
        return []
    return [
        CompletionItem(r.id, help=f"{r.placement.module} in {r.placement.environment}")
        for r in page.items
        if r.id.startswith(incomplete)
    ]
