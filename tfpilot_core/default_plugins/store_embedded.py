"""The default store, ``embedded``: a SQLite database under tfpilot's home directory.

Selected by ``[core] store = "embedded"`` (the default); settings in
``[plugins.store_embedded]`` (``[plugins.embedded]`` is its deprecated name; see
:mod:`tfpilot_core.stores.embedded`). This module only holds the hook: the settings model and
the store are imported when the hook is called, which keeps plugin discovery (and
``tfpilot --help``) from loading pydantic and sqlite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration

#: The settings section, named after the plugin, and the name it had before (still read,
#: with a deprecation warning: :mod:`tfpilot_core.plugin_sections`).
SECTION = "store_embedded"
DEPRECATED_SECTIONS = ("embedded",)

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store


@hookimpl
def tfpilot_register_stores() -> list[Registration[Store]]:
    """Register the ``embedded`` store (SQLite in WAL mode, the default)."""
    return [
        Registration(
            name="embedded",
            factory="tfpilot_core.stores.embedded:build_store",
            settings_model="tfpilot_core.stores.embedded:EmbeddedStoreSettings",
            settings_section=SECTION,
            deprecated_sections=DEPRECATED_SECTIONS,
            description="SQLite database in WAL mode under tfpilot's home (the default store)",
        )
    ]
