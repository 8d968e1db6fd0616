"""Fixtures: the fake OpenAI-compatible server, a plan with every kind of fact, and secrets planted
in it (a sensitive input, a sensitive output, a secret-looking tag, a finding message)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import CostEstimate, Placement, PolicyFinding, PolicyLevel, Request
from tfpilot_core.plan import Plan
from tfpilot_summarize_llm.settings import LLMSettings
from tfpilot_summarize_llm.summarizer import LLMSummarizer

from .fake_llm import KEY, FakeLLM

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

#: Planted secrets: none may ever reach the model server.
PASSWORD = "Sup3r-Secret-Passw0rd-4711"
OUTPUT_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
TAG_KEY = "AKIAIOSFODNN7EXAMPLE"
CONNECTION = "postgres://admin:" + PASSWORD + "@db.internal:5432/app"
SECRETS = (PASSWORD, OUTPUT_TOKEN, TAG_KEY, "admin:" + PASSWORD)


def change(address: str, actions: list[str], **fields: Any) -> dict[str, Any]:
    """A ``resource_changes`` entry."""
    rtype, name = address.split(".")[-2:]
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/tfpilot/sandbox",
        "action_reason": fields.pop("action_reason", None),
        "change": {"actions": actions, **fields},
    }


PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.15.5",
    "variables": {"password": {"value": PASSWORD}, "name": {"value": "logs"}},
    "resource_changes": [
        change(
            "sandbox_bucket.new",
            ["create"],
            before=None,
            after={"name": "new", "connection": CONNECTION, "tags": {"ci_key": TAG_KEY}},
            after_unknown={"id": True},
            after_sensitive={},
        ),
        change(
            "sandbox_bucket.swap",
            ["delete", "create"],
            action_reason="replace_because_cannot_update",
            replace_paths=[["region"]],
            before={"name": "swap", "region": "local-1", "tags": {"ci_key": TAG_KEY}},
            after={"name": "swap", "region": "local-2", "tags": {"ci_key": TAG_KEY}},
            after_unknown={},
        ),
        change(
            "sandbox_queue.gone",
            ["delete"],
            action_reason="delete_because_no_resource_config",
            before={"name": "gone"},
            after=None,
        ),
        change(
            "sandbox_instance.web",
            ["update"],
            before={"size": "small", "tags": {}},
            after={"size": "medium", "tags": {"token": OUTPUT_TOKEN}},
            after_unknown={},
        ),
    ],
    "resource_drift": [
        change(
            "sandbox_instance.web",
            ["update"],
            before={"size": "small", "public_ip": False},
            after={"size": "small", "public_ip": True},
        )
    ],
    "output_changes": {
        "token": {"actions": ["create"], "before": None, "after": OUTPUT_TOKEN, "sensitive": True},
        "name": {"actions": ["create"], "before": None, "after": "logs-abc234"},
    },
}

REQUEST = Request(
    id="req_dev_bucket_abc234",
    placement=Placement(
        project="shop", environment="dev", module="sandbox/bucket", module_version="1"
    ),
    inputs={"name": "logs-abc234", "password": PASSWORD, "tags": {"ci_key": TAG_KEY}},
    created_by="alice",
)

CONTEXT = SummaryContext(
    findings=[
        PolicyFinding(
            rule_id="public_access.blocked",
            level=PolicyLevel.BLOCKING,
            message="the instance gets a public IP address",
            address="sandbox_instance.web",
        ),
        # A rule (from some pack) careless enough to print a value.
        PolicyFinding(
            rule_id="tags.secret",
            level=PolicyLevel.ADVISORY,
            message=f"tag ci_key holds {TAG_KEY}",
            address="sandbox_bucket.new",
        ),
    ],
    cost=CostEstimate(monthly=Decimal("12.50"), previous=Decimal("10.20")),
)


def masked_plan() -> Plan:
    """The plan as the platform hands it to summarisers (``password`` is a sensitive input)."""
    return Plan.parse(PLAN).masked(sensitive_inputs=["password"])


@pytest.fixture(scope="session", autouse=True)
def litellm_loaded() -> None:
    """litellm imported once, before any test's deadline: a cold import takes longer than a
    test's timeout on a loaded machine, and then the summary falls back (tested on its own in
    test_a_slow_client_load_does_not_hold_the_plan)."""
    from tfpilot_summarize_llm.summarizer import _import_litellm

    _import_litellm()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A running fake server."""
    with FakeLLM() as server:
        yield server


@pytest.fixture
def make_summarizer(fake_llm: FakeLLM, tmp_path: Path) -> Callable[..., LLMSummarizer]:
    """``make_summarizer(**settings)``: the ``llm`` summariser against the fake server."""

    def make(**settings: Any) -> LLMSummarizer:
        values: dict[str, Any] = {
            "model": "openai/test-model",
            "api_base": fake_llm.url,
            "api_key": KEY,
            "timeout_seconds": 5,
            **settings,
        }
        return LLMSummarizer(LLMSettings.model_validate(values), tmp_path / "home")

    return make
