"""Fixtures: a platform over the repository's AWS modules and the sandbox modules, with the
built-in policy engine and a small policy pack (rules on AWS inputs), in a fresh home."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tfpilot_core import hookimpl
from tfpilot_core.platform import Platform
from tfpilot_core.testing.fixtures import PlatformFactory

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.victor]
role = "viewer"
[[users.mallory.grants]]
role = "admin"
projects = ["elsewhere"]

[plugins.runner_local]
timeout_seconds = 300

[plugins.policy_builtin]
allowed_sizes = { "sandbox_instance.size" = ["small", "medium"] }
"""


def aws_pack() -> object:
    """A policy pack judging AWS inputs: versioning and a dead-letter queue in protected
    environments, and retention outside them."""
    from tfpilot_core.models import PolicyLevel
    from tfpilot_policy_builtin.api import Hit, RequestContext, Rule

    class VersioningInProd(Rule):
        id = "test.versioning_prod"
        title = "Versioning in protected environments"
        default_level = PolicyLevel.MANDATORY

        def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
            if ctx.environment.protected and ctx.inputs.get("versioning_enabled") is False:
                yield Hit("inputs.versioning_enabled", "versioning is off in a protected env")

    class DeadLetterInProd(Rule):
        id = "test.dlq_prod"
        title = "Dead-letter queues in protected environments"
        default_level = PolicyLevel.ADVISORY

        def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
            if ctx.environment.protected and ctx.inputs.get("dlq_enabled") is False:
                yield Hit("inputs.dlq_enabled", "no dead-letter queue")

    class RetentionInDev(Rule):
        id = "test.retention_dev"
        title = "Short retention outside protected environments"
        default_level = PolicyLevel.ADVISORY

        def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
            days = ctx.inputs.get("retention_in_days")
            if not ctx.environment.protected and isinstance(days, int) and days > 90:
                yield Hit("inputs.retention_in_days", f"{days} days kept in a dev log group")

    @hookimpl(optionalhook=True)
    def tfpilot_register_policy_rules() -> list[Rule]:
        return [VersioningInProd(), DeadLetterInProd(), RetentionInDev()]

    return SimpleNamespace(tfpilot_register_policy_rules=tfpilot_register_policy_rules)


@pytest.fixture
def make_platform(tfpilot_platform: PlatformFactory) -> Callable[..., Platform]:
    """``make_platform(extra_plugins=(), extra_config="")``: a platform in a fresh home."""

    def build(extra_plugins: Sequence[tuple[str, object]] = (), extra_config: str = "") -> Platform:
        return tfpilot_platform(
            f'[plugins.modules_dir]\npaths = ["{REPO / "modules"}"]\n' + extra_config,
            users=CONFIG,
            extra_plugins=[("aws_pack", aws_pack()), *extra_plugins],
        )

    return build


def findings_on(platform: Platform, request: Any, inputs: dict[str, Any]) -> set[tuple[str, str]]:
    """(rule, address) of every request-stage finding on ``inputs``, judged afresh."""
    from tfpilot_core.interfaces import PolicyInput

    subject = PolicyInput(
        request=request.model_copy(update={"inputs": inputs}),
        environment=platform.environment(request.placement.environment),
        stage="request",
        module=platform.catalog.get(request.placement.module),
    )
    return {(f.rule_id, f.address or "") for f in platform.host.evaluate_policy(subject)}
