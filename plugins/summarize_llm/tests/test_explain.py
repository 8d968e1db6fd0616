"""A model's explanation of a failed run, checked against the log, through litellm and the local
OpenAI-compatible stand-in (issue 28 item 3)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tfpilot_core.failures import render_failure
from tfpilot_summarize_llm.explain import LLMFailureExplainer
from tfpilot_summarize_llm.summarizer import LLMSummarizer

from .conftest import PASSWORD
from .fake_llm import FakeLLM

Make = Callable[..., LLMSummarizer]

LOG = f"""sandbox_bucket.this: Creating...
╷
│ Error: name taken
│
│   with sandbox_bucket.this,
│   on main.tf line 3, in resource "sandbox_bucket" "this":
│
│ sandbox_bucket 'events-abc234' already exists (connection postgres://app:{PASSWORD}@db:5432)
╵
"""
EVIDENCE = "name taken"


def test_a_checked_explanation_is_used_and_says_who_wrote_it(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    fake_llm.explanation = {
        "cause": "name_conflict",
        "text": "A bucket named events-abc234 already exists. Pick another name.",
        "evidence": EVIDENCE,
    }
    explained = LLMFailureExplainer(make_summarizer()).explain("apply", LOG, secrets=[PASSWORD])
    assert explained.fallback_reason is None
    assert explained.source == "openai/test-model"
    assert explained.cause == "name_conflict" and explained.evidence == EVIDENCE
    assert "Explained by openai/test-model (checked against the log)." in render_failure(explained)
    # The masked facts went to the model; the planted password never did.
    prompt = json.loads(fake_llm.bodies[-1])["messages"][-1]["content"]
    assert "already exists" in prompt and PASSWORD not in fake_llm.prompts()


@pytest.mark.parametrize(
    ("explanation", "reason"),
    [
        (
            {"cause": "provider_auth", "text": "Your credentials expired.", "evidence": EVIDENCE},
            "the evidence does not show a provider_auth failure",
        ),
        (
            {"cause": "quota", "text": "Quota.", "evidence": "LimitExceeded: too many buckets"},
            "the evidence is not a line of the log",
        ),
        (
            {"cause": "gremlins", "text": "Gremlins.", "evidence": EVIDENCE},
            "cause 'gremlins' is not one of",
        ),
        (
            {"cause": "name_conflict", "text": "Retry in 15 minutes.", "evidence": EVIDENCE},
            "the number 15 is not in the log",
        ),
        (
            {
                "cause": "timeout",
                "text": "It timed out.",
                "evidence": "sandbox_bucket.this: Creating...",
            },
            "the evidence does not show a timeout failure",
        ),
    ],
)
def test_an_unsupported_explanation_falls_back_to_the_rules(
    make_summarizer: Make, fake_llm: FakeLLM, explanation: dict[str, str], reason: str
) -> None:
    fake_llm.explanation = explanation
    explained = LLMFailureExplainer(make_summarizer()).explain("apply", LOG)
    assert explained.source == "rules" and explained.cause == "name_conflict"
    assert explained.fallback_reason is not None
    assert explained.fallback_reason.startswith("llm (openai/test-model): ")
    assert reason in explained.fallback_reason
    assert "Model explanation not used:" in render_failure(explained)


def test_errors_fall_back_with_what_failed(make_summarizer: Make, fake_llm: FakeLLM) -> None:
    fake_llm.mode = "500"
    explained = LLMFailureExplainer(make_summarizer()).explain("plan", LOG)
    assert explained.source == "rules"
    assert (
        explained.fallback_reason is not None and "answered HTTP 500" in explained.fallback_reason
    )
    fake_llm.mode = "invalid_json"
    explained = LLMFailureExplainer(make_summarizer()).explain("plan", LOG)
    assert explained.fallback_reason == "llm (openai/test-model): the answer is not valid JSON"
