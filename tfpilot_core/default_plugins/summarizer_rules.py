"""The default summariser plugin, ``rules`` (:mod:`tfpilot_core.summary_rules`).

Only the hook lives here, with a lazy reference: discovering plugins (and ``tfpilot --help``) does
not import the summariser. Its names were importable from this module before 0.2
(``summarize_plan``, ``RulesSummarizer``, ...) and still are, resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration

NAME = "rules"


@hookimpl
def tfpilot_register_summarizers() -> list[Registration[Any]]:
    """Register the ``rules`` summariser (deterministic, always available)."""
    return [
        Registration(
            name=NAME,
            factory="tfpilot_core.summary_rules:build_summarizer",
            description="Deterministic plain-language plan summary (the default and fallback)",
        )
    ]


def __getattr__(name: str) -> Any:
    # PEP 562: the 0.1 import path of the summariser's names (moved to tfpilot_core.summary_rules).
    return getattr(importlib.import_module("tfpilot_core.summary_rules"), name)
