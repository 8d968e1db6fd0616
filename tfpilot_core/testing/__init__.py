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
from tfpilot_core.interfaces import ModuleLocation
from tfpilot_core.models import Event
from tfpilot_core.registrations import Registration
from tfpilot_core.testing.store_conformance import make_request as build


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

    class _Source:
        def modules(self) -> list[ModuleLocation]:
            return [ModuleLocation(name=n, path=p, source=name) for n, p in modules.items()]

    return plugin_with(
        "tfpilot_register_module_sources",
        lambda: [Registration(name=name, factory=lambda settings, context: _Source())],
    )


def make_request(request_id: str = "req-1", **fields: Any) -> Any:
    """A minimal valid :class:`~tfpilot_core.models.Request` (version 0, not stored yet).

    Keyword arguments: ``environment``, ``module``, ``project``, ``author``, ``created_at``,
    ``inputs``, ``runs`` (see :func:`tfpilot_core.testing.store_conformance.make_request`).
    """

    return build(request_id, **fields)


def make_event(request_id: str = "req-1", type_: str = "request_created", **fields: Any) -> Any:
    """An :class:`~tfpilot_core.models.Event` of ``type_`` for ``request_id`` (``data``,
    ``actor``, ``seq``... as keyword arguments), as an observer or notifier receives it."""

    return Event(request_id=request_id, type=type_, **fields)
