"""The suggester hook: how plugins add suggestions, in the way policy packs add rules.

The core does not call this hook at start-up; :func:`tfpilot_core.suggestions.service.collect`
adds the specification when suggestions are first asked for. A plugin may be discovered before
that, so it marks its implementation optional, which pluggy's ``check_pending()`` accepts::

    from tfpilot_core import hookimpl

    @hookimpl(optionalhook=True)
    def tfpilot_register_suggesters(host):
        return [MySuggester()]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.suggestions.model import Suggester

hookspec = pluggy.HookspecMarker("tfpilot")

HOOK = "tfpilot_register_suggesters"


@hookspec
def tfpilot_register_suggesters(host: PluginHost) -> list[Suggester]:  # type: ignore[empty-body]
    """Contribute suggesters (objects with an ``id`` and ``suggest(ctx)``).

    Called whenever suggestions are computed (``tfpilot suggest``, ``platform.suggestions``).
    ``host`` lets a plugin read its own settings (``host.settings_for(registration)``) and return
    nothing when it is not configured. Ids must be unique across every suggester (a duplicate is
    an error naming both plugins). Every proposal is checked by the core like the built-in ones:
    schema, then policy on the patched inputs, then cost after a plan.

    :return: suggesters; an empty list if the plugin offers none (or is not configured).

    Isolated: a plugin that raises here, or a suggester that raises while suggesting, is logged
    and skipped; suggestions are advice and never block anything.
    """
