"""The default module source, ``modules_dir``: Terraform modules in local directories.

Settings in ``[plugins.modules_dir]`` (``paths``, default ``["modules"]``); see
:mod:`tfpilot_core.catalog.modules_dir`. Only the hook lives here, so discovering plugins does
not import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration

if TYPE_CHECKING:
    from tfpilot_core.interfaces import ModuleSource

NAME = "modules_dir"


@hookimpl
def tfpilot_register_module_sources() -> list[Registration[ModuleSource]]:
    """Register the ``modules_dir`` module source (imported when first used)."""
    return [
        Registration(
            name=NAME,
            factory="tfpilot_core.catalog.modules_dir:build_source",
            settings_model="tfpilot_core.catalog.modules_dir:ModulesDirSettings",
            description="Terraform modules in local directories (default: ./modules)",
        )
    ]
