"""The default identity providers: ``local`` (trusted, one operator) and ``github_actions``.

Selected by ``[core] identity`` (default ``local``); see :mod:`tfpilot_core.identity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.registrations import Registration


@hookimpl
def tfpilot_register_identity_providers() -> list[Registration[Any]]:
    """Register ``local`` and ``github_actions``."""
    from tfpilot_core.registrations import Registration

    def local(settings: Any, context: Any) -> Any:
        from tfpilot_core.identity.local import LocalIdentity

        return LocalIdentity()

    def github_actions(settings: Any, context: Any) -> Any:
        from tfpilot_core.identity.github_actions import build

        return build(settings, context)

    from tfpilot_core.identity.github_actions import GitHubActionsSettings

    return [
        # The local runner is also "local" and reads [plugins.local]: this one takes no
        # settings, so it names a section of its own rather than share (and clash with) that.
        Registration(
            name="local",
            factory=local,
            description="--as / $TFPILOT_USER, trusted",
            settings_section="identity_local",
        ),
        Registration(
            name="github_actions",
            factory=github_actions,
            settings_model=GitHubActionsSettings,
            description="the actor of a verified GitHub Actions OIDC token",
        ),
    ]
