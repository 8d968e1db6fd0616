"""Hook implementations of the ``store_s3`` plugin: registers the store ``s3``.

Users select it with ``[core] store = "s3"``. The core validates the plugin's section,
``[plugins.store_s3]``, with :class:`~tfpilot_store_s3.settings.S3StoreSettings`. boto3 is
imported only by the factory, so ``tfpilot --help`` and configurations that use another store
never pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_store_s3.settings import S3StoreSettings

#: The name users select with ``[core] store``.
NAME = "s3"
#: The configuration section, named after the plugin.
SECTION = "store_s3"


def build_store(settings: S3StoreSettings, context: PluginContext) -> Store:
    """The factory: an :class:`~tfpilot_store_s3.store.S3Store` for ``settings``.

    It checks the bucket once (one ``HeadBucket``), so that a missing bucket, missing rights or a
    wrong region are reported when tfpilot starts, naming the bucket and the region.
    """
    # Imported here, with boto3 behind it: only a configuration that selects this store pays.
    from tfpilot_store_s3.store import S3Store

    store = S3Store.from_settings(settings)
    store.check_bucket()
    return store


@hookimpl
def tfpilot_register_stores() -> list[Registration[Store]]:
    """Register the ``s3`` store (S3 with conditional writes)."""
    # Imported here: the settings model loads pydantic, which plugin discovery must not pay for.
    from tfpilot_core.registrations import Registration
    from tfpilot_store_s3.settings import S3StoreSettings

    return [
        Registration(
            name=NAME,
            factory=build_store,
            settings_model=S3StoreSettings,
            settings_section=SECTION,
            description="requests, events, artifacts and records in S3 with conditional writes",
        )
    ]
