"""Suggestions: safer or cheaper inputs for a request, as reviewable patches.

A :class:`~tfpilot_core.suggestions.model.Suggester` proposes a patch on a request's inputs; the
core checks it (module schema, policy on the patched inputs, cost of a what-if plan after a plan)
before it is shown (:class:`~tfpilot_core.suggestions.service.Suggestions`, reached as
``platform.suggestions``). Built-in suggesters are rules that run offline
(:mod:`tfpilot_core.suggestions.rules`); plugins add theirs through
``tfpilot_register_suggesters`` (:mod:`tfpilot_core.suggestions.hookspecs`), the way policy packs
add rules. Nothing is applied without a person: ``tfpilot suggest apply`` is an ordinary update.
"""

from tfpilot_core.suggestions.model import (
    CostEffect,
    FindingRef,
    Proposal,
    Suggester,
    Suggestion,
    SuggestionContext,
)

__all__ = [
    "CostEffect",
    "FindingRef",
    "Proposal",
    "Suggester",
    "Suggestion",
    "SuggestionContext",
]
