"""Hook implementations of the ``notify_email`` plugin: registers the notifier ``email``.

Settings in ``[plugins.notify_email]`` (:class:`~tfpilot_notify_email.settings.EmailSettings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Notifier
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_notify_email.settings import EmailSettings

NAME = "email"
SECTION = "notify_email"


def build_notifier(settings: EmailSettings, context: PluginContext) -> Notifier:
    """The factory: an :class:`~tfpilot_notify_email.notifier.EmailNotifier`."""
    from tfpilot_notify_email.notifier import EmailNotifier

    return EmailNotifier(settings)


@hookimpl
def tfpilot_register_notifiers() -> list[Registration[Notifier]]:
    """Register the ``email`` notifier (SMTP, text + HTML)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_notify_email.settings import EmailSettings

    return [
        Registration(
            name=NAME,
            factory=build_notifier,
            settings_model=EmailSettings,
            settings_section=SECTION,
            description="email over SMTP (STARTTLS or TLS), text and HTML",
        )
    ]
