"""The request assistant with a model (``assist = true``): litellm against the fake server
proposes values; every proposal passes the module schema and allowlist before it is offered, a
refused one is said and the user asked again, and sensitive inputs never reach the model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tfpilot_core.assistant import AnswersConversation, find_proposer, run_assistant
from tfpilot_core.platform import Platform
from tfpilot_core.testing import module_source_plugin
from tfpilot_summarize_llm.assist import LLMValueProposer

from .fake_llm import KEY, FakeLLM

PASSWORD = "hunter22-Plant3d-Secret"

MODULE_TF = """
variable "name" {
  type = string
}
variable "region" {
  type    = string
  default = "local-1"
}
variable "size" {
  type    = number
  default = 1
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
"""

MODULE_TOML = """
description = "A test bucket for files and logs"
category = "storage"
name_input = "name"
tags_input = "tags"
[inputs.region]
allowed = ["local-1", "local-2"]
"""


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Platform]:
    """``make(url, assist=True)``: a platform with the test bucket module and the model."""
    monkeypatch.setenv("LLM_TEST_KEY", KEY)
    monkeypatch.setenv("HOME", str(tmp_path))
    bucket = tmp_path / "modules" / "bucket"
    bucket.mkdir(parents=True)
    (bucket / "main.tf").write_text(MODULE_TF)
    (bucket / "tfpilot.module.toml").write_text(MODULE_TOML)
    home = tmp_path / "home"
    home.mkdir()

    def build(url: str, *, assist: bool = True, timeout: float = 30) -> Platform:
        config = tmp_path / "tfpilot.toml"
        config.write_text(
            '[users.alice]\nrole = "developer"\n'
            f'[plugins.summarize_llm]\nmodel = "openai/test-model"\napi_base = "{url}"\n'
            f'api_key = {{ "$env" = "LLM_TEST_KEY" }}\ntimeout_seconds = {timeout}\n'
            f"assist = {'true' if assist else 'false'}\n"
        )
        return Platform.from_config(
            config,
            environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)},
            extra_plugins=[("test-modules", module_source_plugin({"test/bucket": bucket}))],
        )

    return build


def proposed_for(server: FakeLLM) -> list[str]:
    """The input names the model was asked about, in order."""
    names = []
    for body in server.bodies:
        content = json.loads(body)["messages"][-1]["content"]
        if content.startswith("PROPOSE:\n"):
            names.append(json.loads(content.removeprefix("PROPOSE:\n"))["input"]["name"])
    return names


def test_a_model_value_outside_the_allowlist_is_refused_and_the_user_asked(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    server.proposals = {"name": "logs", "region": "eu-west-1", "size": "lots"}
    conv = AnswersConversation(
        {
            "environment": "dev",
            "project": "shop",
            # "" takes the offered value: name's proposal passed; region and size were refused,
            # so there is nothing offered and the user's answers are used.
            "inputs": {"name": "", "region": "local-2", "size": "2", "password": PASSWORD},
            "confirm": "yes",
        }
    )
    # No proposer given: the plugin's, found through the hook.
    result = run_assistant(platform, "alice", conv, module="test/bucket")
    assert result.created is not None
    assert result.created.inputs["region"] == "local-2"
    assert result.created.inputs["size"] == 2
    assert result.created.inputs["name"].startswith("logs-")
    refused = {t["question"]: t for t in result.transcript if "proposed" in t}
    assert set(refused) == {"input:region", "input:size"}
    assert "must be one of 'local-1', 'local-2'" in refused["input:region"]["refused"]
    assert any("proposed region = eu-west-1 was refused" in line for line in conv.said)
    assert any("proposed name = logs" in line for line in conv.said)
    # Asked about schema inputs only, never the sensitive one, and no secret ever sent.
    assert proposed_for(server) == ["name", "region", "size"]
    assert PASSWORD not in server.prompts() and "password" not in proposed_for(server)


def test_an_allowed_model_value_is_offered_and_taken(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    server.proposals = {"name": "logs", "region": "local-2", "size": 4}
    conv = AnswersConversation(
        {
            "environment": "dev",
            "project": "shop",
            "inputs": {"name": "", "region": "", "size": ""},
            "confirm": "yes",
        }
    )
    result = run_assistant(platform, "alice", conv, module="test/bucket")
    assert result.created is not None
    assert result.created.inputs["region"] == "local-2"
    assert result.created.inputs["size"] == 4
    assert not [t for t in result.transcript if "refused" in t]


@pytest.mark.parametrize("mode", ["500", "invalid_json", "hang"])
def test_a_failing_model_only_means_no_proposal(
    server: FakeLLM, make: Callable[..., Platform], mode: str
) -> None:
    platform = make(server.url, timeout=1)
    server.mode = mode
    server.proposals = {"region": "eu-west-1"}
    conv = AnswersConversation(
        {"environment": "dev", "project": "shop", "inputs": {"name": "logs"}, "confirm": "yes"}
    )
    result = run_assistant(platform, "alice", conv, module="test/bucket")
    assert result.created is not None
    assert result.created.inputs["region"] == "local-1"  # the module's default
    assert not any("proposed" in line for line in conv.said)


def test_the_proposer_refuses_sensitive_and_unknown_inputs(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    proposer = find_proposer(platform)
    assert isinstance(proposer, LLMValueProposer)
    spec = platform.catalog.get("test/bucket")
    server.proposals = {"password": "leak-me", "nope": 1}
    assert proposer.propose(spec, "password", "a bucket") is None
    assert proposer.propose(spec, "nope", "a bucket") is None
    assert server.bodies == []
    # A masked value sent back is never proposed.
    server.proposals = {"name": "(sensitive)"}
    assert proposer.propose(spec, "name", "a bucket") is None


def test_without_assist_there_is_no_proposer(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url, assist=False)
    assert find_proposer(platform) is None
    conv = AnswersConversation(
        {"environment": "dev", "project": "shop", "inputs": {"name": "logs"}, "confirm": "no"}
    )
    run_assistant(platform, "alice", conv, module="test/bucket")
    assert server.bodies == []


def test_requests_new_assist_uses_the_model(
    server: FakeLLM, make: Callable[..., Platform], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tfpilot_core.cli import cli
    from tfpilot_core.cli.app import App

    platform = make(server.url)
    server.proposals = {"region": "eu-west-1"}
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "environment": "dev",
                "project": "shop",
                "inputs": {"name": "logs", "region": "local-2"},
                "confirm": "yes",
            }
        )
    )
    monkeypatch.setenv("TFPILOT_USER", "alice")
    state = App()
    state._platform = platform
    out = CliRunner().invoke(
        cli,
        ["--json", "requests", "new", "--assist", "--module", "test/bucket", "--answers",
         str(answers)],
        obj=state,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["created"] is True and data["request"]["inputs"]["region"] == "local-2"
    assert [t["proposed"] for t in data["transcript"] if "proposed" in t] == ["eu-west-1"]


DESCRIBE = "object storage for logs"


def _offline_top(platform: Platform) -> list[str]:
    from tfpilot_core.assistant import rank_modules

    return [m.name for m in rank_modules(platform.catalog.list(), DESCRIBE)[:5]]


def test_the_model_chooses_among_the_offline_candidates(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    top = _offline_top(platform)
    assert "test/bucket" in top[1:], top  # the offline ranking puts another module first
    server.choice = "test/bucket"
    conv = AnswersConversation(
        {
            "describe": DESCRIBE,
            "module": "",  # the default: the model's pick
            "environment": "dev",
            "project": "shop",
            "inputs": {"name": "logs"},
            "confirm": "no",
        }
    )
    result = run_assistant(platform, "alice", conv)
    assert result.draft is not None and result.draft.module == "test/bucket"
    assert "  the model suggests test/bucket" in conv.said
    assert {"question": "module", "proposed": "test/bucket"} in result.transcript
    # The model saw the offline candidates only, and what the user said.
    [choose] = [
        json.loads(json.loads(b)["messages"][-1]["content"].removeprefix("CHOOSE:\n"))
        for b in server.bodies
        if json.loads(b)["messages"][-1]["content"].startswith("CHOOSE:\n")
    ]
    assert [c["name"] for c in choose["candidates"]] == top
    assert choose["wanted"] == DESCRIBE


@pytest.mark.parametrize("in_catalog", [True, False])
def test_a_model_pick_outside_the_candidates_is_refused(
    server: FakeLLM, make: Callable[..., Platform], in_catalog: bool
) -> None:
    platform = make(server.url)
    top = _offline_top(platform)
    # A module of the catalog the offline ranking left out, or one that does not exist.
    others = [m.name for m in platform.catalog.list() if m.name not in top]
    choice = others[-1] if in_catalog else "made/up-module"
    server.choice = choice
    conv = AnswersConversation(
        {"describe": DESCRIBE, "module": "test/bucket", "environment": "dev", "project": "shop",
         "inputs": {"name": "logs"}, "confirm": "no"}
    )  # fmt: skip
    result = run_assistant(platform, "alice", conv)
    assert f"  the model's module {choice!r} was refused (not a candidate)" in conv.said
    refused = [t for t in result.transcript if t.get("refused") == "not a candidate"]
    assert refused == [{"question": "module", "proposed": choice, "refused": "not a candidate"}]
    # The offline order stands: its first module is the default offered.
    assert f"  1. {top[0]}: {platform.catalog.get(top[0]).description}" in conv.said


def test_an_unreadable_module_choice_keeps_the_offline_order(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    server.mode = "invalid_json"
    conv = AnswersConversation(
        {"describe": DESCRIBE, "module": "", "environment": "dev", "project": "shop",
         "inputs": {"name": "logs"}, "confirm": "no"}
    )  # fmt: skip
    top = _offline_top(platform)
    if top[0] != "test/bucket":
        conv = AnswersConversation(
            {"describe": DESCRIBE, "module": "test/bucket", "environment": "dev",
             "project": "shop", "inputs": {"name": "logs"}, "confirm": "no"}
        )  # fmt: skip
    result = run_assistant(platform, "alice", conv)
    assert not any("the model" in line for line in conv.said)
    assert not [t for t in result.transcript if "proposed" in t and t["question"] == "module"]
