"""The settings and the notifier, imported only when tfpilot registers or builds the plugin."""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tfpilot_core.models import Event, Request


class Settings(BaseModel):
    """``[plugins.notify_console]``: which stream to print to, and what to start lines with."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored
    stream: Literal["stdout", "stderr"] = "stderr"
    prefix: str = "[tfpilot]"


class ConsoleNotifier:
    """Prints events; implements :class:`tfpilot_core.interfaces.Notifier`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def notify(self, event: Event, request: Request) -> None:
        """Print one line about ``event``; an exception here would be recorded, not raised."""
        line = f"{self.settings.prefix} {request.id}: {event.type} by {event.actor}"
        # Look the stream up on each call: tests and the CLI may have replaced sys.stdout.
        print(line, file=getattr(sys, self.settings.stream))
