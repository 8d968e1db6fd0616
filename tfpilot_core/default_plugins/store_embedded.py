"""The default store, ``embedded``: a SQLite database under tfpilot's home directory.

Selected by ``[core] store = "embedded"`` (the default); settings in ``[plugins.embedded]`` (see
:mod:`tfpilot_core.stores.embedded`). This module only holds the hook: the settings model and
the store are imported when the hook is called, which keeps plugin discovery (and
``tfpilot --help``) from loading pydantic and sqlite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.registrations import Registration


@hookimpl
def tfpilot_register_stores() -> list[Registration[Store]]:
    """Register the ``embedded`` store (SQLite in WAL mode, the default)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_core.stores.embedded import EmbeddedStoreSettings, build_store

    return [
        Registration(
            name="embedded",
            factory=build_store,
            settings_model=EmbeddedStoreSettings,
            description="SQLite database in WAL mode under tfpilot's home (the default store)",
        )
    ]
