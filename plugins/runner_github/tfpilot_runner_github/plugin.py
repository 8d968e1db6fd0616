"""Hook implementations of the ``runner_github`` plugin.

Registers the runner ``github`` (``[core] runner = "github"``), an event observer of the same
name that keeps the PR comment and check runs current, and the ``tfpilot webhook`` command. All
share the ``[plugins.github]`` section (:class:`~tfpilot_runner_github.settings.GitHubSettings`).
PyGithub, FastAPI and uvicorn are imported only by the factories and the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    import click

    from tfpilot_core.interfaces import EventObserver, Runner
    from tfpilot_core.platform import Platform
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_runner_github.infra import InfraRepo
    from tfpilot_runner_github.settings import GitHubSettings

#: The name users select with ``[core] runner`` (and the settings section).
NAME = "github"


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


@hookimpl
def tfpilot_register_runners() -> list[Registration[Runner]]:
    """Register the ``github`` runner (runs in GitHub Actions)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_runner_github.settings import GitHubSettings

    return [
        Registration(
            name=NAME,
            factory=build_runner,
            settings_model=GitHubSettings,
            description="Terraform runs dispatched to GitHub Actions in the infra repository",
        )
    ]


@hookimpl
def tfpilot_register_event_observers() -> list[Registration[EventObserver]]:
    """Register the ``github`` observer (keeps the PR comment and check runs current)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_runner_github.settings import GitHubSettings

    return [
        Registration(
            name=NAME,
            factory=build_observer,
            settings_model=GitHubSettings,
            description="the PR comment and the plan's check run of each request",
        )
    ]


@hookimpl
def tfpilot_register_routes() -> list[Registration[Any]]:
    """Mount the webhook receiver in ``tfpilot serve`` (tfpilot-web) at ``/hooks/github``.

    Only when ``[plugins.github]`` has a ``webhook_secret``: without one nothing could be
    verified, so nothing is mounted (the factory returns ``None``).
    """
    from tfpilot_core.registrations import Registration

    def routes(settings: Any, context: Any) -> Any:
        from tfpilot_core.registrations import Routes

        section = context.host.config.plugins.get(NAME) or {} if context.host else {}
        if not section.get("webhook_secret"):
            return None

        def app(platform: Any) -> Any:
            from tfpilot_runner_github.webhook import create_webhook_app

            return create_webhook_app(platform)

        return Routes(prefix="/hooks/github", app=app, description="GitHub webhook receiver")

    return [
        Registration(
            name="github_webhook",
            factory=routes,
            description="the GitHub webhook receiver, mounted by tfpilot serve",
            settings_section="github_webhook",
        )
    ]


@hookimpl
def tfpilot_register_commands(cli: click.Group) -> None:
    """Add ``tfpilot webhook serve``."""
    from tfpilot_runner_github.commands import webhook

    cli.add_command(webhook)
