"""What a channel notifier raises to tell the outbox how a delivery failed.

Any other exception counts as a transient failure: retried with backoff, dead-lettered after
``[notifications] max_attempts``.
"""

from __future__ import annotations


class DeliveryRejected(Exception):
    """The channel refused the message for good (bad credentials, unknown channel, bad blocks).

    Not retried: the delivery is dead-lettered at once, with this message as the reason.
    """


class DeliveryDeferred(Exception):
    """The channel asked to be retried later (HTTP 429 with ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
