"""The ``github`` runner's and observer's factories, and the plugin's settings and infra-repo
lookups (a leaf module: the hooks, the webhook receiver and the tests import it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfpilot_core.interfaces import EventObserver, Runner
    from tfpilot_core.platform import Platform
    from tfpilot_core.registrations import PluginContext
    from tfpilot_runner_github.infra import InfraRepo
    from tfpilot_runner_github.settings import GitHubSettings

#: The name users select with ``[core] runner``.
NAME = "github"
#: The settings section, named after the plugin; ``[plugins.github]`` is its deprecated name
#: (still read, with a warning on every run).
SECTION = "runner_github"
DEPRECATED_SECTIONS = (NAME,)


def _store(context: PluginContext) -> Any:
    if context.host is None:
        from tfpilot_core.errors import ConfigError

        raise ConfigError("the github runner needs the plugin host (its store)", key="core.store")
    return context.host.store()


def build_runner(settings: GitHubSettings, context: PluginContext) -> Runner:
    """The factory of the ``github`` runner (dispatches to GitHub Actions)."""
    from tfpilot_runner_github.infra import InfraRepo
    from tfpilot_runner_github.runner import GitHubRunner

    return GitHubRunner(InfraRepo(settings, _store(context)))


def build_observer(settings: GitHubSettings, context: PluginContext) -> EventObserver:
    """The factory of the ``github`` observer (PR comment and check runs)."""
    from tfpilot_runner_github.infra import InfraRepo
    from tfpilot_runner_github.observer import GitHubObserver

    return GitHubObserver(
        InfraRepo(settings, _store(context)), stale_after_seconds=context.stale_after_seconds
    )


def settings_for(platform: Platform) -> GitHubSettings:
    """The validated ``[plugins.github]`` section of ``platform``'s configuration."""
    from tfpilot_core.errors import ConfigError
    from tfpilot_core.registrations import Kind

    for _, registration in platform.host.registrations(Kind.RUNNER):
        if registration.name == NAME:
            return platform.host.settings_for(registration)  # type: ignore[return-value]
    raise ConfigError("the runner_github plugin is not loaded", key="plugins.github")


def infra_for(platform: Platform) -> InfraRepo:
    """The infra repository of ``platform``'s ``[plugins.github]`` settings."""
    from tfpilot_runner_github.infra import InfraRepo

    return InfraRepo(settings_for(platform), platform.store)
