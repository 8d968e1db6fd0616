"""The request assistant (``tfpilot requests new --assist``) and request drafts.

See :mod:`tfpilot_core.assistant.flow` for the conversation and
:mod:`tfpilot_core.assistant.draft` for validating and previewing a request without storing it.
"""

from tfpilot_core.assistant.draft import Draft, draft_request
from tfpilot_core.assistant.flow import (
    AnswersConversation,
    AssistResult,
    Conversation,
    ModuleChooser,
    Question,
    ValueProposer,
    find_proposer,
    rank_modules,
    run_assistant,
)

__all__ = [
    "AnswersConversation",
    "AssistResult",
    "Conversation",
    "Draft",
    "ModuleChooser",
    "Question",
    "ValueProposer",
    "draft_request",
    "find_proposer",
    "rank_modules",
    "run_assistant",
]
