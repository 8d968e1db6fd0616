"""Hook implementations of the ``notify_slack`` plugin: registers the notifier ``slack``.

Settings in ``[plugins.notify_slack]`` (:class:`~tfpilot_notify_slack.settings.SlackSettings`).
slack-sdk is imported only by the factory, so ``tfpilot --help`` never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Notifier
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_notify_slack.settings import SlackSettings

#: The name used in ``[core] notifiers``, channel routes and preferences.
NAME = "slack"
SECTION = "notify_slack"


def build_notifier(settings: SlackSettings, context: PluginContext) -> Notifier:
    """The factory: a :class:`~tfpilot_notify_slack.notifier.SlackNotifier`."""
    from tfpilot_notify_slack.notifier import SlackNotifier

    return SlackNotifier(settings)


@hookimpl
def tfpilot_register_notifiers() -> list[Registration[Notifier]]:
    """Register the ``slack`` notifier (Block Kit messages, webhooks or a bot token)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_notify_slack.settings import SlackSettings

    return [
        Registration(
            name=NAME,
            factory=build_notifier,
            settings_model=SlackSettings,
            settings_section=SECTION,
            description="Slack messages (Block Kit) by bot token or incoming webhook",
        )
    ]
