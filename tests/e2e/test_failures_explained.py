"""Failures explained with real Terraform (issue 28 item 3): the error a failed plan or apply
records is explained by the rules, masked, and rendered for people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.failures import explain_failure, render_failure
from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow


def test_a_failed_apply_on_a_taken_name_is_a_name_conflict(
    make_platform: Callable[..., Platform], sandbox_objects: Callable[..., Any]
) -> None:
    platform = make_platform()
    objects = sandbox_objects(platform)
    request = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "taken"},
    )
    request = platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    objects.create(
        "sandbox_bucket",
        request.inputs["name"],
        {"region": "local-1", "tags": {}, "public_access": False, "encryption": True,
         "versioning": True},
    )  # fmt: skip
    with pytest.raises(ExternalToolError):
        platform.apply("bob", request.id)
    attempt = platform.get(request.id).latest(RunKind.APPLY)
    assert attempt is not None and attempt.error
    explained = explain_failure("apply", attempt.error)
    assert explained.cause == "name_conflict", attempt.error
    assert explained.evidence and "taken" in explained.evidence
    text = render_failure(explained)
    assert text.startswith("The name is already taken (name_conflict)")
    assert "Choose another name" in text


def test_a_plan_refused_by_the_module_is_a_validation_failure(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform()
    request = platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "fail-x"}
    )
    with pytest.raises(ExternalToolError):
        platform.plan("alice", request.id)
    attempt = platform.get(request.id).latest(RunKind.PLAN)
    assert attempt is not None and attempt.error
    explained = explain_failure("plan", attempt.error)
    assert explained.cause == "validation", attempt.error
    assert explained.facts.diagnostics, "the Error: block is read as a diagnostic"
    assert "Names starting with fail are refused" in render_failure(explained)
