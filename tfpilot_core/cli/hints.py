"""What the CLI adds to an error so that a person knows what to do next.

Imported only when an error is shown: a misspelt command gets a did-you-mean, a command that a
plugin provides names that plugin and how to install it, a refusal to an unnamed or unknown user
says how to name the user, and a broken pipe ends the command quietly.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

import click

from tfpilot_core.errors import did_you_mean

if TYPE_CHECKING:
    from tfpilot_core.cli.app import App
    from tfpilot_core.config import Config
    from tfpilot_core.errors import TfpilotError

_NO_SUCH_COMMAND = re.compile(r"No such command '(?P<name>[^']*)'")


def missing_command_text(name: str) -> str | None:
    """For a command a plugin provides and no installed plugin added: which one, how to get it."""
    from tfpilot_core.cli import PLUGIN_COMMANDS

    found = PLUGIN_COMMANDS.get(name)
    if found is None:
        return None
    plugin, distribution = found
    return (
        f"'tfpilot {name}' comes with the {plugin} plugin, which is not installed: "
        f"pip install {distribution} (then tfpilot plugins lists it)"
    )


def explain_usage(exc: click.UsageError) -> str | None:
    """What to say instead of click's "No such command" (a plugin to install, a did-you-mean).

    ``None`` for any other usage error (click's message is kept).
    """
    match = _NO_SUCH_COMMAND.search(exc.message)
    ctx = exc.ctx
    if match is None or ctx is None or not isinstance(ctx.command, click.Group):
        return None
    name = match.group("name")
    if ctx.parent is None:
        missing = missing_command_text(name)
        if missing is not None:
            return missing
    choices = ctx.command.list_commands(ctx)
    hint = did_you_mean(name, choices)
    return f"No such command {name!r}{hint}. See '{ctx.command_path} --help' for the commands."


def quiet_broken_pipe() -> None:
    """Stop writing to a closed pipe without a second error when Python flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's captured output)
        pass


def identity_hint(state: App, exc: TfpilotError) -> str | None:
    """How to name the acting user, when a refusal may come from who the user was taken to be.

    Said when the user is not in ``[users]`` (an unknown name, or a name taken from ``$USER``
    that nobody configured), and only with the local identity provider (others verify the user,
    and naming one is refused).
    """
    from tfpilot_core.errors import ForbiddenError

    actor = state.resolved_identity
    if not isinstance(exc, ForbiddenError) or actor is None:
        return None
    if state.reads_only is not None:
        return state.reads_only
    try:
        config = state.config
    except Exception:  # a broken configuration has its own error
        return None
    if config.core.identity != "local" or actor in config.users:
        return None
    users = sorted(config.users)
    if state.actor or os.environ.get("TFPILOT_USER"):
        how = "--as" if state.actor else "$TFPILOT_USER"
        listed = ", ".join(users) if users else "none"
        return (
            f"{actor!r} (from {how}) is an unknown user: not in [users] of the configuration "
            f"(configured: {listed}){did_you_mean(actor, users)}; {_unknown_rights(config)}"
        )
    source = "$GITHUB_ACTOR" if os.environ.get("GITHUB_ACTOR") == actor else "$USER"
    return (
        f"you are acting as {actor!r} (taken from {source}), who is not in [users]: name the "
        "user with --as NAME or $TFPILOT_USER, or add [users."
        + actor
        + "] with a role to "
        + (str(config.source) if config.source else "tfpilot.toml")
    )


def _unknown_rights(config: Config) -> str:
    unknown = config.core.unknown_users
    if unknown == "none":
        return 'unknown users have no access ([core] unknown_users = "none")'
    return f"it acts with the role of unknown users, {unknown} ([core] unknown_users)"
