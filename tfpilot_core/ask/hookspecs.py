"""The hooks of the model paths: how a plugin answers what the offline parser cannot, and how it
proposes values in the request assistant. The core never imports a model client; a plugin does.

Like the suggester hook, the core adds these specifications when it first needs them, so a
plugin marks its implementations optional (pluggy's ``check_pending()`` accepts them)::

    from tfpilot_core import hookimpl

    @hookimpl(optionalhook=True)
    def tfpilot_register_question_models(host):
        return [MyQuestionModel()]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from tfpilot_core.plugins import PluginHost

hookspec = pluggy.HookspecMarker("tfpilot")

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
        """
        ...


@hookspec
def tfpilot_register_question_models(host: PluginHost) -> list[QuestionModel]:  # type: ignore[empty-body]
    """Contribute question models, asked in order when the offline parser cannot answer.

    ``host`` lets a plugin read its settings and return nothing when it is not configured.

    Isolated: a plugin that raises here, or a model that raises, is logged and skipped; the
    question is then answered with "cannot answer" and the forms that work.
    """


@hookspec
def tfpilot_register_value_proposers(host: PluginHost) -> list[Any]:  # type: ignore[empty-body]
    """Contribute value proposers (:class:`tfpilot_core.assistant.ValueProposer`) for the
    request assistant; the first one is used.

    A proposal is only offered after it passed the module schema and the allowlist, like a
    typed answer; a refused one is said and the user asked. Sensitive inputs are never asked of
    a proposer. Isolated: a plugin or proposer that raises is logged and skipped.
    """


def extensions(host: PluginHost, hook: str) -> list[tuple[str, Any]]:
    """``(plugin, object)`` for every object the plugins return from ``hook`` (in order)."""
    from tfpilot_core.ask import hookspecs

    manager = host.plugins.manager
    caller = getattr(manager.hook, hook, None)
    if caller is None or caller.spec is None:
        manager.add_hookspecs(hookspecs)
    found: list[tuple[str, Any]] = []
    for plugin, result in host.call_extension(hook, decision=False, host=host):
        if isinstance(result, list | tuple):
            found += [(plugin, item) for item in result]
    return found
