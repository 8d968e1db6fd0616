"""The estimator against the stand-in ``infracost``: arguments, environment, plan file, diffs
against the last applied plan, and every failure with a clear message."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from infracost_standin import KEY, StandIn, plan_doc

from tfpilot_core.models import Conclusion, Placement, Request, RunAttempt, RunKind
from tfpilot_core.plan import Plan
from tfpilot_cost_infracost.estimator import InfracostEstimator, previous_estimate
from tfpilot_cost_infracost.settings import InfracostSettings


def request() -> Request:
    return Request(
        id="dev-app-abc123",
        placement=Placement(project="shop", environment="dev", module="m", module_version="1"),
        inputs={},
        created_by="dev",
    )


def estimator(standin: StandIn, **settings: object) -> InfracostEstimator:
    values: dict[str, object] = {"binary": str(standin.path), "api_key": KEY, **settings}
    return InfracostEstimator(InfracostSettings.model_validate(values))


APP = {"test_vm.web": "test_vm"}
PLAN = plan_doc(
    {
        "test_vm.web": "test_vm",
        "module.db.test_db.main": "test_db",
        "test_fn.api": "test_fn",
        "test_role.free": "test_role",
    }
)


def test_breakdown_of_a_first_plan(standin: StandIn) -> None:
    estimate = estimator(standin, currency="EUR").estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is None
    # 73 + 5 (root block device) + 200; the lambda's requests are unknown, not zero.
    assert estimate.monthly == Decimal("278.00")
    assert isinstance(estimate.monthly, Decimal)
    assert estimate.previous == 0 and estimate.delta == Decimal("278.00")
    assert estimate.currency == "EUR"
    assert estimate.unknown == ["test_fn.api"]
    lines = {line.address: line for line in estimate.lines}
    assert lines["test_fn.api"].monthly is None
    assert lines["test_fn.api"].components[0].monthly is None
    assert lines["test_fn.api"].components[0].usage_based
    web = lines["test_vm.web"]
    assert web.delta == Decimal("78.00")
    assert [(c.subresource, c.monthly) for c in web.components] == [
        ("", Decimal("73.00")),
        ("root_block_device", Decimal("5")),
    ]
    (call,) = standin.calls()
    argv = call["argv"]
    assert argv[:3] == ["breakdown", "--path", "plan.json"]
    assert argv[argv.index("--format") + 1] == "json"
    assert KEY not in " ".join(argv)
    assert call["env"]["INFRACOST_API_KEY"] == KEY
    assert call["env"]["INFRACOST_CURRENCY"] == "EUR"


def test_endpoint_usage_file_and_the_callers_own_key_is_not_inherited(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = tmp_path / "usage.yml"
    usage.write_text("test_fn.api: 10\n")
    standin.configure(
        **standin.config,
        usage_file=str(usage),
        env={"INFRACOST_PRICING_API_ENDPOINT": "http://127.0.0.1:4000"},
    )
    monkeypatch.setenv("INFRACOST_API_KEY", "ico-someone-elses")
    estimate = estimator(
        standin, usage_file=str(usage), pricing_api_endpoint="http://127.0.0.1:4000/"
    ).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is None, estimate
    assert estimate.unknown == []
    assert estimate.monthly == Decimal("280.0")  # 10M requests at 0.2
    (call,) = standin.calls()
    assert call["env"]["INFRACOST_API_KEY"] == KEY


def applied(req: Request, estimate_json: dict[str, object], digest: str = "d" * 64) -> Request:
    plan = RunAttempt(
        id="plan-1",
        kind=RunKind.PLAN,
        number=1,
        runner="r",
        revision=1,
        actor="dev",
        conclusion=Conclusion.SUCCESS,
        plan_digest=digest,
        details={"cost": estimate_json},
    )
    apply = RunAttempt(
        id="apply-1",
        kind=RunKind.APPLY,
        number=1,
        runner="r",
        revision=1,
        actor="appr",
        conclusion=Conclusion.SUCCESS,
        plan_digest=digest,
    )
    req.runs = {RunKind.PLAN: [plan], RunKind.APPLY: [apply]}
    return req


def test_diff_against_the_last_applied_plan(standin: StandIn) -> None:
    first = estimator(standin).estimate(
        request(),
        Plan.parse(plan_doc({"test_vm.web": "test_vm", "test_vm.old": "test_vm"})),
    )
    assert first is not None and first.monthly == Decimal("156.00")
    req = applied(request(), first.model_dump(mode="json"))
    assert previous_estimate(req) is not None
    second_plan = plan_doc(
        {"test_vm.web": "test_vm", "test_db.main": "test_db"},
        before={"test_vm.web": "test_vm", "test_vm.old": "test_vm"},
    )
    second = estimator(standin).estimate(req, Plan.parse(second_plan))
    assert second is not None and second.error is None, second
    assert second.previous == Decimal("156.00")
    assert second.monthly == Decimal("278.00")
    assert second.delta == Decimal("122.00")
    assert second.compared_to == "d" * 64
    lines = {line.address: line for line in second.lines}
    assert lines["test_db.main"].delta == Decimal("200.00")
    assert lines["test_vm.old"].monthly == 0
    assert lines["test_vm.old"].delta == Decimal("-78.00")
    call = standin.calls()[-1]["argv"]
    assert call[0] == "diff"
    assert call[call.index("--compare-to") + 1] == "prior.json"


def test_several_projects_are_summed(standin: StandIn) -> None:
    standin.configure(**standin.config, projects=2)
    estimate = estimator(standin).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.monthly == Decimal("278.00")
    assert {line.address.split(":")[0] for line in estimate.lines} == {"project-0", "project-1"}


def test_a_rejected_key_says_so_and_never_shows_it(standin: StandIn) -> None:
    estimate = estimator(standin, api_key="ico-wrong-key-999").estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.monthly is None
    assert estimate.error is not None
    assert "rejected the API key" in estimate.error
    assert "Invalid API Key" in estimate.error
    assert "ico-wrong-key-999" not in estimate.model_dump_json()


def test_missing_binary(tmp_path: Path) -> None:
    settings = InfracostSettings(binary=str(tmp_path / "nope" / "infracost"))
    estimate = InfracostEstimator(settings).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is not None
    assert "was not found" in estimate.error and "install Infracost" in estimate.error


def test_timeout_stops_a_hanging_infracost(standin: StandIn) -> None:
    standin.configure(**standin.config, mode="hang")
    started = time.monotonic()
    estimate = estimator(standin, timeout_seconds=0.5).estimate(request(), Plan.parse(PLAN))
    assert time.monotonic() - started < 10
    assert estimate is not None and estimate.error is not None
    assert "did not finish within 0.5 seconds" in estimate.error


def test_malformed_output(standin: StandIn) -> None:
    standin.configure(**standin.config, mode="malformed")
    estimate = estimator(standin).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is not None
    assert "malformed JSON" in estimate.error


def test_unsupported_version(standin: StandIn) -> None:
    standin.configure(**standin.config, version="0.3")
    estimate = estimator(standin).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is not None
    assert "unsupported Infracost output version '0.3'" in estimate.error


def test_other_failure_names_the_exit_code(standin: StandIn) -> None:
    standin.configure(**standin.config, mode="crash")
    estimate = estimator(standin).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is not None
    assert "exit 2" in estimate.error and "something unexpected" in estimate.error


def test_missing_usage_file(standin: StandIn, tmp_path: Path) -> None:
    estimate = estimator(standin, usage_file=str(tmp_path / "none.yml")).estimate(
        request(), Plan.parse(PLAN)
    )
    assert estimate is not None and estimate.error is not None
    assert "usage file" in estimate.error and standin.calls() == []


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="http"):
        InfracostSettings(pricing_api_endpoint="ftp://x")
    with pytest.raises(ValueError):
        InfracostSettings(currency="euro")
    assert "ico" not in repr(InfracostSettings(api_key="ico-secret"))


def test_an_applied_plan_without_a_known_cost_gives_an_unknown_delta(standin: StandIn) -> None:
    req = applied(request(), {"monthly": None, "error": "timed out", "estimator": "infracost"})
    estimate = estimator(standin).estimate(req, Plan.parse(plan_doc(APP)))
    assert estimate is not None and estimate.error is None
    assert estimate.monthly == Decimal("78.00")
    assert estimate.previous is None and estimate.delta is None
    assert standin.calls()[-1]["argv"][0] == "breakdown"


def test_after_a_destroy_nothing_is_deployed(standin: StandIn) -> None:
    from tfpilot_core.models import utcnow

    req = applied(request(), {"monthly": "5", "estimator": "infracost"})
    destroy = RunAttempt(
        id="destroy-1",
        kind=RunKind.DESTROY,
        number=1,
        runner="r",
        revision=1,
        actor="appr",
        conclusion=Conclusion.SUCCESS,
        completed_at=utcnow(),
    )
    req.runs[RunKind.APPLY][0].completed_at = utcnow().replace(year=2020)
    req.runs[RunKind.DESTROY] = [destroy]
    assert previous_estimate(req) is None


def test_the_binary_is_found_on_path(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{standin.directory}{os.pathsep}{os.environ['PATH']}")
    settings = InfracostSettings(api_key=KEY)  # binary "infracost", looked up on PATH
    estimate = InfracostEstimator(settings).estimate(request(), Plan.parse(PLAN))
    assert estimate is not None and estimate.error is None and estimate.monthly == Decimal("278.00")
