"""A failed apply explained by the configured model inside the platform (issue 28 item 3).

Real Terraform on the sandbox provider (a bucket whose name was taken after the plan) and the
local OpenAI-compatible stand-in: the lifecycle asks the selected summariser to explain the
failure (``PluginHost.explain_failure``); a checked answer is recorded with the model named, a
lying one gives way to the rules' explanation with the reason recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.failures import explanation_of, render_failure
from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform

from .fake_llm import KEY, FakeLLM
from .test_platform import llm_config

pytestmark = pytest.mark.slow

USERS = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
"""


def _failed_apply(platform: Platform) -> str:
    """An approved sandbox bucket whose name is taken before the apply; the apply fails."""
    from tfpilot_sandbox.objects import ObjectStore

    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "dup"}
    )
    plan = platform.plan("alice", request.id).latest(RunKind.PLAN)
    assert plan is not None
    platform.approve("bob", request.id, plan_digest=plan.plan_digest)
    [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
    ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"])).create(
        "sandbox_bucket", request.inputs["name"], {"region": "local-1"}
    )
    with pytest.raises(ExternalToolError):
        platform.apply("bob", request.id)
    return request.id


@pytest.fixture
def make_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Platform]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    monkeypatch.setenv("LLM_TEST_KEY", KEY)

    def build(extra: str) -> Platform:
        config = home / "tfpilot.toml"
        config.write_text(USERS + "[plugins.runner_local]\ntimeout_seconds = 300\n" + extra)
        return Platform.from_config(
            environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
        )

    return build


def test_the_models_checked_explanation_is_recorded(
    make_platform: Callable[[str], Platform],
) -> None:
    with FakeLLM() as server:
        server.explanation = {
            "cause": "name_conflict",
            "text": "A bucket with this name already exists. Choose another name.",
            "evidence": "Error: name taken",
        }
        platform = make_platform(llm_config(server.url))
        request_id = _failed_apply(platform)
        prompts = [
            json.loads(body)["messages"][-1]["content"]
            for body in server.bodies
            if "FAILURE:" in json.loads(body)["messages"][-1]["content"]
        ]
    attempt = platform.get(request_id).latest(RunKind.APPLY)
    assert attempt is not None
    explained = explanation_of(attempt)
    assert explained is not None, attempt.details
    assert explained.source == "openai/test-model", explained.fallback_reason
    assert explained.cause == "name_conflict"
    assert explained.text == "A bucket with this name already exists. Choose another name."
    assert "Explained by openai/test-model (checked against the log)." in render_failure(explained)
    # The model saw the masked facts of this failure (the provider's diagnostic), once.
    [prompt] = prompts
    assert "already exists" in prompt and KEY not in prompt


def test_a_lying_explanation_gives_way_to_the_rules_with_the_reason(
    make_platform: Callable[[str], Platform],
) -> None:
    with FakeLLM() as server:
        server.explanation = {
            "cause": "provider_auth",
            "text": "Your credentials expired.",
            "evidence": "Error: name taken",
        }
        platform = make_platform(llm_config(server.url))
        request_id = _failed_apply(platform)
    attempt = platform.get(request_id).latest(RunKind.APPLY)
    assert attempt is not None
    explained = explanation_of(attempt)
    assert explained is not None
    assert explained.source == "rules" and explained.cause == "name_conflict"
    assert explained.fallback_reason is not None
    assert "the evidence does not show a provider_auth failure" in explained.fallback_reason
    assert "Model explanation not used: llm (openai/test-model)" in render_failure(explained)


def test_an_unreachable_model_still_leaves_the_rules_explanation(
    make_platform: Callable[[str], Platform],
) -> None:
    # A port nothing listens on: the model call fails fast; the failure is explained anyway.
    with FakeLLM() as server:
        url = server.url
    platform = make_platform(llm_config(url, timeout=3))
    request_id = _failed_apply(platform)
    attempt = platform.get(request_id).latest(RunKind.APPLY)
    assert attempt is not None
    explained = explanation_of(attempt)
    assert explained is not None and explained.cause == "name_conflict"
    assert explained.source == "rules" and explained.fallback_reason
    details: dict[str, Any] = attempt.details
    assert details["explanation"]["fallback_reason"] == explained.fallback_reason
