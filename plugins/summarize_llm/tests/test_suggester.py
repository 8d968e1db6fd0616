"""The ``llm`` suggester: proposals from the model pass the same checks as the rules' and never
see a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tfpilot_core.platform import Platform

from .fake_llm import KEY, FakeLLM

TAG_SECRET = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "Plant3d-Passw0rd-9000"


@pytest.fixture
def make_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Platform]:
    """``make_platform(url, suggestions=True)``: sandbox modules, the fake model server."""
    from .test_platform import MODULE

    home = tmp_path / "home"
    home.mkdir()
    module = tmp_path / "modules" / "test" / "secretive"
    module.mkdir(parents=True)
    for name, text in MODULE.items():
        (module / name).write_text(text)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LLM_TEST_KEY", KEY)

    def build(url: str, suggestions: bool = True) -> Platform:
        config = home / "tfpilot.toml"
        config.write_text(
            '[users.alice]\nrole = "developer"\n'
            f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
            f'[plugins.summarize_llm]\nmodel = "openai/test-model"\napi_base = "{url}"\n'
            'api_key = { "$env" = "LLM_TEST_KEY" }\ntimeout_seconds = 5\n'
            f"suggestions = {'true' if suggestions else 'false'}\n"
        )
        environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
        return Platform.from_config(environ=environ)

    return build


def test_model_suggestions_are_checked_like_the_rules(
    make_platform: Callable[..., Platform],
) -> None:
    with FakeLLM() as server:
        server.suggestions = [
            {"title": "Private", "rationale": "r", "kind": "safer", "patch": {"public_ip": False}},
            {"title": "Huge", "rationale": "r", "kind": "cheaper", "patch": {"size": "huge"}},
            {"title": "Move", "rationale": "r", "kind": "cheaper", "patch": {"region": "local-2"}},
            {"title": "Odd", "rationale": "r", "kind": "faster", "patch": {"size": "small"}},
        ]
        platform = make_platform(server.url)
        request = platform.create(
            "alice",
            module="sandbox/instance",
            environment="dev",
            project="shop",
            inputs={"name": "web", "public_ip": True, "tags": {"deploy": TAG_SECRET}},
            opt_outs=[{"rule_id": "public_access.blocked", "justification": "a public demo"}],
        )
        report = platform.suggestions.for_request("alice", request.id)
        secretive = platform.create(
            "alice",
            module="test/secretive",
            environment="dev",
            project="shop",
            inputs={"name": "db", "password": PASSWORD},
        )
        platform.suggestions.for_request("alice", secretive.id)
        received = server.prompts()
    assert len(server.bodies) == 2
    assert TAG_SECRET not in received and PASSWORD not in received
    found = {s.id: s for s in report.suggestions}
    assert found["llm"].source == "summarize_llm" and found["llm"].patch == {"public_ip": False}
    assert ("public_access.blocked", "inputs.public_ip") in {
        (r.rule_id, r.address) for r in found["llm"].clears
    }
    # The rules propose the same fix under their own id.
    assert "public-access-off" in found
    rejected = {r.id: r.reason for r in report.rejected if r.source == "summarize_llm"}
    assert "schema" in rejected["llm-2"]  # not an allowed size
    assert "schema" in rejected["llm-3"]  # region is immutable
    assert "kind" in rejected["llm-4"]


def test_without_suggestions_enabled_the_model_is_not_asked(
    make_platform: Callable[..., Platform],
) -> None:
    with FakeLLM() as server:
        platform = make_platform(server.url, suggestions=False)
        request = platform.create(
            "alice",
            module="sandbox/instance",
            environment="dev",
            project="shop",
            inputs={"name": "web"},
        )
        platform.suggestions.for_request("alice", request.id)
        server.mode = "invalid_json"
    assert server.bodies == []


def test_an_unreadable_answer_gives_no_suggestions(make_platform: Callable[..., Platform]) -> None:
    with FakeLLM() as server:
        server.mode = "invalid_json"
        platform = make_platform(server.url)
        request = platform.create(
            "alice",
            module="sandbox/instance",
            environment="dev",
            project="shop",
            inputs={"name": "web", "size": "medium"},
        )
        report = platform.suggestions.for_request("alice", request.id)
    assert len(server.bodies) == 1
    assert [s.id for s in report.suggestions] == ["smaller-size"]
