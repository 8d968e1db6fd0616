"""Hook implementations of the ``summarize_llm`` plugin: registers the summariser ``llm``.

Users select it with ``[core] summarizer = "llm"`` and configure ``[plugins.summarize_llm]``
(:class:`~tfpilot_summarize_llm.settings.LLMSettings`). Nothing heavy is imported here, and
litellm is imported only when a summary is made, so ``tfpilot --help``, ``tfpilot plan`` without
an LLM configured, and every other command never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Summarizer
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_summarize_llm.settings import LLMSettings

#: The name users select with ``[core] summarizer``.
NAME = "llm"
#: The configuration section, named after the plugin.
SECTION = "summarize_llm"


def build_summarizer(settings: LLMSettings, context: PluginContext) -> Summarizer:
    """The factory: an :class:`~tfpilot_summarize_llm.summarizer.LLMSummarizer` (no litellm yet)."""
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

    return LLMSummarizer(settings, context.home)


@hookimpl
def tfpilot_register_summarizers() -> list[Registration[Summarizer]]:
    """Register the ``llm`` summariser (grounded, masked, checked; falls back to ``rules``)."""
    from tfpilot_core.registrations import Registration
    from tfpilot_summarize_llm.settings import LLMSettings

    return [
        Registration(
            name=NAME,
            factory=build_summarizer,
            settings_model=LLMSettings,
            settings_section=SECTION,
            description="Plan summaries written by an LLM (litellm) from checked, masked facts",
        )
    ]


@hookimpl(optionalhook=True)
def tfpilot_register_suggesters(host: PluginHost) -> list[Any]:
    """The ``llm`` suggester, when ``[plugins.summarize_llm]`` sets ``suggestions = true``."""
    from tfpilot_core.errors import ConfigError
    from tfpilot_core.registrations import Kind
    from tfpilot_summarize_llm.settings import LLMSettings
    from tfpilot_summarize_llm.suggester import LLMSuggester
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

    if SECTION not in host.config.plugins:
        return []  # not configured: no model, and litellm is never imported
    for _, registration in host.registrations(Kind.SUMMARIZER):
        if registration.name != NAME:
            continue
        try:
            settings = host.settings_for(registration)
        except ConfigError:
            return []  # reported by the summariser and at start-up
        assert isinstance(settings, LLMSettings)
        if settings.suggestions:
            return [LLMSuggester(LLMSummarizer(settings, host.context.home))]
    return []


def _settings(host: PluginHost) -> LLMSettings | None:
    """The plugin's settings, or ``None`` when it is not configured (or configured wrongly)."""
    from tfpilot_core.errors import ConfigError
    from tfpilot_core.registrations import Kind
    from tfpilot_summarize_llm.settings import LLMSettings

    if SECTION not in host.config.plugins:
        return None
    for _, registration in host.registrations(Kind.SUMMARIZER):
        if registration.name != NAME:
            continue
        try:
            settings = host.settings_for(registration)
        except ConfigError:
            return None  # reported by the summariser and at start-up
        assert isinstance(settings, LLMSettings)
        return settings
    return None


@hookimpl(optionalhook=True)
def tfpilot_register_question_models(host: PluginHost) -> list[Any]:
    """The ``llm`` question model for ``tfpilot ask``, when ``ask = true`` (litellm not yet)."""
    settings = _settings(host)
    if settings is None or not settings.ask:
        return []
    from tfpilot_summarize_llm.ask import LLMQuestionModel
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

    return [LLMQuestionModel(LLMSummarizer(settings, host.context.home))]


@hookimpl(optionalhook=True)
def tfpilot_register_value_proposers(host: PluginHost) -> list[Any]:
    """The ``llm`` value proposer of the request assistant, when ``assist = true``."""
    settings = _settings(host)
    if settings is None or not settings.assist:
        return []
    from tfpilot_summarize_llm.assist import LLMValueProposer
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

    return [LLMValueProposer(LLMSummarizer(settings, host.context.home))]
