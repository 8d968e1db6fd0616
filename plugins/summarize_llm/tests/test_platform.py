"""The ``llm`` summariser inside the platform: real Terraform plans, the fake model server.

Planted secrets (a sensitive input copied into an attribute, a sensitive output, a
secret-looking tag value) never reach the server; a lying model's answer is replaced by the rules
summary and the request records why; litellm is never imported when no LLM is configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.platform import Platform

from .fake_llm import KEY, FakeLLM

pytestmark = pytest.mark.slow

USERS = """
[users.alice]
role = "developer"
"""

TAG_SECRET = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "Plant3d-Passw0rd-9000"

MODULE = {
    "variables.tf": """
variable "name" {
  type = string
}
variable "password" {
  type      = string
  sensitive = true
}
variable "tags" {
  type    = map(string)
  default = {}
}
""",
    "main.tf": """
resource "terraform_data" "this" {
  input = {
    name       = var.name
    connection = "postgres://app:${var.password}@db:5432/app"
    tags       = var.tags
  }
}
output "name" {
  value = var.name
}
output "dsn" {
  value     = "postgres://app:${var.password}@db:5432/app"
  sensitive = true
}
""",
    "tfpilot.module.toml": """
description = "A plain value with a password"
category = "test"
risk = "low"
name_input = "name"
tags_input = "tags"
[inputs.password]
sensitive = true
""",
}


@pytest.fixture
def make_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[Platform, dict[str, str]]]:
    """``make_platform(extra_config)``: a platform in a fresh home, and its environment."""
    home = tmp_path / "home"
    home.mkdir()
    module = tmp_path / "modules" / "test" / "secretive"
    module.mkdir(parents=True)
    for name, text in MODULE.items():
        (module / name).write_text(text)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    monkeypatch.setenv("LLM_TEST_KEY", KEY)

    def build(extra_config: str = "") -> tuple[Platform, dict[str, str]]:
        config = home / "tfpilot.toml"
        config.write_text(
            USERS
            + "[plugins.runner_local]\ntimeout_seconds = 300\n"
            + f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
            + extra_config
        )
        environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
        return Platform.from_config(environ=environ), environ

    return build


def llm_config(url: str, *, timeout: float = 10) -> str:
    """Configuration selecting the ``llm`` summariser against ``url``."""
    return (
        '[core]\nsummarizer = "llm"\n'
        f'[plugins.summarize_llm]\nmodel = "openai/test-model"\napi_base = "{url}"\n'
        f'api_key = {{ "$env" = "LLM_TEST_KEY" }}\ntimeout_seconds = {timeout}\n'
    )


def test_planted_secrets_never_reach_the_model_and_the_model_is_named(
    make_platform: Callable[..., tuple[Platform, dict[str, str]]],
) -> None:
    with FakeLLM() as server:
        platform, _ = make_platform(llm_config(server.url))
        plain = platform.create(
            "alice",
            module="test/secretive",
            environment="dev",
            project="shop",
            inputs={"name": "db", "password": PASSWORD, "tags": {"deploy_key": TAG_SECRET}},
        )
        plain = platform.plan("alice", plain.id)
        bucket = platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "logs", "tags": {"ci": f"token={TAG_SECRET}"}},
        )
        bucket = platform.plan("alice", bucket.id)
        received = server.prompts()
    assert len(server.bodies) == 2
    for secret in (PASSWORD, TAG_SECRET, KEY):
        assert secret not in received
    for request in (plain, bucket):
        assert request.summary is not None
        assert request.summary.model == "openai/test-model", request.summary.fallback_reason
        assert request.summary.summarizer == "llm"
        assert "Summary written by openai/test-model" in request.summary.text
    stored = platform.get(bucket.id)
    assert stored.summary is not None and stored.summary.model == "openai/test-model"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("made_up_address", "sandbox_bucket.not_in_the_plan"), ("hang", "timed out")],
)
def test_a_lying_or_hanging_model_falls_back_and_the_request_records_why(
    make_platform: Callable[..., tuple[Platform, dict[str, str]]], mode: str, reason: str
) -> None:
    with FakeLLM() as server:
        server.mode = mode
        platform, _ = make_platform(llm_config(server.url, timeout=3))
        request = platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "logs"},
        )
        platform.plan("alice", request.id)
    stored = platform.get(request.id)
    assert stored.summary is not None
    assert stored.summary.summarizer == "rules"
    assert stored.summary.fallback_reason is not None
    assert reason in stored.summary.fallback_reason
    assert "Plan for" in stored.summary.text


def _run_cli(code: str, environ: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, **environ}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


CLI = """
import json, sys, contextlib, io
from tfpilot_core.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main({argv!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"litellm": "litellm" in sys.modules, "code": code, "out": out.getvalue()}}))
"""


def test_help_and_plan_without_an_llm_never_import_litellm(
    make_platform: Callable[..., tuple[Platform, dict[str, str]]],
) -> None:
    platform, environ = make_platform()
    request = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs"},
    )
    environ = {**environ, "TFPILOT_USER": "alice"}
    for argv in (["--help"], ["suggest", "--help"]):
        seen = _run_cli(CLI.format(argv=argv), environ)
        assert seen["code"] in (0, None) and seen["litellm"] is False, argv
    seen = _run_cli(CLI.format(argv=["--json", "plan", request.id]), environ)
    assert seen["code"] in (0, None), seen["out"]
    assert json.loads(seen["out"])["summary"]["summarizer"] == "rules"
    assert seen["litellm"] is False


def test_facts_of_real_plans_carry_attribute_changes(
    make_platform: Callable[..., tuple[Platform, dict[str, str]]],
) -> None:
    """Real Terraform on the sandbox: what a creation sets and an update in place (tags,
    versioning) reach the model as attribute paths with before and after values. (The catalog
    refuses changing a replace-forcing input on update; replacements are covered by the
    plan fixture of test_facts.py.)"""

    def last_facts(server: FakeLLM) -> dict[str, Any]:
        prompt = json.loads(server.bodies[-1])["messages"][-1]["content"]
        return dict(json.loads(prompt.split("FACTS:\n", 1)[1]))

    with FakeLLM() as server:
        approver = '[users.bob]\nrole = "approver"\n'
        platform, _ = make_platform(llm_config(server.url, timeout=60) + approver)
        request = platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "facts", "tags": {"team": "a"}},
        )
        request = platform.plan("alice", request.id)
        created = last_facts(server)["created"][0]
        assert {c["path"]: c["after"] for c in created["changes"]}["public_access"] is False
        platform.approve("bob", request.id)
        platform.apply("bob", request.id)

        request = platform.update("alice", request.id, {"tags": {"team": "b"}, "versioning": False})
        request = platform.plan("alice", request.id)
        assert request.summary is not None and request.summary.model, request.summary
        [updated] = last_facts(server)["updated"]
        changes = {c["path"]: (c["before"], c["after"]) for c in updated["changes"]}
        assert changes["tags.team"] == ("a", "b")
        assert changes["versioning"] == (True, False)
