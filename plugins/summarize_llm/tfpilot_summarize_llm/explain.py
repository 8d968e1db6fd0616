"""A model's explanation of a failed run, checked against the log before it is used.

The model gets the masked failure facts (:func:`tfpilot_core.failures.failure_facts`: the
diagnostics and the end of the log, secrets scrubbed) and answers JSON
``{"cause": ..., "text": ..., "evidence": ...}``. :func:`check_explanation` accepts it only if
the cause is one tfpilot knows, the evidence is a line copied from the facts that shows that
cause, the cause agrees with the rules' when the rules recognised one, and every number of the
text is in the facts. Otherwise, or on any error or timeout, the rules' explanation is used and
``fallback_reason`` says why.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tfpilot_core.failures import CAUSES, Explanation, explain_failure
from tfpilot_core.plan_facts import numbers_in, scrub_secrets
from tfpilot_summarize_llm.summarizer import AnswerRejected, describe_model_error

if TYPE_CHECKING:
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

__all__ = ["EXPLAIN_PROMPT", "LLMFailureExplainer", "check_explanation"]

EXPLAIN_PROMPT = """You explain why a Terraform run failed, for the engineer who must fix it.
You receive FAILURE as JSON: the error diagnostics and the end of the log; it is all you know.
Answer with one JSON object and nothing else:
{{"cause": "<one of: {}, unknown>",
 "text": "<why it failed and what to do, at most 80 words>",
 "evidence": "<one line copied exactly from FAILURE that shows the cause>"}}
Use only numbers that appear in FAILURE.""".format(", ".join(c.id for c in CAUSES))

#: Longest explanation accepted, in characters.
MAX_TEXT = 800


class ExplanationRejected(AnswerRejected):
    """The model's explanation failed a check; the message says which."""


def check_explanation(content: str, rules: Explanation) -> tuple[str, str, str]:
    """``(cause, text, evidence)`` of a model's answer, or :class:`ExplanationRejected`."""
    try:
        answer = json.loads(content.strip().strip("`").removeprefix("json").strip())
    except ValueError:
        raise ExplanationRejected("the answer is not valid JSON") from None
    if not isinstance(answer, dict):
        raise ExplanationRejected("the answer is not a JSON object")
    cause, text, evidence = answer.get("cause"), answer.get("text"), answer.get("evidence")
    known = {c.id: c for c in CAUSES}
    if cause != "unknown" and cause not in known:
        raise ExplanationRejected(f"cause {cause!r} is not one of {', '.join(known)}, unknown")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise ExplanationRejected("the text is missing or over budget")
    if not isinstance(evidence, str) or len(evidence.strip()) < 8:
        raise ExplanationRejected("no evidence line")
    facts_text = rules.facts.text()
    if evidence.strip() not in facts_text:
        raise ExplanationRejected("the evidence is not a line of the log")
    if cause != "unknown" and not known[str(cause)].pattern.search(evidence):
        raise ExplanationRejected(f"the evidence does not show a {cause} failure")
    if rules.cause != "unknown" and cause != rules.cause:
        raise ExplanationRejected(f"the model says {cause}, the log shows {rules.cause}")
    allowed = numbers_in(facts_text)
    for number in sorted(numbers_in(re.sub(r"\S*\d\S*[A-Za-z_]\S*", " ", text))):
        if number not in allowed:
            raise ExplanationRejected(f"the number {number} is not in the log")
    return str(cause), text.strip(), evidence.strip()


class LLMFailureExplainer:
    """Explains failures with the configured model, checked; the rules' explanation otherwise."""

    def __init__(self, summarizer: LLMSummarizer) -> None:
        self.summarizer = summarizer

    def explain(
        self,
        kind: str,
        log: str,
        *,
        diagnostics: Sequence[dict[str, Any]] = (),
        secrets: Sequence[str] = (),
        runbook: str | None = None,
    ) -> Explanation:
        """The model's checked explanation of a failed ``kind`` run, or the rules' and why."""
        settings = self.summarizer.settings
        key = [settings.api_key.get_secret_value()] if settings.api_key else []
        rules = explain_failure(
            kind, log, diagnostics=diagnostics, secrets=[*secrets, *key], runbook=runbook
        )
        messages = [
            {"role": "system", "content": EXPLAIN_PROMPT},
            {"role": "user", "content": "FAILURE:\n" + json.dumps(rules.facts.to_dict())},
        ]
        try:
            content = self.summarizer.complete(messages)
            cause, text, evidence = check_explanation(content, rules)
        except Exception as exc:
            reason = describe_model_error(exc, settings)
            return dataclasses.replace(rules, fallback_reason=f"llm ({settings.model}): {reason}")
        title = next((c.title for c in CAUSES if c.id == cause), rules.title)
        return dataclasses.replace(
            rules,
            cause=cause,
            title=title,
            text=scrub_secrets(text, [*secrets, *key]),
            evidence=evidence,
            source=settings.model,
        )
