"""Notifications: events routed to people and channels through a durable outbox.

* :mod:`~tfpilot_core.notifications.settings`: the ``[notifications]`` section;
* :mod:`~tfpilot_core.notifications.routing`: who hears about an event (authors, approvers who
  may read the request, channels per environment or project);
* :mod:`~tfpilot_core.notifications.preferences`: per-user channels, events, environments, mute,
  quiet hours and the daily drift digest, kept in the store;
* :mod:`~tfpilot_core.notifications.service`: the outbox (record, send within a budget, retry
  with backoff, dead-letter) and digests;
* :mod:`~tfpilot_core.notifications.render`: one message, rendered once per format (text, HTML,
  Slack Block Kit);
* :mod:`~tfpilot_core.notifications.runbooks`: :func:`runbook_url`, for failure notifications,
  the CLI's error output and the timeline.

This module imports nothing heavy: the configuration loads its settings model at start.
"""

from __future__ import annotations

import importlib
from typing import Any

from tfpilot_core.notifications.errors import DeliveryDeferred, DeliveryRejected
from tfpilot_core.notifications.runbooks import runbook_url

__all__ = ["DeliveryDeferred", "DeliveryRejected", "Notifications", "runbook_url"]


def __getattr__(name: str) -> Any:
    # PEP 562: the outbox sits above the lifecycle kernel, which this package's light parts
    # (errors, runbooks, settings) sit below; resolved on first use.
    if name == "Notifications":
        return importlib.import_module("tfpilot_core.notifications.service").Notifications
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
