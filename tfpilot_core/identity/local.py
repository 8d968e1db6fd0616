"""The ``local`` identity provider: the user one operator names, taken as given."""

from __future__ import annotations

from typing import Any

from tfpilot_core.identity import Identity, IdentityRequest


class LocalIdentity:
    """``--as``, then ``$TFPILOT_USER``, ``$GITHUB_ACTOR`` (Actions), ``$USER``."""

    def identify(self, request: IdentityRequest) -> Identity:
        """The first name found, or ``unknown``."""
        env = request.environ
        for candidate in (
            request.claimed,
            env.get("TFPILOT_USER"),
            env.get("GITHUB_ACTOR"),
            env.get("USER"),
        ):
            if candidate:
                return Identity(actor=candidate, provider="local")
        return Identity(actor="unknown", provider="local")


def build(settings: Any, context: Any) -> LocalIdentity:
    """The factory of the ``local`` identity provider (it takes no settings)."""
    return LocalIdentity()
