"""The model paths' contract: question models and value proposers (hooks: ``hookspecs``).

A plugin answers what the offline parser cannot, and proposes values in the request assistant,
by registering objects like any capability (``tfpilot_register_question_models`` and
``tfpilot_register_value_proposers`` return registrations). The core never imports a model
client; a plugin does. The 0.1 shape of those hooks (taking ``host``, returning the objects)
still works with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tfpilot_core.plugins import PluginHost

QUESTION_HOOK = "tfpilot_register_question_models"
PROPOSER_HOOK = "tfpilot_register_value_proposers"

__all__ = ["PROPOSER_HOOK", "QUESTION_HOOK", "QuestionModel", "extensions"]


class QuestionModel(Protocol):
    """Turns a question the offline parser could not read into query fields (a model does)."""

    #: Unique among question models; shown with the answer (``"answered by": "llm"``).
    id: str

    def to_query(
        self,
        question: str,
        *,
        now: datetime,
        actor: str,
        environments: Sequence[str],
        modules: Sequence[str],
    ) -> dict[str, Any] | None:
        """The fields of a :class:`~tfpilot_core.query.Query` for ``question``; ``None``: none.

        The core validates what it returns into a ``Query`` (unknown fields and bad values are
        refused) and runs it scoped by the asker's read grants; the question's text itself is
        never run. Raising is the same as ``None``.

        Optional: a model whose ``to_query`` also takes a keyword ``on_text``
        (``Callable[[str], None]``) is passed one when someone watches the answer being made
        (the web chat streams it), and calls it with each piece of its output as it is written.
        Models without it are called as before.
        """
        ...


def extensions(host: PluginHost, hook: str) -> list[tuple[str, Any]]:
    """``(plugin, object)`` for every question model or value proposer (deprecated: use
    ``host.question_models()`` and ``host.value_proposers()``)."""
    warnings.warn(
        "tfpilot_core.ask.hookspecs.extensions is deprecated: use host.question_models() or "
        "host.value_proposers()",
        DeprecationWarning,
        stacklevel=2,
    )
    if hook == QUESTION_HOOK:
        return host.question_models()
    if hook == PROPOSER_HOOK:
        return host.value_proposers()
    return host.call_extension(hook, decision=False)
