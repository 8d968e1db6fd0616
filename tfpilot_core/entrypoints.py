"""Entry points of group ``tfpilot``, with an on-disk cache for the CLI's start-up.

Importing :mod:`importlib.metadata` costs about 25 ms (it pulls in ``email``, ``zipfile`` and
``csv``), a third of ``tfpilot --help``. The CLI therefore keeps what the last scan found in a
small JSON file, valid while every directory on ``sys.path`` keeps its modification time: pip
creates or removes a ``*.dist-info`` directory on every install, upgrade or uninstall, which
changes its parent's modification time and so invalidates the cache. ``TFPILOT_NO_CACHE=1``
turns the cache off.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import zlib
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

GROUP = "tfpilot"
_FORMAT = 1


class EntryPointInfo(NamedTuple):
    """One entry point: plugin name, ``module[:attr]`` value, distribution and its version."""

    name: str
    value: str
    distribution: str
    version: str


def scan() -> list[EntryPointInfo]:
    """Every entry point of group ``tfpilot``, from installed distributions (no cache)."""
    return _scan_group(GROUP)


def _scan_group(group: str) -> list[EntryPointInfo]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=group):
        dist = ep.dist
        found.append(
            EntryPointInfo(
                ep.name,
                ep.value,
                dist.name if dist is not None else "unknown",
                dist.version if dist is not None else "",
            )
        )
    return sorted(found)


def fingerprint() -> list[list[object]]:
    """This interpreter and the modification time of every ``sys.path`` directory: it changes
    on every install, upgrade or uninstall (the key of the caches of installed code)."""
    key: list[list[object]] = [[sys.executable, _FORMAT]]
    for entry in sys.path:
        try:
            key.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            key.append([entry, None])
    return key


def cache_file(group: str = GROUP) -> str:
    """Where the cache of this interpreter lives (``$XDG_CACHE_HOME/tfpilot``), for ``group``.

    Plain ``os.path`` and ``zlib`` rather than ``pathlib`` and ``hashlib``: this runs on every
    start of the CLI, and those two imports alone cost about a tenth of ``tfpilot --help``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = f"{zlib.crc32(sys.executable.encode()):08x}"
    name = "entry-points" if group == GROUP else f"entry-points-{group}"
    return os.path.join(base, "tfpilot", f"{name}-{tag}.json")


def cached_scan() -> list[EntryPointInfo]:
    """:func:`scan`, answered from the cache when nothing on ``sys.path`` changed."""
    return _cached(GROUP, scan)


def cached_group(group: str) -> list[EntryPointInfo]:
    """The entry points of another ``group``, cached as :func:`cached_scan` caches tfpilot's.

    The CLI asks it for pydantic's plugin group (:mod:`tfpilot_core.cli.pydantic_plugins`).
    """
    return _cached(group, lambda: _scan_group(group))


def _cached(group: str, scan: Callable[[], list[EntryPointInfo]]) -> list[EntryPointInfo]:
    if os.environ.get("TFPILOT_NO_CACHE"):
        return scan()
    path = cache_file(group)
    key = fingerprint()
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("key") == key:
            return [EntryPointInfo(*item) for item in data["entry_points"]]
    except (OSError, ValueError, TypeError, KeyError):
        pass  # missing or unreadable: scan again
    found = scan()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"key": key, "entry_points": found}, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs speed
    return found


def load_object(value: str) -> Any:
    """Import ``module[:attr]`` as ``EntryPoint.load`` does (entry points, lazy registrations)."""
    module_name, _, attr = value.partition(":")
    target: Any = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        target = getattr(target, part)
    return target
