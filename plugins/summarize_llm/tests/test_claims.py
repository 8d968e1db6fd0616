"""Claims checked for meaning, through real litellm against the local OpenAI-compatible server.

The issue's lie ("It deletes module.this.sandbox_bucket.this and makes the events bucket public.
No policy findings", on a create-only plan with a mandatory finding) was accepted when only
addresses and numbers were checked. Each kind of answer is sent by the stand-in server: good,
invented, contradicting, omitting, malformed; every bad one falls back to the rules summary with
the reason recorded, and the label of a good one says what was checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import CostEstimate, Placement, PolicyFinding, PolicyLevel, Request
from tfpilot_core.plan import Plan
from tfpilot_core.plan_facts import extract_facts
from tfpilot_summarize_llm.summarizer import AnswerRejected, LLMSummarizer, check_answer

from .conftest import change
from .fake_llm import FakeLLM, good_answer

Make = Callable[..., LLMSummarizer]
ADDRESS = "module.this.sandbox_bucket.this"
LIE = f"It deletes {ADDRESS} and makes the events bucket public. No policy findings."

CREATE_ONLY = Plan.parse(
    {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [
            change(
                ADDRESS,
                ["create"],
                before=None,
                after={"name": "events-abc234", "public_access": False, "encryption": True},
                after_unknown={"id": True},
            )
        ],
    }
).masked()
REQUEST = Request(
    id="req_dev_bucket_evt234",
    placement=Placement(
        project="shop", environment="dev", module="sandbox/bucket", module_version="1"
    ),
    inputs={"name": "events-abc234"},
    created_by="alice",
)
CONTEXT = SummaryContext(
    findings=[
        PolicyFinding(
            rule_id="tags.required",
            level=PolicyLevel.MANDATORY,
            message="missing required tags: owner",
            address=ADDRESS,
        )
    ],
    cost=CostEstimate(monthly=Decimal("0.50"), previous=Decimal("0")),
)


def test_the_lie_from_the_issue_is_rejected_with_the_reason(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    fake_llm.mode = "lie"
    summary = make_summarizer().summarize(REQUEST, CREATE_ONLY, CONTEXT)
    sent = json.loads(fake_llm.bodies[-1])["messages"][-1]["content"]
    assert LIE in json.dumps(fake_llm.answer("lie", [{"role": "user", "content": sent}]))
    assert summary.summarizer == "rules" and summary.model is None
    assert summary.fallback_reason == (
        f"llm (openai/test-model): claim: delete {ADDRESS}, but the plan would create it"
    )
    assert "Summary written by" not in summary.text


def test_the_lie_in_the_text_alone_is_rejected(make_summarizer: Make, fake_llm: FakeLLM) -> None:
    # Honest claims do not launder a lying narrative.
    fake_llm.mode = "lie_text_only"
    summary = make_summarizer().summarize(REQUEST, CREATE_ONLY, CONTEXT)
    assert summary.fallback_reason == (
        f"llm (openai/test-model): the text says {ADDRESS} is deleted, but the plan would create it"
    )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("contradicting", "claim: finding tags.required is advisory, but it is mandatory"),
        ("invented", f"claim: {ADDRESS} encryption off, which the plan does not do"),
        ("omitting", "claims leave out the mandatory finding tags.required"),
        ("malformed", "claims.actions is not a list of objects"),
        ("no_claims", "the answer has no claims object"),
        ("invalid_json", "the answer is not valid JSON"),
    ],
)
def test_bad_claims_are_rejected_with_the_reason(
    make_summarizer: Make, fake_llm: FakeLLM, mode: str, reason: str
) -> None:
    fake_llm.mode = mode
    summary = make_summarizer().summarize(REQUEST, CREATE_ONLY, CONTEXT)
    assert summary.summarizer == "rules"
    assert summary.fallback_reason == f"llm (openai/test-model): {reason}"


def test_a_good_answer_is_labelled_with_what_was_checked(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    summary = make_summarizer().summarize(REQUEST, CREATE_ONLY, CONTEXT)
    assert summary.model == "openai/test-model", summary.fallback_reason
    assert (
        "Summary written by openai/test-model. Checked against the plan's facts: "
        "0 per-resource and 1 counted action claims, 1 finding claims, the cost direction, "
        "0 exposure claims; every destructive change, every action and every blocking or "
        "mandatory finding claimed; addresses and numbers in the text grounded."
    ) in summary.text
    prompt = json.loads(fake_llm.bodies[-1])["messages"][-1]["content"]
    facts = json.loads(prompt.split("FACTS:\n", 1)[1])
    # The model is told what is set, with values, so it could say what changes.
    assert {c["path"]: c["after"] for c in facts["created"][0]["changes"]} == {
        "encryption": True,
        "name": "events-abc234",
        "public_access": False,
    }


FACTS = extract_facts(REQUEST, CREATE_ONLY, CONTEXT)
GOOD = good_answer(json.loads(FACTS.to_json()))


def answer(**changes: object) -> str:
    """The good answer with ``changes`` to its text or claims."""
    data = json.loads(json.dumps(GOOD))
    text = changes.pop("text", None)
    if text is not None:
        data["text"] = text
    data["claims"].update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (answer(cost="down"), "claim: cost goes down, but it goes up"),
        (
            answer(actions=[{"address": ADDRESS, "action": "create"}, {"action": "create"}]),
            r"claims.actions\[1\] needs either an address or a count",
        ),
        (answer(actions=[{"action": "create", "count": 2}]), "claim: 2 resources created"),
        (answer(actions=[]), "claims leave out 1 of the plan's 1 create actions"),
        (
            answer(actions=[{"address": "sandbox_bucket.other", "action": "create"}]),
            "claim: create sandbox_bucket.other, which the plan does not change",
        ),
        (
            answer(
                findings=[
                    {"rule_id": "tags.required", "level": "mandatory"},
                    {"rule_id": "x", "level": "advisory"},
                ]
            ),
            "claim: finding x, which policy did not report",
        ),
        (
            answer(text="This change makes the bucket cheaper."),
            "the cost goes down, but it goes up",
        ),
        (answer(text="Encryption is turned off."), "encryption is turned off"),
        (answer(text="The bucket becomes publicly readable."), "becomes public"),
        (answer(text="It passes all policies and adds a bucket."), "no policy findings"),
    ],
)
def test_check_answer_meaning(content: str, reason: str) -> None:
    with pytest.raises(AnswerRejected, match=reason):
        check_answer(content, FACTS, max_chars=2000)


def test_true_claims_pass_however_they_are_written() -> None:
    content = answer(
        text=f"It creates {ADDRESS}, private and encrypted. Policy reports the mandatory "
        "finding tags.required; the cost goes up.",
        actions=[{"address": ADDRESS, "action": "create"}],
    )
    checked = check_answer(content, FACTS, max_chars=2000)
    assert checked.checked.startswith("1 per-resource and 0 counted action claims")
