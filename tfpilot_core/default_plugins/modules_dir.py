"""The default module source, ``modules_dir``: Terraform modules in local directories.

Settings in ``[plugins.modules_dir]`` (``paths``, default ``["modules"]``); see
:mod:`tfpilot_core.catalog.modules_dir`. Only the hook lives here, so discovering plugins does
not import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import ModuleSource
    from tfpilot_core.registrations import Registration

NAME = "modules_dir"


@hookimpl
def tfpilot_register_module_sources() -> list[Registration[ModuleSource]]:
    """Register the ``modules_dir`` module source."""
    from tfpilot_core.catalog.modules_dir import ModulesDirSettings, build_source
    from tfpilot_core.registrations import Registration

    return [
        Registration(
            name=NAME,
            factory=build_source,
            settings_model=ModulesDirSettings,
            description="Terraform modules in local directories (default: ./modules)",
        )
    ]
