"""Per-user notification preferences, kept in the store (namespace ``notify_prefs``).

Users set their own; admins anyone's (checked by :class:`~tfpilot_core.notifications.service.
Notifications`). A user without a document gets the defaults: every routed event, every
environment, on every channel that has an address for them in ``[users.<name>]``.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAMESPACE = "notify_prefs"
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
#: Channel addresses: Slack ids and channel names, email addresses. No spaces or control
#: characters; the channel plugin checks the form it needs.
_ADDRESS = re.compile(r"^[^\s\x00-\x1f\x7f]{1,254}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class QuietHours(BaseModel):
    """A daily window (``22:00``-``07:00``, in ``timezone``) when messages wait instead."""

    model_config = ConfigDict(extra="forbid")

    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use HH:MM (24-hour), e.g. 22:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty or all day")
        return self

    def release_at(self, now: datetime) -> datetime | None:
        """When a message due at ``now`` may go: ``None`` when outside the window."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start = time.fromisoformat(self.start)
        end = time.fromisoformat(self.end)
        t = local.timetz().replace(tzinfo=None)
        inside = start <= t < end if start < end else (t >= start or t < end)
        if not inside:
            return None
        day = local.date()
        if not start < end and t >= start:
            day = day + timedelta(days=1)
        released = datetime.combine(day, end, tzinfo=zone)
        return released.astimezone(now.tzinfo)


class Preferences(BaseModel):
    """One user's preferences (the stored document; ``tfpilot notify prefs set``)."""

    model_config = ConfigDict(extra="forbid")

    #: Notifier name -> address (a Slack user id such as ``U123`` or a DM channel, an email
    #: address); ``None`` turns that channel off. Channels not named use ``[users.<name>]``.
    channels: dict[str, str | None] = Field(default_factory=dict)
    #: ``None``: every routed event.
    events: list[str] | None = None
    #: ``None``: every environment.
    environments: list[str] | None = None
    #: Nothing is sent at all (digests neither).
    mute: bool = False
    quiet_hours: QuietHours | None = None
    #: Drift detections wait for one daily message (``tfpilot notify digest``).
    drift_digest: bool = False

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for name, address in value.items():
            if not _NAME.match(name):
                raise ValueError(f"channel {name!r}: use a notifier name such as slack or email")
            if address is not None and not _ADDRESS.match(address):
                raise ValueError(f"channel {name!r}: address must be 1-254 characters, no spaces")
        return value

    @field_validator("events", "environments")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for item in value:
                if not re.match(r"^[a-z][a-z0-9_]{0,63}$", item):
                    raise ValueError(f"{item!r} is not an event or environment name")
        return value

    def wants(self, event: str, environment: str) -> bool:
        """Whether this user is told about ``event`` in ``environment`` at all."""
        if self.mute:
            return False
        if self.events is not None and event not in self.events:
            return False
        return self.environments is None or environment in self.environments

    def address(self, notifier: str, default: str | None) -> str | None:
        """The address on ``notifier`` (the preference, else ``default``); ``None``: not there."""
        if notifier in self.channels:
            return self.channels[notifier]
        return default


def parse(raw: Any) -> Preferences:
    """A preferences document from outside (CLI ``--file``, the store): validated."""
    return Preferences.model_validate(raw)
