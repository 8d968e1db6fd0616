"""Hook implementations of the ``sandbox`` plugin.

Everything registers under one name, ``sandbox``, sharing one settings model
(:class:`~tfpilot_sandbox.settings.SandboxSettings`, section ``[plugins.sandbox]``). Imports happen
inside the hooks and factories so that loading the plugin costs almost nothing; the ``tf``
framework is never imported here at all (only the provider process imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    import click

    from tfpilot_core.interfaces import CostEstimator, ModuleSource
    from tfpilot_core.registrations import PluginContext, ProviderMirror, Registration
    from tfpilot_sandbox.settings import SandboxSettings

NAME = "sandbox"


def make_provider_mirror(
    settings: SandboxSettings | None, context: PluginContext
) -> ProviderMirror:
    """Write (idempotently) the provider executable and describe the mirror for runners.

    The root directory is created here so that the first ``apply`` does not race on it.
    """
    from tfpilot_core.registrations import ProviderMirror
    from tfpilot_sandbox import PROVIDER_SOURCE, ROOT_ENV
    from tfpilot_sandbox.mirror import ensure_mirror
    from tfpilot_sandbox.settings import mirror_dir, sandbox_root

    directory = mirror_dir(settings, context.home)
    ensure_mirror(directory)
    root = sandbox_root(settings, context.home)
    # The sandbox's "cloud" objects are request data too: private (0700) whatever the umask.
    from tfpilot_core.files import private_dir

    private_dir(root)
    return ProviderMirror(source=PROVIDER_SOURCE, directory=directory, env={ROOT_ENV: str(root)})


def make_module_source(settings: SandboxSettings | None, context: PluginContext) -> ModuleSource:
    """The modules packaged with the plugin."""
    from tfpilot_sandbox.source import SandboxModuleSource

    return SandboxModuleSource()


def make_cost_estimator(settings: SandboxSettings | None, context: PluginContext) -> CostEstimator:
    """The static price list."""
    from tfpilot_sandbox.cost import SandboxCostEstimator

    return SandboxCostEstimator()


@hookimpl
def tfpilot_register_provider_mirrors() -> list[Registration[ProviderMirror]]:
    """The ``tfpilot/sandbox`` provider, from a mirror generated under tfpilot's home."""
    from tfpilot_core.registrations import Registration
    from tfpilot_sandbox.settings import SandboxSettings

    return [
        Registration(
            name=NAME,
            factory=make_provider_mirror,
            settings_model=SandboxSettings,
            description="Terraform provider tfpilot/sandbox 0.1.0 from a local mirror",
        )
    ]


@hookimpl
def tfpilot_register_module_sources() -> list[Registration[ModuleSource]]:
    """``sandbox/bucket``, ``sandbox/queue``, ``sandbox/instance``."""
    from tfpilot_core.registrations import Registration
    from tfpilot_sandbox.settings import SandboxSettings

    return [
        Registration(
            name=NAME,
            factory=make_module_source,
            settings_model=SandboxSettings,
            description="Sandbox modules packaged with the plugin",
        )
    ]


@hookimpl
def tfpilot_register_cost_estimators() -> list[Registration[CostEstimator]]:
    """A static monthly price list for sandbox resources."""
    from tfpilot_core.registrations import Registration
    from tfpilot_sandbox.settings import SandboxSettings

    return [
        Registration(
            name=NAME,
            factory=make_cost_estimator,
            settings_model=SandboxSettings,
            description="Static monthly price list of sandbox resources",
        )
    ]


@hookimpl
def tfpilot_register_commands(cli: click.Group) -> None:
    """``tfpilot sandbox ls`` and ``tfpilot sandbox edit``."""
    from tfpilot_sandbox.commands import register

    register(cli)
