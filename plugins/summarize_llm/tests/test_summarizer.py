"""The ``llm`` summariser through real litellm against a local OpenAI-compatible server."""

from __future__ import annotations

import copy
import json
import stat
import time
from collections.abc import Callable

import pytest

from tfpilot_core.plan import Plan
from tfpilot_core.plan_facts import FactsExtractor, extract_facts
from tfpilot_summarize_llm.summarizer import LLMSummarizer, check_answer

from .conftest import CONTEXT, PLAN, REQUEST, SECRETS, change, masked_plan
from .fake_llm import FakeLLM, good_answer

Make = Callable[..., LLMSummarizer]


def test_a_good_answer_is_used_and_names_its_model(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    summary = make_summarizer().summarize(REQUEST, masked_plan(), CONTEXT)
    assert summary.summarizer == "llm"
    assert summary.model == "openai/test-model"
    assert summary.fallback_reason is None
    assert "Summary written by openai/test-model" in summary.text
    assert "sandbox_bucket.swap" in summary.text.split("Summary written by")[0]
    # The rules summary follows the narrative: the details are always there.
    assert "Destructive changes (2)" in summary.text
    [body] = fake_llm.bodies
    sent = json.loads(body)
    assert sent["temperature"] == 0
    assert sent["model"] == "test-model"
    # The prompt carries the facts, never the plan document.
    prompt = sent["messages"][-1]["content"]
    assert "resource_changes" not in prompt and "after_unknown" not in prompt
    facts = json.loads(prompt.split("FACTS:\n", 1)[1])
    assert [d["address"] for d in facts["destructive"]] == [
        "sandbox_bucket.swap",
        "sandbox_queue.gone",
    ]
    assert facts["destructive"][0]["forced_by"] == ["region"]
    assert facts["cost"] == {
        "currency": "USD",
        "monthly": "12.50",
        "previous": "10.20",
        "delta": "+2.30",
    }
    assert facts["drift"][0]["address"] == "sandbox_instance.web"


def test_fenced_json_is_accepted(make_summarizer: Make, fake_llm: FakeLLM) -> None:
    fake_llm.mode = "fenced"
    assert make_summarizer().summarize(REQUEST, masked_plan(), CONTEXT).model is not None


@pytest.mark.parametrize("mode", ["good", "made_up_address", "invalid_json", "500"])
def test_planted_secrets_never_reach_the_model(
    make_summarizer: Make, fake_llm: FakeLLM, mode: str
) -> None:
    fake_llm.mode = mode
    make_summarizer().summarize(REQUEST, masked_plan(), CONTEXT)
    received = fake_llm.prompts()
    assert received, "the server got no request"
    for secret in SECRETS:
        assert secret not in received, f"{secret!r} reached the model server"
    # The key went where it belongs: the Authorization header, not the body.
    assert all("authorization" in {k.lower() for k in h} for h in fake_llm.headers)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("made_up_address", "cited address 'sandbox_bucket.not_in_the_plan' is not in the facts"),
        ("made_up_number", "the number 4242 is not in the facts"),
        ("omit_destroy", "destructive change sandbox_bucket.swap is not mentioned"),
        ("invalid_json", "the answer is not valid JSON"),
        ("500", "answered HTTP 500"),
        ("429", "is rate limiting (HTTP 429)"),
        # Claims checked for meaning: each kind of lie is named (more in test_claims.py).
        ("lie", "claim: delete sandbox_bucket.swap, but the plan would replace it"),
        ("contradicting", "claim: finding public_access.blocked is advisory, but it is blocking"),
        ("invented", "claim: sandbox_bucket.new encryption off, which the plan does not do"),
        ("omitting", "claims leave out the blocking finding public_access.blocked"),
        ("malformed", "claims.actions is not a list of objects"),
        ("no_claims", "the answer has no claims object"),
    ],
)
def test_bad_answers_and_errors_fall_back_with_the_reason(
    make_summarizer: Make, fake_llm: FakeLLM, mode: str, reason: str
) -> None:
    fake_llm.mode = mode
    summary = make_summarizer().summarize(REQUEST, masked_plan(), CONTEXT)
    assert summary.summarizer == "rules"
    assert summary.model is None
    assert summary.fallback_reason is not None
    assert reason in summary.fallback_reason
    assert summary.fallback_reason.startswith("llm (openai/test-model): ")
    assert "Destructive changes (2)" in summary.text
    # One call: errors are not retried behind the plan's back.
    assert len(fake_llm.bodies) == 1


