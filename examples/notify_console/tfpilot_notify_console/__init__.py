"""tfpilot plugin: print one line per lifecycle event to the console (the hook module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpilot_core import hookimpl

if TYPE_CHECKING:  # tfpilot imports this module on every start: nothing heavy at run time
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_notify_console.console import ConsoleNotifier, Settings


def build(settings: Settings, context: PluginContext) -> ConsoleNotifier:
    """The factory, called only if the notifier is selected: the implementation loads here."""
    from tfpilot_notify_console.console import ConsoleNotifier

    return ConsoleNotifier(settings)


@hookimpl
def tfpilot_register_notifiers() -> list[Registration[ConsoleNotifier]]:
    """Offer the ``notify_console`` notifier; the core validates its settings with ``Settings``."""
    from tfpilot_core.registrations import Registration  # the settings model loads pydantic
    from tfpilot_notify_console.console import Settings

    return [Registration("notify_console", build, Settings, "Print events to the console")]
