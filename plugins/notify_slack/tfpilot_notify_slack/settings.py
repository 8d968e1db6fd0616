"""The ``[plugins.notify_slack]`` settings (the notifier is named ``slack``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SlackSettings(BaseModel):
    """How to reach Slack: a bot token (``chat.postMessage``, DMs) and/or incoming webhooks."""

    model_config = ConfigDict(extra="forbid")

    #: A bot token (``xoxb-...``), best given as ``{ "$env" = "SLACK_BOT_TOKEN" }``. With it,
    #: messages go to any channel the bot is in, and to users as direct messages.
    token: str | None = None
    #: Slack's Web API (tests point it at a local stand-in).
    base_url: str = "https://slack.com/api/"
    #: An incoming webhook URL: the channel it was created for gets the messages routed to the
    #: recipient ``webhook`` (or every channel route when there is no token).
    webhook_url: str | None = None
    #: More incoming webhooks: recipient (e.g. ``#prod-changes``) -> webhook URL.
    webhooks: dict[str, str] = Field(default_factory=dict)
    #: Seconds per HTTP call.
    timeout: float = Field(default=10.0, gt=0, le=120)
    #: Retries inside one delivery (429 after ``Retry-After``, 5xx, dropped connections); the
    #: outbox retries later beyond that.
    max_retries: int = Field(default=2, ge=0, le=10)
    #: Longest ``Retry-After`` waited for inside a delivery; longer ones go back to the outbox.
    max_retry_after: float = Field(default=5.0, ge=0, le=300)

    @model_validator(mode="after")
    def _check(self) -> SlackSettings:
        if not (self.token or self.webhook_url or self.webhooks):
            raise ValueError("set token, webhook_url or webhooks")
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        return self
