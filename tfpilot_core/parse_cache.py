"""A cache of parsed module ``*.tf`` files, keyed by their content, for the CLI's start-up.

``tfpilot modules list`` would otherwise import lark and hcl2 and parse every file of every module
on every run: most of its start-up time. A parse is stored as JSON under
``$XDG_CACHE_HOME/tfpilot/hcl/<sha256>.json``, keyed by the file's text and the installed parser
(the modification time of the ``hcl2`` package, found without importing it), so an edited file
or an upgraded parser is parsed again. Only the CLI turns the cache on (:func:`enable`), so that
library use and tests write nothing under ``~``; ``TFPILOT_NO_CACHE=1`` turns it off, as for the
entry point cache. This module imports nothing costly: the CLI imports it at start.
"""

from __future__ import annotations

import os
from typing import Any

_FORMAT = 1
_enabled = False


def enable(on: bool = True) -> None:
    """Cache parses from now on (called by the CLI's entry point)."""
    global _enabled
    _enabled = on


def path_for(text: str) -> str | None:
    """Where the parse of ``text`` is cached, or ``None`` when caching is off or impossible."""
    if not _enabled or os.environ.get("TFPILOT_NO_CACHE"):
        return None
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("hcl2")
    if spec is None or spec.origin is None:
        return None
    try:
        parser = os.stat(os.path.dirname(spec.origin)).st_mtime_ns
    except OSError:
        return None
    digest = hashlib.sha256(f"{_FORMAT}\0{parser}\0{text}".encode()).hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfpilot", "hcl", f"{digest}.json")


def load(path: str | None) -> dict[str, Any] | None:
    """The cached parse at ``path``; ``None`` when there is none (or it is unreadable)."""
    if path is None:
        return None
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, dict) else None


def store(path: str | None, parsed: dict[str, Any]) -> None:
    """Write one parse atomically (private: 0700 directory); a read-only home only costs speed."""
    if path is None:
        return
    import json

    try:
        text = json.dumps(parsed)
    except (TypeError, ValueError):
        return  # a value JSON cannot hold: not worth caching
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        pass
