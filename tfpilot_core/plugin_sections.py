"""Which ``[plugins.<section>]`` holds a registration's settings, and the old names still read.

A plugin's settings live in the section named after the plugin (``[plugins.runner_local]`` for
the ``runner_local`` plugin, whose runner is selected as ``local``). A registration that used
to read another section names it in ``Registration.deprecated_sections``: that name is still
read when the new one is absent, and every run that reads it warns
(:class:`PluginSectionDeprecationWarning`), on the full path (settings validation) and on the
CLI's quick paths alike (the start-up cache keeps the warnings with the snapshot). Both names at
once is an error: which one was meant cannot be told.

Standard library only: the CLI's quick paths use it before pydantic is imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from tfpilot_core.errors import ConfigError
from tfpilot_core.log import get_logger

__all__ = [
    "PluginSectionDeprecationWarning",
    "deprecated_in_use",
    "lookup",
    "message",
    "warn",
    "warn_unknown",
]

log = get_logger("tfpilot.plugins")


class PluginSectionDeprecationWarning(DeprecationWarning):
    """A plugin's settings are under a section name that is deprecated (see :func:`message`).

    The CLI shows these on stderr on every run (``tfpilot: warning: ...``); an embedding
    application sees them as any ``DeprecationWarning``.
    """


def message(old: str, new: str) -> str:
    """The warning for settings found under ``[plugins.<old>]`` instead of ``[plugins.<new>]``."""
    return (
        f"[plugins.{old}] is deprecated: rename it [plugins.{new}] (settings sections are named "
        f"after their plugin; the old name is still read, with this warning, until tfpilot 1.0)"
    )


def lookup(
    plugins: Mapping[str, Any],
    section: str,
    deprecated: Sequence[str] = (),
    *,
    source: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The section that holds the settings, and its content (``{}`` when none is configured).

    ``section`` wins; else the first of ``deprecated`` that is configured. Silent: callers that
    report deprecations use :func:`deprecated_in_use` and :func:`warn`.

    :raises ConfigError: ``section`` and a deprecated name are both configured.
    """
    found = [name for name in deprecated if name in plugins]
    if section in plugins:
        if found:
            raise ConfigError(
                f"[plugins.{section}] and [plugins.{found[0]}] both configure the same plugin: "
                f"keep [plugins.{section}] ([plugins.{found[0]}] is its deprecated name)",
                source=source,
                key=f"plugins.{found[0]}",
            )
        return section, dict(plugins[section] or {})
    if found:
        return found[0], dict(plugins[found[0]] or {})
    return section, {}


def deprecated_in_use(
    plugins: Mapping[str, Any], section: str, deprecated: Sequence[str]
) -> list[tuple[str, str]]:
    """``(old, new)`` for each deprecated name of ``section`` that the configuration uses."""
    return [(old, section) for old in deprecated if old in plugins]


_warned: set[tuple[str, str]] = set()


def warn(old: str, new: str, *, stacklevel: int = 2) -> None:
    """Warn that ``[plugins.<old>]`` is read for ``[plugins.<new>]`` (once per process)."""
    if (old, new) in _warned:
        return
    _warned.add((old, new))
    warnings.warn(message(old, new), PluginSectionDeprecationWarning, stacklevel=stacklevel + 1)


_told_unknown: set[str] = set()


def warn_unknown(section: str) -> None:
    """Log that no installed plugin reads ``[plugins.<section>]`` (once per process).

    A warning, not an error: a shared file may configure optional plugins. Logged on every run,
    the CLI's quick paths included (the start-up cache keeps the unknown sections).
    """
    if section in _told_unknown:
        return
    _told_unknown.add(section)
    log.warning("unknown_plugin_section", section=f"plugins.{section}")


def forget_warnings() -> None:
    """Warn again about sections already warned about (tests: one process, several runs)."""
    _warned.clear()
    _told_unknown.clear()


def show_on_stderr() -> None:
    """Show these warnings on every run as ``tfpilot: warning: <message>`` (the CLI's choice).

    Python shows a ``DeprecationWarning`` raised outside ``__main__`` to nobody by default; the
    CLI's users are the ones who can rename the section.
    """
    import sys

    warnings.simplefilter("always", PluginSectionDeprecationWarning)
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, PluginSectionDeprecationWarning):
            print(f"tfpilot: warning: {message}", file=sys.stderr)
            return
        previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
