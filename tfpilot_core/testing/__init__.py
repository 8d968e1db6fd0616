"""Test helpers for tfpilot and for plugin authors.

Installed as a pytest plugin (``pytest11`` entry point), so these fixtures are available in any
project that has ``tfpilot-core`` installed; see :mod:`tfpilot_core.testing.fixtures`. The store
conformance suite lives in :mod:`tfpilot_core.testing.store_conformance`.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
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


def module_source_plugin(modules: Mapping[str, Path], *, name: str = "test") -> object:
    """A plugin offering catalog modules from directories: ``{"test/bucket": path}``."""
    from tfpilot_core.interfaces import ModuleLocation

    class _Source:
        def modules(self) -> list[ModuleLocation]:
            return [ModuleLocation(name=n, path=p, source=name) for n, p in modules.items()]

    return plugin_with(
        "tfpilot_register_module_sources",
        lambda: [Registration(name=name, factory=lambda settings, context: _Source())],
    )
