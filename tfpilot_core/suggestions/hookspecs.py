"""Where the suggester hook used to be specified (0.1); it is in :mod:`tfpilot_core.hookspecs` now.

Plugins register suggesters like any capability::

    from tfpilot_core import hookimpl
    from tfpilot_core.registrations import Registration

    @hookimpl
    def tfpilot_register_suggesters():
        return [Registration(name="mine", factory=lambda settings, context: MySuggester())]

The 0.1 shape (``def tfpilot_register_suggesters(host)`` returning the suggesters themselves)
still works, with a ``DeprecationWarning``; see docs/hooks.md, "Deprecations".
"""

from __future__ import annotations

#: The hook's name (kept for code that imported it).
HOOK = "tfpilot_register_suggesters"
