"""Settings and factory of the default ``embedded`` store (a SQLite database under tfpilot's home).

Selected by ``[core] store = "embedded"`` (the default). Settings, in
``[plugins.store_embedded]`` (``[plugins.embedded]`` before):

``path``
    The database file. Default ``<home>/tfpilot.db``; a relative path is taken relative to the
    directory of the configuration file (or to the home directory when there is none).
``synchronous``
    ``"FULL"`` (default; an acknowledged write survives a power loss) or ``"NORMAL"``.
``busy_timeout``
    Seconds a write waits for another process's write lock before failing (default 30).

See ``docs/store.md`` and :mod:`tfpilot_core.stores.sqlite`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.paths import database_file
from tfpilot_core.registrations import PluginContext
from tfpilot_core.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store

#: The file name of the database in tfpilot's home directory.
DEFAULT_FILE_NAME = "tfpilot.db"


class EmbeddedStoreSettings(BaseModel):
    """The ``[plugins.store_embedded]`` section."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = None
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout: float = Field(default=30.0, gt=0)


def database_path(settings: EmbeddedStoreSettings, context: PluginContext) -> Path:
    """Where the database of these settings lives (:func:`tfpilot_core.paths.database_file`)."""
    return Path(
        database_file(
            None if settings.path is None else str(settings.path),
            str(context.home),
            None if context.config_path is None else str(context.config_path),
        )
    )


def build_store(settings: EmbeddedStoreSettings, context: PluginContext) -> Store:
    """The factory: opens (creating if needed) the SQLite store of ``settings``."""
    # Imported here: a configuration that selects another store never loads this one.

    return SQLiteStore(
        database_path(settings, context),
        synchronous=settings.synchronous,
        busy_timeout=settings.busy_timeout,
        stale_after=timedelta(seconds=context.stale_after_seconds),
    )
