"""The ``[notifications]`` section: which events notify whom, delivery budget and retries.

It is validated with the rest of the file when the configuration loads (``FileSettings``), so a
misspelt key is an error at start naming ``notifications.<key>``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Events that notify people unless ``[notifications] events`` says otherwise.
DEFAULT_EVENTS: tuple[str, ...] = (
    "plan_failed",
    "approval_required",
    "rejected",
    "changes_requested",
    "apply_succeeded",
    "apply_failed",
    "drift_detected",
    "policy_blocked",
    "destroy_succeeded",
    "destroy_failed",
)

#: Failure kinds a runbook may be configured for (``[notifications.runbooks]``).
RUNBOOK_KINDS: tuple[str, ...] = (
    "plan_failed",
    "apply_failed",
    "destroy_failed",
    "drift_detected",
    "drift_check_failed",
    "policy_blocked",
    "notification_dead_lettered",
)

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: What a link or runbook template may use.
TEMPLATE_FIELDS = frozenset({"request", "module", "environment", "project", "event", "user"})


def check_template(value: str) -> str:
    """``value`` if every ``{placeholder}`` in it is one of :data:`TEMPLATE_FIELDS`."""
    for name in _PLACEHOLDER.findall(value):
        if name not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"unknown placeholder {{{name}}} (use {known})")
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


class ChannelRoute(BaseModel):
    """A channel that hears about requests of some environments or projects (``[[...channels]]``).

    ``notifier`` is a notifier's registration name (``slack``, ``email``); ``recipient`` its
    address (``#prod-changes``, ``C0123``, ``ops@example.com``).
    """

    model_config = ConfigDict(extra="forbid")

    notifier: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=256)
    #: Empty: every environment.
    environments: list[str] = Field(default_factory=list)
    #: Empty: every project.
    projects: list[str] = Field(default_factory=list)
    #: ``None``: the events of ``[notifications] events``.
    events: list[str] | None = None

    def covers(self, *, environment: str, project: str, event: str, default: list[str]) -> bool:
        """Whether an event of this type about a request there goes to this channel."""
        return (
            (not self.environments or environment in self.environments)
            and (not self.projects or project in self.projects)
            and event in (self.events if self.events is not None else default)
        )


class NotificationSettings(BaseModel):
    """The ``[notifications]`` section."""

    model_config = ConfigDict(extra="forbid")

    #: Off: events are stored as always, nothing is routed or sent.
    enabled: bool = True
    #: The events that notify people (authors, approvers, channels).
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    #: Seconds an action may spend delivering after it finished (0: only record; deliveries
    #: then wait for ``tfpilot notify deliver``).
    budget_seconds: float = Field(default=2.0, ge=0, le=60)
    #: Attempts before a delivery is dead-lettered.
    max_attempts: int = Field(default=8, ge=1, le=100)
    #: The first retry waits about this long; each next one twice as long (with jitter).
    backoff_seconds: float = Field(default=30.0, gt=0, le=86_400)
    backoff_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    #: A delivery being sent belongs to its sender this long (then it may be sent again).
    lease_seconds: int = Field(default=300, ge=5, le=86_400)
    #: Delivered and dead-lettered deliveries are kept this many days, then expire.
    keep_days: int = Field(default=30, ge=1, le=3650)
    #: Channels per environment or project.
    channels: list[ChannelRoute] = Field(default_factory=list)
    #: Failure kind -> URL template with {request}, {module}, {environment}, {project}.
    runbooks: dict[str, str] = Field(default_factory=dict)
    #: Link name (``request``, ``run``, ``pr``) -> URL template, shown as buttons and links.
    links: dict[str, str] = Field(default_factory=dict)
    #: Where an email's unsubscribe link points ({user}); until the HTTP API exists the message
    #: also names the CLI equivalent, ``tfpilot notify prefs set --mute``.
    unsubscribe_url: str | None = None
    #: The hour (UTC, 0-23) after which a day's drift digest is due.
    digest_hour: int = Field(default=8, ge=0, le=23)

    @field_validator("runbooks")
    @classmethod
    def _runbooks(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, template in value.items():
            if kind not in RUNBOOK_KINDS:
                raise ValueError(f"unknown runbook kind {kind!r} (use {', '.join(RUNBOOK_KINDS)})")
            try:
                check_template(template)
            except ValueError as exc:
                raise ValueError(f"runbook {kind!r}: {exc}") from None
        return value

    @field_validator("links")
    @classmethod
    def _links(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            try:
                check_template(template)
            except ValueError as exc:
                raise ValueError(f"link {name!r}: {exc}") from None
        return value

    @field_validator("unsubscribe_url")
    @classmethod
    def _unsubscribe(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)
