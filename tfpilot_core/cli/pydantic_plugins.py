"""Pydantic's plugin discovery, answered from tfpilot's entry-point cache.

The first time pydantic builds a model's validator it looks for pydantic plugins (entry point
group ``pydantic``), and its loader module imports :mod:`importlib.metadata` to do so: ``email``,
``zipfile``, ``csv`` and friends, about as much as ``import click``, on every command that
validates anything. That undoes what tfpilot's own entry-point cache
(:mod:`tfpilot_core.entrypoints`) saves.

The CLI asks the same cache (valid while nothing is installed, upgraded or removed) whether any
distribution registers a pydantic plugin. When none does, it puts in place, before pydantic
loads its own loader, a loader that finds none: exactly what pydantic's would find. When one
does, or the cache is off (``TFPILOT_NO_CACHE``), or pydantic is not a version whose loader
this stands in for, nothing changes and pydantic discovers its plugins itself.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from tfpilot_core.entrypoints import cached_group

if TYPE_CHECKING:
    from importlib.abc import Loader

#: Pydantic's plugin entry-point group, and the module whose discovery this answers.
PYDANTIC_GROUP = "pydantic"
LOADER = "pydantic.plugin._loader"
#: Pydantic versions whose loader offers exactly ``get_plugins()`` (plugins came in 2.5).
_KNOWN = ((2, 5), (3, 0))


def _known_pydantic() -> bool:
    try:
        from pydantic.version import VERSION  # imported by ``import pydantic`` anyway
    except ImportError:
        return False
    try:
        major, minor = (int(part) for part in VERSION.split(".")[:2])
    except ValueError:
        return False
    return _KNOWN[0] <= (major, minor) < _KNOWN[1]


def _get_plugins() -> tuple[Any, ...]:
    """No pydantic plugin is installed (the entry-point cache said so)."""
    return ()


class _NoPluginsLoader:
    """Makes the stand-in loader module: pydantic's names, and no plugins."""

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        module.PYDANTIC_ENTRY_POINT_GROUP = PYDANTIC_GROUP  # type: ignore[attr-defined]
        module._plugins = {}  # type: ignore[attr-defined]
        module._loading_plugins = False  # type: ignore[attr-defined]
        module.get_plugins = _get_plugins  # type: ignore[attr-defined]


class _Finder:
    """Answers the import of pydantic's plugin loader, once, when it happens: a command that
    never builds a validator never reads the cache (nor imports pydantic)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != LOADER:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if not _known_pydantic() or cached_group(PYDANTIC_GROUP):
            return None  # installed plugins: pydantic's own loader finds and loads them
        # A loader by protocol (create_module, exec_module): importlib.abc is not imported.
        return ModuleSpec(LOADER, cast("Loader", _NoPluginsLoader()))


def answer_from_cache() -> bool:
    """Stand in for pydantic's plugin loader if no pydantic plugin turns out to be installed.

    Returns whether the stand-in is in place (it decides when pydantic first asks). Called
    once by the CLI's entry point, before any model is built.
    """
    if LOADER in sys.modules or os.environ.get("TFPILOT_NO_CACHE"):
        return False
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True
