"""Infracost documents with project errors, free resources and failures, judged truthfully.

The stand-in ``infracost`` prints ``metadata.errors`` as Infracost does for a project it cannot
price (``{code, message, data, isError}`` with an empty breakdown whose total is ``"0"``): such a
project is never read as free. Every project failed: the estimate failed. Some: it is partial,
names the failed projects, and ``cost.estimate_failed`` judges it per environment.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from infracost_standin import KEY, StandIn, plan_doc

from tfpilot_core.cost import delta_phrase, estimate_dict, is_partial, render_text
from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import CostEstimate, Environment, PolicyLevel, Request
from tfpilot_core.plan import Plan
from tfpilot_core.summary_rules import summarize_plan
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_cost_infracost.budget import budget_rules
from tfpilot_cost_infracost.estimator import InfracostEstimator
from tfpilot_cost_infracost.parse import InfracostOutputError, parse_estimate
from tfpilot_cost_infracost.settings import InfracostSettings
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings

DEV = Environment(key="dev", slug="development")
PROD = Environment(key="prod", slug="production", protected=True)
PLAN = plan_doc(
    {
        "test_vm.web": "test_vm",
        "module.db.test_db.main": "test_db",
        "test_role.free": "test_role",
    }
)
MODULE_ERROR = {
    "code": 102,
    "message": "Error loading Terraform modules: failed to inspect module path ./modules/db",
}
QUOTA = {"code": 401, "message": "You have exceeded your monthly run quota"}


def request() -> Request:
    return make_request("req-1")


def estimate_with(standin: StandIn, **config: object) -> CostEstimate:
    standin.configure(**{**standin.config, **config})
    settings = InfracostSettings.model_validate({"binary": str(standin.path), "api_key": KEY})
    estimate = InfracostEstimator(settings).estimate(request(), Plan.parse(json.dumps(PLAN)))
    assert estimate is not None
    return estimate


def engine() -> BuiltinPolicyEngine:
    settings = PolicySettings.model_validate(
        {
            "environments": {"prod": {"levels": {"cost.estimate_failed": "blocking"}}},
            "rule_params": {"cost.budget": {"total": [{"above": "10", "level": "blocking"}]}},
        }
    )
    return BuiltinPolicyEngine(settings, budget_rules())


def cost_findings(
    estimate: CostEstimate, environment: Environment
) -> list[tuple[str, PolicyLevel]]:
    plan = Plan.parse(json.dumps(PLAN))
    found = engine().evaluate_plan(plan, environment, cost=estimate)
    return [(f.rule_id, f.level) for f in found if f.rule_id.startswith("cost.")]


def test_one_failed_project_makes_a_partial_estimate_naming_it(standin: StandIn) -> None:
    healthy = estimate_with(standin, projects=2)
    priced_by_first = sum(
        (
            line.monthly
            for line in healthy.lines
            if line.address.startswith("project-0:") and line.monthly is not None
        ),
        Decimal(0),
    )
    estimate = estimate_with(standin, projects=2, project_errors={"1": [MODULE_ERROR]})
    assert is_partial(estimate)
    assert estimate.monthly == priced_by_first
    error = estimate.error or ""
    assert "partial estimate: Infracost could not price 1 of 2 projects" in error
    assert "project 'project-1': Error loading Terraform modules" in error and "code 102" in error
    assert not any(line.address.startswith("project-1:") for line in estimate.lines)
    # Judged per environment by cost.estimate_failed; the budget cannot vouch for a lower bound.
    assert cost_findings(estimate, DEV) == [("cost.estimate_failed", PolicyLevel.ADVISORY)]
    assert cost_findings(estimate, PROD) == [("cost.estimate_failed", PolicyLevel.BLOCKING)]
    assert "at least" in delta_phrase(estimate) and "partial" in delta_phrase(estimate)
    assert "estimate partial (totals are a lower bound)" in render_text(estimate)
    assert estimate_dict(estimate)["status"] == "partial"


def test_every_project_failed_is_a_failed_estimate_never_zero(standin: StandIn) -> None:
    estimate = estimate_with(standin, project_errors={"0": [QUOTA]})
    assert estimate.monthly is None and estimate.lines == []
    assert estimate.error == (
        "Infracost could not price the plan: project 'plan.json': You have exceeded your "
        "monthly run quota (code 401)"
    )
    assert cost_findings(estimate, PROD) == [("cost.estimate_failed", PolicyLevel.BLOCKING)]
    message = engine().evaluate_plan(Plan.parse(json.dumps(PLAN)), DEV, cost=estimate)[0].message
    assert message.startswith("the cost estimate failed (infracost): Infracost could not price")
    assert estimate_dict(estimate)["status"] == "failed"


def test_resources_without_cost_components_are_free(standin: StandIn) -> None:
    estimate = estimate_with(standin, free=["test_role"])
    lines = {line.address: line for line in estimate.lines}
    assert lines["test_role.free"].monthly == 0 and not lines["test_role.free"].unknown
    assert estimate.unknown == [] and estimate.error is None
    assert cost_findings(estimate, DEV) == [("cost.budget", PolicyLevel.BLOCKING)]


def test_a_failed_estimator_is_worded_as_a_failure_in_the_summary(standin: StandIn) -> None:
    settings = InfracostSettings.model_validate({"binary": "/nonexistent/infracost"})
    plan = Plan.parse(json.dumps(PLAN))
    estimate = InfracostEstimator(settings).estimate(request(), plan)
    assert estimate is not None and estimate.monthly is None
    text, _ = summarize_plan(request(), plan, SummaryContext(cost=estimate))
    assert "the cost estimate failed (infracost): the Infracost binary" in text
    assert "priced by usage" not in text


def test_a_partial_estimate_is_worded_as_incomplete_in_the_summary(standin: StandIn) -> None:
    estimate = estimate_with(standin, projects=2, project_errors={"1": [MODULE_ERROR]})
    plan = Plan.parse(json.dumps(PLAN))
    text, _ = summarize_plan(request(), plan, SummaryContext(cost=estimate))
    assert "per month at least: the estimate is incomplete (infracost): partial estimate" in text


def document(errors: object) -> str:
    return json.dumps(
        {
            "version": "0.2",
            "currency": "USD",
            "projects": [
                {
                    "name": "a",
                    "metadata": {"path": "a", "errors": errors},
                    "breakdown": {"resources": [], "totalMonthlyCost": "0"},
                }
            ],
            "totalMonthlyCost": "0",
        }
    )


def test_diagnostics_infracost_does_not_count_as_errors_are_not_failures() -> None:
    estimate = parse_estimate(
        document([{"code": 105, "message": "missing vars", "isError": False}])
    )
    assert estimate.error is None and estimate.monthly == 0


def test_errors_without_is_error_or_code_still_fail() -> None:
    estimate = parse_estimate(document([{"message": "No Terraform files found"}]))
    assert estimate.monthly is None
    assert (
        estimate.error
        == "Infracost could not price the plan: project 'a': No Terraform files found"
    )


@pytest.mark.parametrize(
    ("errors", "path"),
    [
        ("boom", "$.projects[0].metadata.errors"),
        (["boom"], "$.projects[0].metadata.errors[0]"),
        ([{"code": [1], "message": "x"}], "$.projects[0].metadata.errors[0].code"),
        ([{"code": 1, "message": 5}], "$.projects[0].metadata.errors[0].message"),
    ],
)
def test_malformed_errors_name_the_path(errors: object, path: str) -> None:
    with pytest.raises(InfracostOutputError, match=path.replace("[", r"\[").replace("$", r"\$")):
        parse_estimate(document(errors))
