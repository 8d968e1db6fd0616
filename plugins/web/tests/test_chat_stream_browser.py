"""The chat's Ask streamed into the page, in headless Chromium against a real uvicorn server,
with the LLM question model asking the OpenAI-compatible stand-in with ``stream=True`` (litellm,
server-sent events on both legs): the page shows the model being asked, its output as it comes,
the query, then the answer. axe-core on the page, a screenshot among the test artifacts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import BROWSER_MARKS, audit, fresh_home, log_in, platform_and_tokens, serving

# The OpenAI-compatible stand-in of the summarize_llm plugin's tests (checks requests as the
# real service does; streams when asked to).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "summarize_llm" / "tests"))

from fake_llm import KEY, FakeLLM

CONFIG = """
[users.root]
role = "admin"
[users.alice]
role = "developer"
[plugins.summarize_llm]
model = "openai/test-model"
api_base = "{url}"
api_key = {{ "$env" = "LLM_TEST_KEY" }}
timeout_seconds = 60
ask = true
"""
ODD = "show me whatever went sideways over in production land"
ARGUMENTS = json.dumps({"environments": ["prod"], "drift": "drifted"})

pytestmark = BROWSER_MARKS


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        fake.tool_calls = [{"name": "query", "arguments": ARGUMENTS}]
        yield fake


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm: FakeLLM
) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("LLM_TEST_KEY", KEY)
    environ = fresh_home(tmp_path, CONFIG.format(url=llm.url), monkeypatch)
    platform, tokens = platform_and_tokens(environ, ("root", "alice"))
    with serving(platform, tokens) as served:
        yield served


def test_an_answer_made_by_a_model_streams_into_the_page(
    served: dict[str, Any], browser: Any, llm: FakeLLM
) -> None:
    url = served["url"]
    alice = log_in(browser, url, served["tokens"]["alice"])
    alice.goto(f"{url}/chat")
    alice.get_by_role("textbox", name="Question").fill(ODD)
    alice.get_by_role("button", name="Ask").click()
    live = alice.get_by_test_id("ask-live")
    alice.locator("#ask-live[data-done='1']").wait_for(timeout=60_000)
    assert alice.url.endswith("/chat")  # no page load: the answer came as a stream
    # The model's output as it wrote it (the tool call's arguments); the finished turn joins
    # the history with its answer and the query it ran.
    assert json.loads(live.get_by_test_id("ask-live-model").inner_text()) == json.loads(ARGUMENTS)
    assert "Answered (llm)" in live.inner_text()
    log = alice.get_by_test_id("ask-log")
    query = json.loads(log.get_by_test_id("query").first.inner_text())
    assert query == {"environments": ["prod"], "drift": "drifted"}
    assert log.get_by_test_id("answer").first.inner_text().strip()
    assert "Query it ran (llm)" in log.inner_text()
    body = json.loads(llm.bodies[-1])
    assert body["stream"] is True and llm.streamed == 1
    audit(alice, "chat with a streamed answer", "chat-stream-answer")
    # Kept in the history like any answer: the page rendered anew shows the same turn.
    alice.goto(f"{url}/chat")
    assert ODD in alice.get_by_test_id("ask-log").inner_text()
    stored = json.loads(alice.get_by_test_id("query").first.inner_text())
    assert stored == query