def test_a_hanging_model_does_not_hold_the_plan_past_the_timeout(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    summarizer = make_summarizer(timeout_seconds=1)
    fake_llm.mode = "good"
    summarizer.summarize(REQUEST, masked_plan(), CONTEXT)  # litellm imported and warm
    fake_llm.mode = "hang"
    summarizer.settings.cache = False
    started = time.monotonic()
    summary = summarizer.summarize(REQUEST, masked_plan(), CONTEXT)
    elapsed = time.monotonic() - started
    assert summary.summarizer == "rules"
    assert summary.fallback_reason is not None
    assert summary.fallback_reason.endswith("timed out after 1 s")
    assert elapsed < 1.8, f"the summary took {elapsed:.2f}s with a 1s timeout"


def test_the_prompt_budget_trims_lists_but_never_destroys(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    big = copy.deepcopy(PLAN)
    big["resource_changes"] += [
        change(f"sandbox_queue.q{i}", ["create"], before=None, after={"name": f"q{i}"})
        for i in range(300)
    ]
    plan = Plan.parse(big).masked(sensitive_inputs=["password"])
    summarizer = make_summarizer(max_prompt_tokens=600)
    facts = extract_facts(REQUEST, plan, CONTEXT)
    fitted, messages, tokens = summarizer.fit(FactsExtractor(REQUEST, plan, CONTEXT))
    assert tokens <= 600
    assert tokens == litellm_tokens(messages)
    # Every destructive change stays, with its reason (only its attribute values may be cut).
    assert [(d.address, d.action, d.reason, d.forced_by) for d in fitted.destructive] == [
        (d.address, d.action, d.reason, d.forced_by) for d in facts.destructive
    ]
    # Creations had to go, and the facts say how many.
    assert fitted.omitted["created"] == len(facts.created) - len(fitted.created) > 0
    summary = summarizer.summarize(REQUEST, plan, CONTEXT)
    assert summary.model is not None, summary.fallback_reason
    tiny = make_summarizer(max_prompt_tokens=256)
    summary = tiny.summarize(REQUEST, masked_plan(), CONTEXT)
    # 256 tokens cannot hold the instructions and the destructive changes.
    assert summary.fallback_reason is not None and "over budget" in summary.fallback_reason
    assert len(fake_llm.bodies) == 1


def litellm_tokens(messages: list[dict[str, str]]) -> int:
    """The prompt's size by litellm's own counter."""
    import litellm

    return int(litellm.token_counter(model="openai/test-model", messages=messages))


def test_answers_are_cached_by_facts_model_and_prompt_version(
    make_summarizer: Make, fake_llm: FakeLLM
) -> None:
    summarizer = make_summarizer()
    first = summarizer.summarize(REQUEST, masked_plan(), CONTEXT)
    second = summarizer.summarize(REQUEST, masked_plan(), CONTEXT)
    assert first == second and len(fake_llm.bodies) == 1
    [entry] = list(summarizer.cache_dir.iterdir())
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(summarizer.cache_dir.stat().st_mode) == 0o700
    # Another model is another key.
    make_summarizer(model="openai/other-model").summarize(REQUEST, masked_plan(), CONTEXT)
    assert len(fake_llm.bodies) == 2
    # A bad answer is never cached.
    fake_llm.mode = "made_up_number"
    other = make_summarizer(model="openai/third")
    other.summarize(REQUEST, masked_plan(), CONTEXT)
    other.summarize(REQUEST, masked_plan(), CONTEXT)
    assert len(fake_llm.bodies) == 4


def test_logs_hold_sizes_and_digests_never_the_prompt(
    make_summarizer: Make, fake_llm: FakeLLM, log_capture: list[dict[str, object]]
) -> None:
    make_summarizer(cache=False).summarize(REQUEST, masked_plan(), CONTEXT)
    [line] = [e for e in log_capture if e["event"] == "llm_summary_answer"]
    assert set(line) >= {"prompt_chars", "prompt_sha256", "answer_chars", "answer_sha256"}
    text = json.dumps(log_capture, default=str)
    assert "FACTS" not in text and "sandbox_bucket.swap" not in text


def test_check_answer_rules() -> None:
    facts = extract_facts(REQUEST, masked_plan(), CONTEXT)
    good = good_answer(json.loads(facts.to_json()))
    checked = check_answer(json.dumps(good), facts, max_chars=2000)
    assert "sandbox_queue.gone" in checked.cited
    # An address named in the text but not cited still has to exist.
    lie = {**good, "text": good["text"] + " Also module.x.sandbox_bucket.y goes."}
    with pytest.raises(Exception, match="not in the facts"):
        check_answer(json.dumps(lie), facts, max_chars=2000)
    # Numbers of the facts are fine, however they are written; others are not.
    ok = {**good, "text": good["text"] + " The cost was 10.20 USD and is now 12.5 USD."}
    check_answer(json.dumps(ok), facts, max_chars=2000)
    bad = {**good, "text": good["text"] + " The cost was 99.99 USD."}
    with pytest.raises(Exception, match=r"99\.99"):
        check_answer(json.dumps(bad), facts, max_chars=2000)
    with pytest.raises(Exception, match="over budget"):
        check_answer(json.dumps(good), facts, max_chars=20)


def test_an_unreachable_server_is_named(make_summarizer: Make) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on (bound, never accepted)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        summary = make_summarizer(api_base=url).summarize(REQUEST, masked_plan(), CONTEXT)
    assert summary.fallback_reason == f"llm (openai/test-model): model server unreachable at {url}"


def test_a_slow_client_load_does_not_hold_the_plan(
    make_summarizer: Make, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfpilot_summarize_llm import summarizer as module

    real = module._import_litellm

    def slow_import() -> object:
        time.sleep(3)  # a cold import of litellm on a loaded machine
        return real()

    monkeypatch.setattr(module, "_import_litellm", slow_import)
    monkeypatch.setattr(module, "_warmed", False)
    started = time.monotonic()
    summary = make_summarizer(timeout_seconds=1, cache=False).summarize(
        REQUEST, masked_plan(), CONTEXT
    )
    elapsed = time.monotonic() - started
    assert summary.summarizer == "rules"
    assert summary.fallback_reason == (
        "llm (openai/test-model): timed out after 1 s (loading the model client)"
    )
    assert elapsed < 1.8, f"the summary took {elapsed:.2f}s with a 1s timeout"
