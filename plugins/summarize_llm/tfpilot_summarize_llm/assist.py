"""The ``llm`` value proposer of the request assistant (``tfpilot requests new --assist``).

Only with ``assist = true`` in ``[plugins.summarize_llm]``. For one input at a time the model
gets the module's name and description, the input's name, type, allowed values, default and
description, and what the user said they want (scrubbed of anything that looks like a secret);
it answers ``{"value": <value>}``. Sensitive inputs are never asked about (the core does not ask,
and this proposer refuses too), and no current input values are sent. The proposal is only
*proposed*: the core checks it against the module schema and the allowlist exactly like a typed
answer, says so when it is refused and asks the user. Any error, timeout or unreadable answer is
"no proposal".
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_summarize_llm.summarizer import LLMSummarizer

log = structlog.get_logger("tfpilot.summarize_llm")

SYSTEM_PROMPT = """You help fill in a request for infrastructure built from a Terraform module.
You receive PROPOSE as JSON: the module, one input (its type, allowed values, default and
description) and what the user wants. Propose a value for that input. Answer with one JSON
object and nothing else: {"value": <value>}, or {"value": null} if you have no good proposal.
Only values of the input's type, and only from "allowed" when it is given."""


CHOOSE_PROMPT = """You help choose the Terraform module for a request for infrastructure.
You receive CHOOSE as JSON: what the user wants and the candidate modules (name, category,
description). Answer with one JSON object and nothing else: {"module": "<a candidate's name>"},
or {"module": null} if none fits. Only names from the candidates."""


class LLMValueProposer:
    """A :class:`tfpilot_core.assistant.ValueProposer` backed by the configured model."""

    id = "llm"

    def __init__(self, summarizer: LLMSummarizer) -> None:
        self.summarizer = summarizer

    def facts(self, module: ModuleSpec, name: str, description: str) -> dict[str, Any] | None:
        """What the model is told (``None``: nothing, the input is sensitive or unknown)."""
        from tfpilot_core.plan_facts import Scrubber

        item = module.inputs.get(name)
        if item is None or item.sensitive:
            return None
        scrub = Scrubber(self.summarizer.secrets())
        return {
            "module": module.name,
            "module_description": scrub.text(module.description or ""),
            "input": {
                "name": name,
                "type": item.type_expr,
                "allowed": item.allowed,
                "default": item.default,
                "description": scrub.text(item.description or ""),
                "required": item.required,
            },
            "wanted": scrub.text((description or "")[:2000]),
        }

    def propose(self, module: ModuleSpec, name: str, description: str) -> Any:
        """The model's proposed value for ``name`` (unchecked: the core checks it), or ``None``."""
        from tfpilot_core.plan_facts import SECRET_MASK
        from tfpilot_summarize_llm.summarizer import _digest

        facts = self.facts(module, name, description)
        if facts is None:
            return None
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": "PROPOSE:\n" + json.dumps(facts, sort_keys=True, default=str),
            },
        ]
        started = time.monotonic()
        try:
            content = self.summarizer.complete(messages)
        except Exception as exc:
            log.warning("llm_propose_failed", input=name, error=type(exc).__name__)
            return None
        log.info(
            "llm_propose_answer",
            model=self.summarizer.settings.model,
            input=name,
            answer_chars=len(content),
            answer_sha256=_digest(content),
            seconds=round(time.monotonic() - started, 3),
        )
        try:
            answer = json.loads(content.strip().strip("`").removeprefix("json"))
        except ValueError:
            log.warning("llm_propose_unreadable", input=name, answer_chars=len(content))
            return None
        if not isinstance(answer, dict) or "value" not in answer:
            return None
        value = answer["value"]
        if SECRET_MASK in json.dumps(value, default=str):
            return None  # a masked value sent back is never a value to set
        return value

    def choose_module(self, description: str, candidates: Sequence[ModuleSpec]) -> str | None:
        """The model's pick among ``candidates`` for ``description`` (the core checks that it
        is one of them), or ``None`` on any error or unreadable answer."""
        from tfpilot_core.plan_facts import Scrubber

        scrub = Scrubber(self.summarizer.secrets())
        facts = {
            "wanted": scrub.text((description or "")[:2000]),
            "candidates": [
                {
                    "name": m.name,
                    "category": m.category,
                    "description": scrub.text(m.description or "")[:500],
                }
                for m in candidates
            ],
        }
        messages = [
            {"role": "system", "content": CHOOSE_PROMPT},
            {"role": "user", "content": "CHOOSE:\n" + json.dumps(facts, sort_keys=True)},
        ]
        try:
            content = self.summarizer.complete(messages)
            answer = json.loads(content.strip().strip("`").removeprefix("json"))
        except Exception as exc:
            log.warning("llm_choose_failed", error=type(exc).__name__)
            return None
        picked = answer.get("module") if isinstance(answer, dict) else None
        return picked if isinstance(picked, str) and picked else None
