"""Hook implementations of the ``runner_github`` plugin.

Registers the runner ``github`` (``[core] runner = "github"``), an event observer of the same
name that keeps the PR comment and check runs current, and the ``tfpilot webhook`` command. All
share the ``[plugins.runner_github]`` section (``[plugins.github]`` before, still read with a
deprecation warning; :class:`~tfpilot_runner_github.settings.GitHubSettings`).
PyGithub, FastAPI and uvicorn are imported only by the factories and the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl
from tfpilot_core.plugin_sections import lookup
from tfpilot_core.registrations import Registration
from tfpilot_runner_github.registration import DEPRECATED_SECTIONS, SECTION
from tfpilot_runner_github.registration import NAME as NAME
from tfpilot_runner_github.registration import infra_for as infra_for
from tfpilot_runner_github.registration import settings_for as settings_for

if TYPE_CHECKING:
    import click

    from tfpilot_core.interfaces import EventObserver, Runner


@hookimpl
def tfpilot_register_runners() -> list[Registration[Runner]]:
    """Register the ``github`` runner (runs in GitHub Actions)."""
    return [
        Registration(
            name=NAME,
            factory="tfpilot_runner_github.registration:build_runner",
            settings_model="tfpilot_runner_github.settings:GitHubSettings",
            settings_section=SECTION,
            deprecated_sections=DEPRECATED_SECTIONS,
            description="Terraform runs dispatched to GitHub Actions in the infra repository",
        )
    ]


@hookimpl
def tfpilot_register_event_observers() -> list[Registration[EventObserver]]:
    """Register the ``github`` observer (keeps the PR comment and check runs current)."""
    return [
        Registration(
            name=NAME,
            factory="tfpilot_runner_github.registration:build_observer",
            settings_model="tfpilot_runner_github.settings:GitHubSettings",
            settings_section=SECTION,
            deprecated_sections=DEPRECATED_SECTIONS,
            description="the PR comment and the plan's check run of each request",
        )
    ]


@hookimpl
def tfpilot_register_routes() -> list[Registration[Any]]:
    """Mount the webhook receiver in ``tfpilot serve`` (tfpilot-web) at ``/hooks/github``.

    Only when ``[plugins.runner_github]`` has a ``webhook_secret``: without one nothing could be
    verified, so nothing is mounted (the factory returns ``None``).
    """

    def routes(settings: Any, context: Any) -> Any:
        from tfpilot_core.registrations import Routes

        plugins = context.host.config.plugins if context.host else {}
        _, section = lookup(plugins, SECTION, DEPRECATED_SECTIONS)
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
