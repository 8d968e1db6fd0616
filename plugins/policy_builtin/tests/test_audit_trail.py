"""The audit trail through the platform: policy_evaluated with every finding, policy_blocked,
policy_overridden with approver and reason, opt-outs; in the timeline and the audit export.

The platform runs with the embedded store, a catalog module, this plugin's engine and a runner
that returns a given plan document (what the local runner returns after ``show -json``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.config import UserSettings
from tfpilot_core.errors import PolicyBlockedError
from tfpilot_core.interfaces import RunResult, RunSpec
from tfpilot_core.models import Role
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import module_source_plugin, plugin_with
from tfpilot_policy_builtin import plugin as builtin_plugin
from tfpilot_policy_builtin.testing import PlanBuilder

MODULE_TF = """
variable "name" {
  type = string
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "public_access" {
  type    = bool
  default = false
}
"""
MODULE_TOML = """
description = "A bucket"
category = "storage"
risk = "low"
name_input = "name"
tags_input = "tags"
"""


class PlanRunner:
    """Plans return ``self.document``; applies succeed."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {}

    # Extra keywords: the runner interface may grow options this test does not care about.
    def plan(self, spec: RunSpec, *, refresh_only: bool = False, **_: Any) -> RunResult:
        data = json.dumps(self.document, sort_keys=True).encode()
        return RunResult(
            success=True,
            plan_json=self.document,
            plan_file=b"PLAN" + data,
            rendered_digest=hashlib.sha256(data).hexdigest(),
        )

    def apply(self, spec: RunSpec, plan_file: bytes, **_: Any) -> RunResult:
        return RunResult(success=True, state=b"{}")

    def destroy(self, spec: RunSpec, **_: Any) -> RunResult:
        return RunResult(success=True, state=b"{}")


@pytest.fixture
def runner() -> PlanRunner:
    return PlanRunner()


@pytest.fixture
def platform(
    tfpilot_host: PluginHost,
    register_plugin: Callable[..., str],
    tmp_path: Path,
    runner: PlanRunner,
) -> Platform:
    module = tmp_path / "modules" / "bucket"
    module.mkdir(parents=True)
    (module / "variables.tf").write_text(MODULE_TF)
    (module / "tfpilot.module.toml").write_text(MODULE_TOML)
    register_plugin(module_source_plugin({"test/bucket": module}), name="test_modules")
    register_plugin(
        plugin_with(
            "tfpilot_register_runners",
            lambda: [Registration(name="plan_runner", factory=lambda s, c: runner)],
        ),
        name="plan_runner",
    )
    register_plugin(builtin_plugin, name="policy_builtin")
    config = tfpilot_host.config
    config.users = {
        "dev": UserSettings(role=Role.DEVELOPER),
        "appr": UserSettings(role=Role.APPROVER),
    }
    config.core.runner = "plan_runner"
    config.plugins["policy_builtin"] = {"required_tags": ["tfpilot:request_id", "owner"]}
    return Platform(tfpilot_host)


def untagged_bucket_plan(request_id: str, *, block: bool = True) -> dict[str, Any]:
    plan = PlanBuilder()
    plan.s3_bucket("acme-logs", module="module.this", block=block)
    # The module passes the request's tags, without the owner tag the policy requires.
    for change in plan.changes:
        if "tags" in (change["change"]["after"] or {}):
            tags = {"tfpilot:request_id": request_id}
            change["change"]["after"]["tags"] = change["change"]["after"]["tags_all"] = tags
    return plan.build()


def types_of(platform: Platform, request_id: str) -> list[str]:
    return [e.type for e in platform.timeline(request_id)]


def test_request_findings_plan_findings_override_and_audit(
    platform: Platform, runner: PlanRunner
) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    events = platform.timeline(request.id)
    evaluated = [e for e in events if e.type == "policy_evaluated"]
    assert evaluated[0].data["stage"] == "request"
    assert [(f["rule_id"], f["address"], f["level"]) for f in evaluated[0].data["findings"]] == [
        ("tags.required", "inputs.tags", "mandatory")
    ]

    runner.document = untagged_bucket_plan(request.id)
    planned = platform.plan("dev", request.id)
    plan_event = [e for e in platform.timeline(request.id) if e.type == "policy_evaluated"][-1]
    findings = plan_event.data["findings"]
    assert {(f["rule_id"], f["address"], f["level"], f["stage"]) for f in findings} == {
        ("tags.required", "inputs.tags", "mandatory", "request"),
        ("tags.required", "module.this.aws_s3_bucket.this", "mandatory", "plan"),
    }
    assert all(f["message"] and f["engine"] == "policy_builtin" for f in findings)

    with pytest.raises(PolicyBlockedError, match="mandatory findings need an override"):
        platform.approve("appr", request.id)
    platform.approve(
        "appr",
        request.id,
        overrides=[{"rule_id": "tags.required", "reason": "owner tag added by the team's SCP"}],
    )
    overridden = [e for e in platform.timeline(request.id) if e.type == "policy_overridden"]
    assert [(e.actor, e.data["rule_id"], e.data["reason"]) for e in overridden] == [
        ("appr", "tags.required", "owner tag added by the team's SCP")
    ]
    platform.apply("appr", request.id)
    audit = platform.audit(request.id)
    (change,) = audit["changes"]
    assert {f["rule_id"] for f in change["policy_findings"]} == {"tags.required"}
    assert change["approvals"][0]["overrides"][0]["reason"] == "owner tag added by the team's SCP"
    assert [e["type"] for e in audit["events"]].count("policy_evaluated") == 2
    assert planned.policy_findings


def test_blocking_plan_findings_are_recorded_and_cannot_be_overridden(
    platform: Platform, runner: PlanRunner
) -> None:
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "tags": {"owner": "data"}},
    )
    runner.document = untagged_bucket_plan(request.id, block=False)
    platform.plan("dev", request.id)
    blocked = [e for e in platform.timeline(request.id) if e.type == "policy_blocked"]
    assert [f["rule_id"] for f in blocked[0].data["findings"]] == ["public_access.blocked"]
    assert "approval_required" not in types_of(platform, request.id)
    with pytest.raises(PolicyBlockedError, match="cannot be overridden"):
        platform.approve(
            "appr",
            request.id,
            overrides=[{"rule_id": "public_access.blocked", "reason": "please"}],
        )


def test_recorded_opt_out_turns_a_security_default_advisory(
    platform: Platform, runner: PlanRunner
) -> None:
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "site", "tags": {"owner": "web"}},
        opt_outs=[
            {
                "rule_id": "public_access.blocked",
                "justification": "static website bucket, reviewed in SEC-42",
            }
        ],
    )
    runner.document = untagged_bucket_plan(request.id, block=False)
    planned = platform.plan("dev", request.id)
    (finding,) = [f for f in planned.policy_findings if f.rule_id == "public_access.blocked"]
    assert finding.level.value == "advisory"
    assert "opted out by dev: static website bucket, reviewed in SEC-42" in finding.message
    assert "policy_blocked" not in types_of(platform, request.id)
    audit = platform.audit(request.id)
    assert audit["request"]["opt_outs"][0]["justification"].startswith("static website")


def test_blocking_request_finding_refuses_the_create(platform: Platform) -> None:
    with pytest.raises(PolicyBlockedError, match=r"public_access\.blocked"):
        platform.create(
            "dev",
            module="test/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "logs", "tags": {"owner": "x"}, "public_access": True},
        )
    assert platform.list().items == []
