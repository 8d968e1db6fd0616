"""Versions of tfpilot's on-disk layouts, in a module that imports nothing.

Both the embedded store (:mod:`tfpilot_core.stores.sqlite`) and the CLI's quick paths
(:mod:`tfpilot_core.cli.startup_cache`, which must not import the store's module) read them
from here.
"""

from __future__ import annotations

#: The embedded store's layout version, written to ``PRAGMA user_version``; a newer database
#: is refused.
SQLITE_SCHEMA_VERSION = 1
