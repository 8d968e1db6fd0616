"""The default identity providers: ``local`` (trusted, one operator) and ``github_actions``.

Selected by ``[core] identity`` (default ``local``); see :mod:`tfpilot_core.identity`.
"""

from __future__ import annotations

from typing import Any

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration


@hookimpl
def tfpilot_register_identity_providers() -> list[Registration[Any]]:
    """Register ``local`` and ``github_actions`` (each imported when first used)."""
    return [
        # The local runner is also "local" (its settings: [plugins.runner_local]): this one takes
        # no settings, so it names a section of its own rather than share (and clash with) that.
        Registration(
            name="local",
            factory="tfpilot_core.identity.local:build",
            description="--as / $TFPILOT_USER, trusted",
            settings_section="identity_local",
        ),
        Registration(
            name="github_actions",
            factory="tfpilot_core.identity.github_actions:build",
            settings_model="tfpilot_core.identity.github_actions:GitHubActionsSettings",
            description="the actor of a verified GitHub Actions OIDC token",
        ),
    ]
