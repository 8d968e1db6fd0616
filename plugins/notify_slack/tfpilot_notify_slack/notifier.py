"""The Slack notifier: one Block Kit message per delivery, by bot token or incoming webhook.

What Slack answers decides what the outbox does: ``invalid_auth``, ``channel_not_found``,
``invalid_blocks``, ``msg_too_long`` and their kind are refused for good (dead-lettered at once,
with Slack's error named); 429 is retried after ``Retry-After`` (inside the call up to
``max_retry_after``, later by the outbox beyond); 5xx and dropped connections are retried.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from tfpilot_core.notifications import DeliveryDeferred, DeliveryRejected
from tfpilot_core.notifications.render import build_message, render_slack

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Delivery
    from tfpilot_core.models import Event, Request
    from tfpilot_notify_slack.settings import SlackSettings

#: Errors that no retry can fix (Slack's Web API and webhook error codes).
PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_token",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "user_not_found",
        "cannot_dm_bot",
    }
)
_ADDRESS = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CDGUW][A-Z0-9]{2,20})$")


class _CappedRateLimit(RateLimitErrorRetryHandler):
    """Waits out a 429 inside the call only when Slack asks for a short wait."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return _retry_after(response.headers if response is not None else {}) <= self.max_wait


def _retry_after(headers: Any) -> float:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return 30.0
    return 30.0


class SlackNotifier:
    """Sends deliveries to Slack. ``user_address = "slack"`` with a token (DMs need one)."""

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        handlers = [
            _CappedRateLimit(settings.max_retries, settings.max_retry_after),
            ServerErrorRetryHandler(max_retry_count=settings.max_retries),
            ConnectionErrorRetryHandler(max_retry_count=settings.max_retries),
        ]
        self._handlers = handlers
        self.client = (
            WebClient(
                token=settings.token,
                base_url=settings.base_url,
                timeout=int(max(1, settings.timeout)),
                retry_handlers=handlers,
            )
            if settings.token
            else None
        )
        #: The ``[users.<name>]`` field of a user's Slack id; without a token no DMs.
        self.user_address = "slack" if settings.token else None

    def notify(self, event: Event, request: Request) -> None:
        """The older interface: not used by the outbox (it calls :meth:`deliver`)."""
        raise DeliveryRejected("the slack notifier sends outbox deliveries only")

    def _webhook_for(self, recipient: str) -> str | None:
        if recipient in self.settings.webhooks:
            return self.settings.webhooks[recipient]
        if recipient == "webhook" or self.client is None:
            return self.settings.webhook_url
        return None

    def deliver(self, delivery: Delivery) -> None:
        """Post one message for ``delivery`` (to a channel, or a user as a DM)."""
        payload = render_slack(build_message(delivery))
        webhook = self._webhook_for(delivery.recipient)
        if webhook is not None:
            self._send_webhook(webhook, payload)
            return
        if self.client is None:
            raise DeliveryRejected(f"no webhook for {delivery.recipient!r} and no bot token")
        if not _ADDRESS.match(delivery.recipient):
            raise DeliveryRejected(
                f"{delivery.recipient!r} is not a Slack channel (#name or id) nor a user id"
            )
        try:
            self.client.chat_postMessage(
                channel=delivery.recipient,
                text=payload["text"],
                blocks=payload["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                # Slack does not de-duplicate, but the key travels with the message so that a
                # duplicate after an unknown outcome can be recognised.
                metadata={
                    "event_type": "tfpilot_notification",
                    "event_payload": {
                        "delivery": delivery.id,
                        "request": delivery.request.id,
                        "event": delivery.event.type,
                    },
                },
            )
        except SlackApiError as exc:
            raise _classify(
                exc.response.status_code, exc.response.get("error"), exc.response.headers
            ) from None

    def _send_webhook(self, url: str, payload: dict[str, Any]) -> None:
        client = WebhookClient(
            url, timeout=int(max(1, self.settings.timeout)), retry_handlers=self._handlers
        )
        response = client.send(text=payload["text"], blocks=payload["blocks"], unfurl_links=False)
        if response.status_code == 200:
            return
        raise _classify(response.status_code, (response.body or "").strip(), response.headers)


def _classify(status: int, error: Any, headers: Any) -> Exception:
    code = str(error or f"HTTP {status}")
    if status == 429 or code == "ratelimited":
        wait = _retry_after(headers)
        return DeliveryDeferred(f"slack: rate limited (retry after {wait:g}s)", retry_after=wait)
    if code in PERMANENT:
        return DeliveryRejected(f"slack refused the message: {code}")
    if status >= 500:
        return RuntimeError(f"slack: server error {status} ({code})")
    return RuntimeError(f"slack: {code} (HTTP {status})")
