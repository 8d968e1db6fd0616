"""The ``llm`` suggester: a model proposes safer or cheaper inputs; the core checks each one.

Only with ``suggestions = true`` in ``[plugins.summarize_llm]``. The prompt holds the module's
input schema (names, types, allowed values, defaults, whether immutable or read-only), the
request's environment, the current values of non-sensitive inputs (scrubbed of anything that
looks like a secret) and the policy findings; sensitive inputs are shown as masked and can
never be patched. The answer is JSON ``{"suggestions": [{"title", "rationale", "kind",
"patch"}]}``; anything else yields no suggestions. Every proposal then goes through the same
checks as the built-in rules' (:mod:`tfpilot_core.suggestions.service`): schema, policy on the
patched inputs, cost after a plan. Only sizes and digests of prompts and answers are logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.plan_facts import Scrubber
from tfpilot_core.suggestions.model import Proposal, SuggestionContext

if TYPE_CHECKING:
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

log = structlog.get_logger("tfpilot.summarize_llm")

SYSTEM_PROMPT = """You review requests for infrastructure built from a Terraform module catalog.
You receive REQUEST as JSON: the module's inputs (schema and current values), the environment
and the policy findings. Propose at most 5 changes of input values that make the request safer
or cheaper. Answer with one JSON object and nothing else:
{"suggestions": [{"title": "<short>", "rationale": "<one sentence>",
  "kind": "safer" or "cheaper", "patch": {"<input name>": <new value>}}]}
Only use input names from REQUEST, only values their type and "allowed" list permit, never
immutable, read-only or sensitive inputs. An empty list is a fine answer."""

#: At most this many proposals are taken from an answer.
MAX_PROPOSALS = 5


class LLMSuggester:
    """Proposals from the configured model (see the module docstring)."""

    id = "llm"

    def __init__(self, summarizer: LLMSummarizer) -> None:
        self.summarizer = summarizer

    def request_facts(self, ctx: SuggestionContext) -> dict[str, Any]:
        """What the model is told about the request (masked and scrubbed)."""
        from tfpilot_core.masking import MASK

        scrub = Scrubber(self.summarizer.secrets())
        spec = ctx.module
        inputs: dict[str, Any] = {}
        for name, item in spec.inputs.items():
            if name == spec.tags_input or name == spec.name_input:
                value: Any = "(not shown)"
            elif item.sensitive:
                value = MASK
            else:
                value = json.loads(scrub.text(json.dumps(ctx.inputs.get(name), default=str)))
            inputs[name] = {
                "type": item.type_expr,
                "allowed": item.allowed,
                "default": None if item.sensitive else item.default,
                "immutable": item.immutable,
                "read_only": item.read_only,
                "sensitive": item.sensitive,
                "value": value,
            }
        return {
            "module": spec.name,
            "description": scrub.text(spec.description),
            "environment": ctx.environment.key,
            "protected_environment": ctx.environment.protected,
            "inputs": inputs,
            "findings": [
                {
                    "rule_id": f.rule_id,
                    "level": f.level.value,
                    "address": scrub.text(f.address) if f.address else None,
                    "message": scrub.text(f.message),
                }
                for f in ctx.findings
            ],
        }

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        """The model's proposals, unchecked (the core checks them); none on any error."""
        from tfpilot_core.plan_facts import SECRET_MASK
        from tfpilot_summarize_llm.summarizer import _digest

        facts = json.dumps(self.request_facts(ctx), sort_keys=True, default=str)
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "REQUEST:\n" + facts},
        ]
        started = time.monotonic()
        try:
            content = self.summarizer.complete(messages)
        except Exception as exc:
            log.warning("llm_suggestions_failed", error=type(exc).__name__)
            return []
        prompt = json.dumps(messages)
        log.info(
            "llm_suggestions_answer",
            model=self.summarizer.settings.model,
            prompt_chars=len(prompt),
            prompt_sha256=_digest(prompt),
            answer_chars=len(content),
            answer_sha256=_digest(content),
            seconds=round(time.monotonic() - started, 3),
        )
        try:
            answer = json.loads(content.strip().strip("`").removeprefix("json"))
            items = answer["suggestions"]
        except (ValueError, KeyError, TypeError):
            log.warning("llm_suggestions_unreadable", answer_chars=len(content))
            return []
        proposals: list[Proposal] = []
        for item in items[:MAX_PROPOSALS] if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("patch"), dict):
                continue
            patch = item["patch"]
            # A masked value sent back is never a value to set.
            if SECRET_MASK in json.dumps(patch, default=str):
                continue
            proposals.append(
                Proposal(
                    title=str(item.get("title", ""))[:200] or "Suggested by the model",
                    rationale=str(item.get("rationale", ""))[:500],
                    kind=str(item.get("kind", "")),
                    patch=patch,
                )
            )
        return proposals
