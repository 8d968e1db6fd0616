"""Test helpers for tfpilot and for plugin authors.

Installed as a pytest plugin (``pytest11`` entry point), so these fixtures are available in any
project that has ``tfpilot-core`` installed; see :mod:`tfpilot_core.testing.fixtures`. The store
conformance suite lives in :mod:`tfpilot_core.testing.store_conformance`.
"""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration


def plugin_with(hook: str, registrations: Callable[[], list[Registration[Any]]]) -> object:
    """A plugin object implementing one registration hook, for ``register_plugin`` in tests.

    >>> plugin = plugin_with("tfpilot_register_notifiers", lambda: [Registration("x", factory)])
    """

    def implementation() -> list[Registration[Any]]:
        return registrations()

    implementation.__name__ = hook
    return SimpleNamespace(**{hook: hookimpl(implementation)})
