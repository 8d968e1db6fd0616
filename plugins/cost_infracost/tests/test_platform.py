"""Through the platform: the estimate stored with the plan digest, budgets as policy findings
(blocking, mandatory overridden with a reason into the audit export), failed estimates per
environment, estimators per environment, and ``tfpilot cost show``."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from infracost_standin import StandIn, plan_doc

from tfpilot_core.errors import PolicyBlockedError
from tfpilot_core.models import Environment, RunKind
from tfpilot_core.platform import Platform

Make = Callable[..., Platform]
APP = {"test_vm.web": "test_vm"}
BIG = {"test_vm.web": "test_vm", "test_db.main": "test_db"}


def create(platform: Platform) -> str:
    return platform.create(
        "dev", module="test/app", environment="dev", project="shop", inputs={"name": "web"}
    ).id


def findings(platform: Platform, request_id: str, prefix: str = "cost.") -> list[Any]:
    request = platform.get(request_id)
    return [
        (f.rule_id, f.address, f.level.value)
        for f in request.policy_findings
        if f.rule_id.startswith(prefix)
    ]


def test_estimate_is_stored_with_the_plan_digest_and_diffed_after_apply(
    make_platform: Make, runner: Any, standin: StandIn
) -> None:
    platform = make_platform()
    request_id = create(platform)
    runner.document = plan_doc(APP)
    request = platform.plan("dev", request_id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None and request.cost is not None
    assert request.cost.plan_digest == plan.plan_digest
    assert request.cost.monthly == Decimal("78.00") and request.cost.delta == Decimal("78.00")
    assert plan.details["cost"]["monthly"] == "78.00"
    cost_events = [e for e in platform.timeline("dev", request_id) if e.type == "cost_estimated"]
    assert cost_events[-1].data["monthly"] == "78.00"
    # The summary shows the delta too.
    assert request.summary is not None and "78.00" in request.summary.text

    platform.approve("appr", request_id)
    platform.apply("appr", request_id)
    runner.document = plan_doc(BIG, before=APP)
    request = platform.plan("dev", request_id)
    assert request.cost is not None
    assert request.cost.previous == Decimal("78.00")
    assert request.cost.delta == Decimal("200.00")
    assert request.cost.compared_to == plan.plan_digest
    assert standin.calls()[-1]["argv"][0] == "diff"


def test_a_budget_blocks_an_over_budget_change(make_platform: Make, runner: Any) -> None:
    platform = make_platform(
        budget={
            "increase": [
                {"above": "50", "level": "advisory"},
                {"above": "250", "level": "blocking"},
            ],
            "total": [{"above": "100", "level": "mandatory"}],
        }
    )
    request_id = create(platform)
    runner.document = plan_doc(BIG)
    platform.plan("dev", request_id)
    assert findings(platform, request_id, "cost.budget") == [
        ("cost.budget", "budget.increase", "blocking"),
        ("cost.budget", "budget.total", "mandatory"),
    ]
    blocked = [e for e in platform.timeline("dev", request_id) if e.type == "policy_blocked"]
    assert "278.00 USD" in blocked[-1].data["findings"][0]["message"]
    with pytest.raises(PolicyBlockedError, match="cannot be overridden"):
        platform.approve(
            "appr", request_id, overrides=[{"rule_id": "cost.budget", "reason": "please"}]
        )


def test_an_approver_overrides_a_mandatory_budget_with_a_reason(
    make_platform: Make, runner: Any
) -> None:
    platform = make_platform(
        budget={
            "increase": [{"above": "50", "level": "advisory"}],
            "projects": {"shop": {"increase": [{"above": "60", "level": "mandatory"}]}},
        }
    )
    request_id = create(platform)
    runner.document = plan_doc(APP)
    platform.plan("dev", request_id)
    # The project's own threshold replaces the default one.
    assert findings(platform, request_id, "cost.budget") == [
        ("cost.budget", "budget.increase", "mandatory")
    ]
    with pytest.raises(PolicyBlockedError, match="mandatory findings need an override"):
        platform.approve("appr", request_id)
    reason = "launch week traffic, agreed with finance"
    platform.approve("appr", request_id, overrides=[{"rule_id": "cost.budget", "reason": reason}])
    platform.apply("appr", request_id)
    audit = platform.audit("appr", request_id)
    (change,) = audit["changes"]
    assert "cost.budget" in {f["rule_id"] for f in change["policy_findings"]}
    assert change["approvals"][0]["overrides"][0]["reason"] == reason
    overridden = [e for e in audit["events"] if e["type"] == "policy_overridden"]
    assert overridden[0]["data"]["rule_id"] == "cost.budget"


def test_unknown_cost_is_a_finding_of_its_own_with_its_level(
    make_platform: Make, runner: Any
) -> None:
    platform = make_platform(policy={"levels": {"cost.unknown": "mandatory"}})
    request_id = create(platform)
    runner.document = plan_doc({**APP, "test_fn.api": "test_fn"})
    request = platform.plan("dev", request_id)
    assert request.cost is not None and request.cost.unknown == ["test_fn.api"]
    assert findings(platform, request_id) == [("cost.unknown", "test_fn.api", "mandatory")]


def test_a_failed_estimate_is_recorded_and_blocks_only_where_configured(
    make_platform: Make, runner: Any
) -> None:
    platform = make_platform(
        api_key="ico-wrong-key-000",
        policy={"environments": {"prod": {"levels": {"cost.estimate_failed": "blocking"}}}},
    )
    request_id = create(platform)
    runner.document = plan_doc(APP)
    request = platform.plan("dev", request_id)
    assert request.cost is not None and request.cost.error is not None
    assert "rejected the API key" in request.cost.error
    assert findings(platform, request_id) == [("cost.estimate_failed", None, "advisory")]
    assert "approval_required" in [e.type for e in platform.timeline("dev", request_id)]
    assert "ico-wrong-key-000" not in json.dumps(platform.audit("dev", request_id), default=str)

    prod = platform.create(
        "dev", module="test/app", environment="prod", project="shop", inputs={"name": "web"}
    ).id
    platform.plan("dev", prod)
    assert findings(platform, prod) == [("cost.estimate_failed", None, "blocking")]


def test_estimators_are_chosen_per_environment(make_platform: Make, runner: Any) -> None:
    from tfpilot_core.registrations import Registration
    from tfpilot_core.testing import plugin_with

    platform = make_platform()

    class Flat:
        def estimate(self, request: Any, plan: Any) -> Any:
            from tfpilot_core.models import CostEstimate

            return CostEstimate(monthly=Decimal("1"), previous=Decimal("0"))

    host = platform.host
    host.plugins.manager.register(
        plugin_with(
            "tfpilot_register_cost_estimators",
            lambda: [Registration(name="flat", factory=lambda s, c: Flat())],
        ),
        name="flat_cost",
    )
    host._registrations.clear()
    platform.config.core.environments = [
        Environment(key="dev", cost_estimators=["flat"]),
        Environment(key="prod", protected=True),
    ]
    dev = create(platform)
    runner.document = plan_doc(APP)
    assert platform.plan("dev", dev).cost.estimator == "flat"  # type: ignore[union-attr]
    prod = platform.create(
        "dev", module="test/app", environment="prod", project="shop", inputs={"name": "web"}
    ).id
    assert platform.plan("dev", prod).cost.estimator == "infracost"  # type: ignore[union-attr]


def test_a_failed_estimate_gives_way_to_the_next_estimator(
    make_platform: Make, runner: Any
) -> None:
    from tfpilot_core.registrations import Registration
    from tfpilot_core.testing import plugin_with

    platform = make_platform(api_key="ico-wrong-key-000")

    class Flat:
        def estimate(self, request: Any, plan: Any) -> Any:
            from tfpilot_core.models import CostEstimate

            return CostEstimate(monthly=Decimal("1"), previous=Decimal("0"))

    platform.host.plugins.manager.register(
        plugin_with(
            "tfpilot_register_cost_estimators",
            lambda: [Registration(name="flat", factory=lambda s, c: Flat())],
        ),
        name="flat_cost",
    )
    platform.host._registrations.clear()
    platform.config.core.cost_estimators = ["infracost", "flat"]
    request_id = create(platform)
    runner.document = plan_doc(APP)
    cost = platform.plan("dev", request_id).cost
    assert cost is not None and cost.estimator == "flat" and cost.error is None
