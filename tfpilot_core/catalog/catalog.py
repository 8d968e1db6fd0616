"""The module catalog: every module offered by every module source, loaded on first use."""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from tfpilot_core.errors import ConfigError, NotFoundError
from tfpilot_core.interfaces import ModuleLocation, ModuleSource

from .spec import ModuleSpec, load_module

__all__ = ["MODULE_NAME_PATTERN", "Catalog", "is_valid_module_name"]

#: Module names: lowercase path segments, e.g. ``sandbox/bucket`` or ``aws/s3-bucket``.
MODULE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*")


def is_valid_module_name(name: object) -> bool:
    """True when ``name`` is a well-formed module name (safe as a relative path)."""
    return isinstance(name, str) and MODULE_NAME_PATTERN.fullmatch(name) is not None


class Catalog:
    """The modules of all sources, by name.

    Built from ``(source_name, location)`` pairs. Nothing is read until first use: then the
    locations are collected once (two sources offering one name is a
    :class:`~tfpilot_core.errors.ConfigError` naming both), and each module's specification is
    loaded when first asked for and cached.

    Safe under concurrent use (a server's threads): the index is built once, and each module is
    loaded once, by the first thread to ask; the others wait for that load and share its result.
    """

    def __init__(self, locations: Iterable[tuple[str, ModuleLocation]]) -> None:
        self._pending: Iterable[tuple[str, ModuleLocation]] | None = locations
        self._locations: dict[str, tuple[str, ModuleLocation]] = {}
        self._specs: dict[str, ModuleSpec] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @classmethod
    def from_sources(cls, sources: Mapping[str, ModuleSource]) -> Catalog:
        """A catalog over named :class:`~tfpilot_core.interfaces.ModuleSource` objects."""

        def pairs() -> Iterable[tuple[str, ModuleLocation]]:
            for source_name, source in sources.items():
                for location in source.modules():
                    yield source_name, location

        return cls(pairs())

    def _index(self) -> dict[str, tuple[str, ModuleLocation]]:
        if self._pending is None:
            return self._locations
        with self._lock:
            return self._build_index()

    def _build_index(self) -> dict[str, tuple[str, ModuleLocation]]:
        if self._pending is None:  # another thread built it while this one waited
            return self._locations
        index: dict[str, tuple[str, ModuleLocation]] = {}
        for source_name, location in self._pending:
            name = location.name
            if not is_valid_module_name(name):
                raise ConfigError(
                    f"module name {name!r} (at {location.path}) is not valid: use lowercase"
                    " letters, digits and hyphens in '/'-separated segments",
                    source=f"module source {source_name!r}",
                )
            if name in index:
                other_source, other = index[name]
                raise ConfigError(
                    f"module {name!r} is offered by two sources: {other_source!r} ({other.path})"
                    f" and {source_name!r} ({location.path})",
                    source=f"module sources {other_source!r} and {source_name!r}",
                )
            index[name] = (source_name, location)
        self._locations = dict(sorted(index.items()))
        self._pending = None
        return self._locations

    def names(self) -> list[str]:
        """Every module name, sorted (without loading the modules)."""
        return list(self._index())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._index()

    def list(self) -> list[ModuleSpec]:
        """Every module's specification, sorted by name (loads every module)."""
        return [self.get(name) for name in self._index()]

    def get(self, name: str) -> ModuleSpec:
        """The specification of module ``name``; NotFoundError (with close names) if unknown."""
        cached = self._specs.get(name)
        if cached is not None:
            return cached
        index = self._index()
        if name not in index:
            raise NotFoundError(self._not_found_message(name))
        with self._lock:
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            cached = self._specs.get(name)
            if cached is not None:
                return cached  # loaded by the thread this one waited for
            source_name, location = index[name]
            if not location.source:
                location = ModuleLocation(
                    name=location.name, path=location.path, source=source_name
                )
            spec = load_module(location)
            self._specs[name] = spec
            return spec

    def location(self, name: str) -> Path:
        """The directory of module ``name`` (without parsing it)."""
        index = self._index()
        if name not in index:
            raise NotFoundError(self._not_found_message(name))
        return Path(index[name][1].path)

    def _not_found_message(self, name: str) -> str:
        names = list(self._index())
        if not isinstance(name, str):
            return f"module {name!r} does not exist"
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        # "bucket" should find "sandbox/bucket": also match on the last segment.
        last = name.rsplit("/", 1)[-1]
        close += [n for n in names if n.rsplit("/", 1)[-1] == last and n not in close]
        message = f"module {name!r} does not exist"
        if close:
            message += f"; did you mean {', '.join(close[:5])}?"
        elif names:
            message += f" (available: {', '.join(names[:20])})"
        else:
            message += " (the catalog is empty)"
        return message
