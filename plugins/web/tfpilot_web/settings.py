"""``[plugins.web]``: the settings of ``tfpilot serve`` (every field has a safe default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebSettings(BaseModel):
    """Settings of the HTTP API and web UI (section ``[plugins.web]``)."""

    model_config = ConfigDict(extra="forbid")

    #: Key that signs session cookies (use ``{"$env": "..."}``). Unset: a random key is made
    #: once and kept in ``$TFPILOT_HOME/web/session.key`` (mode 0600).
    session_secret: str | None = Field(default=None, min_length=32)
    #: How long a UI session lasts, in seconds.
    session_max_age: int = Field(default=8 * 3600, ge=60, le=30 * 24 * 3600)
    #: The URL people reach the server at; ``https://`` makes session cookies ``Secure``.
    public_url: str | None = None
    #: Force the ``Secure`` cookie flag on or off (default: on when ``public_url`` is https).
    secure_cookies: bool | None = None
    #: Login attempts allowed per client address per minute.
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    #: Slack app signing secret: enables ``POST /integrations/slack/interactivity``.
    slack_signing_secret: str | None = None
    #: Slack user id -> tfpilot user, for approvals clicked in Slack.
    slack_users: dict[str, str] = Field(default_factory=dict)

    @property
    def https_only(self) -> bool:
        """Whether session cookies carry the ``Secure`` flag."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.public_url and self.public_url.lower().startswith("https://"))
