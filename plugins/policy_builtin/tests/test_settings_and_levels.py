"""Configuration, levels per rule and environment, opt-outs, request-stage rules, policy show."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.errors import ConfigError
from tfpilot_core.models import OptOut, PolicyLevel
from tfpilot_core.plan import Plan
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings
from tfpilot_policy_builtin.testing import PlanBuilder

from .conftest import DEV, PROD

Make = Callable[..., BuiltinPolicyEngine]


def open_bucket_plan() -> Plan:
    plan = PlanBuilder()
    plan.s3_bucket("acme-a", tags={"owner": "x"}, block=False)
    return Plan.parse(plan.build())


def test_settings_refuse_unknown_keys_and_bad_patterns() -> None:
    with pytest.raises(PydanticValidationError, match="extra"):
        PolicySettings.model_validate({"allowed_region": ["x"]})
    with pytest.raises(PydanticValidationError, match="regular expression"):
        PolicySettings.model_validate({"naming_pattern": "("})
    with pytest.raises(PydanticValidationError, match="extra"):
        PolicySettings.model_validate({"environments": {"prod": {"levelz": {}}}})
    with pytest.raises(PydanticValidationError):
        PolicySettings.model_validate({"levels": {"tags.required": "loud"}})


def test_unknown_rule_in_levels_is_a_config_error_naming_the_key(make_engine: Make) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.policy_builtin\.levels\.tags\.requird"):
        make_engine(levels={"tags.requird": "advisory"})


@pytest.mark.parametrize("level", ["off", "advisory"])
@pytest.mark.parametrize("where", ["default", "environment"])
def test_security_defaults_cannot_be_lowered_by_configuration(
    make_engine: Make, level: str, where: str
) -> None:
    levels = {"public_access.blocked": level}
    settings = (
        {"levels": levels} if where == "default" else {"environments": {"dev": {"levels": levels}}}
    )
    with pytest.raises(ConfigError, match="security default"):
        make_engine(**settings)


def test_levels_per_rule_and_environment(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.s3_bucket("Bad_Name")
    parsed = Plan.parse(plan.build())
    engine = make_engine(
        required_tags=["owner"],
        levels={"tags.required": "advisory"},
        environments={"prod": {"levels": {"tags.required": "blocking", "naming.pattern": "off"}}},
    )
    dev = {f.rule_id: f.level for f in engine.evaluate_plan(parsed, DEV)}
    prod = {f.rule_id: f.level for f in engine.evaluate_plan(parsed, PROD)}
    assert dev == {"tags.required": PolicyLevel.ADVISORY, "naming.pattern": PolicyLevel.MANDATORY}
    assert prod == {"tags.required": PolicyLevel.BLOCKING}


def test_environment_parameters_replace_defaults(make_engine: Make) -> None:
    engine = make_engine(
        allowed_regions=["eu-west-1", "us-east-1"],
        environments={"prod": {"allowed_regions": ["eu-west-1"]}},
    )
    plan = PlanBuilder(region="us-east-1")
    plan.s3_bucket("acme-a")
    parsed = Plan.parse(plan.build())
    assert engine.evaluate_plan(parsed, DEV) == []
    assert [f.rule_id for f in engine.evaluate_plan(parsed, PROD)] == ["region.allowed"]


def test_recorded_opt_out_makes_a_security_default_advisory_for_that_request(
    make_engine: Make,
) -> None:
    engine = make_engine()
    (blocking,) = engine.evaluate_plan(open_bucket_plan(), DEV)
    assert blocking.level is PolicyLevel.BLOCKING
    opt_out = OptOut(
        rule_id="public_access.blocked",
        justification="public website assets, reviewed in SEC-1234",
        actor="alice",
    )
    (advisory,) = engine.evaluate_plan(open_bucket_plan(), DEV, [opt_out])
    assert advisory.level is PolicyLevel.ADVISORY
    assert "opted out by alice: public website assets, reviewed in SEC-1234" in advisory.message
    # An opt-out from another rule changes nothing here.
    other = opt_out.model_copy(update={"rule_id": "encryption.enabled"})
    assert engine.evaluate_plan(open_bucket_plan(), DEV, [other])[0].level is PolicyLevel.BLOCKING


def test_opt_out_does_not_lower_ordinary_rules(make_engine: Make) -> None:
    engine = make_engine(required_tags=["owner"])
    opt_out = OptOut(rule_id="tags.required", justification="not a security default", actor="a")
    findings = engine.evaluate_request({"tags": {}}, DEV, [opt_out])
    assert [(f.rule_id, f.level) for f in findings] == [("tags.required", PolicyLevel.MANDATORY)]


def test_request_stage_rules(make_engine: Make) -> None:
    engine = make_engine(
        allowed_regions=["local-1"],
        required_tags=["tfpilot:request_id", "owner"],
        allowed_sizes={"sandbox_instance.size": ["small"]},
    )
    good = {
        "name": "logs-k3x9pq",
        "region": "local-1",
        "tags": {"tfpilot:request_id": "r", "owner": "o"},
        "size": "small",
    }
    assert engine.evaluate_request(good, DEV) == []
    bad = {
        "name": "Logs",
        "region": "local-9",
        "tags": {"tfpilot:request_id": "r"},
        "size": "xlarge",
        "public_access": True,
        "encryption": False,
    }
    findings = engine.evaluate_request(bad, DEV)
    assert {(f.rule_id, f.address, f.stage) for f in findings} == {
        ("naming.pattern", "inputs.name", "request"),
        ("region.allowed", "inputs.region", "request"),
        ("tags.required", "inputs.tags", "request"),
        ("size.allowed", "inputs.size", "request"),
        ("public_access.blocked", "inputs.public_access", "request"),
        ("encryption.enabled", "inputs.encryption", "request"),
    }


def test_module_specific_naming_pattern_at_request_stage(make_engine: Make) -> None:
    engine = make_engine(naming_patterns={"aws/cloudwatch-log-group": "^/[a-z/]+$"})
    assert (
        engine.evaluate_request({"name": "/app/orders"}, DEV, module="aws/cloudwatch-log-group")
        == []
    )
    assert engine.evaluate_request({"name": "/app/orders"}, DEV, module="aws/s3-bucket") != []


def test_effective_policy_per_environment(make_engine: Make) -> None:
    engine = make_engine(
        allowed_regions=["eu-west-1"],
        environments={"prod": {"levels": {"tags.required": "blocking"}, "allowed_regions": []}},
    )
    policy = engine.effective_policy([DEV, PROD])
    assert {r["id"] for r in policy["rules"]} >= {
        "naming.pattern",
        "region.allowed",
        "tags.required",
        "public_access.blocked",
        "encryption.enabled",
        "destroy.protected",
        "size.allowed",
    }
    security = {r["id"] for r in policy["rules"] if r["security_default"]}
    assert security == {"public_access.blocked", "encryption.enabled", "plan.complete"}
    dev, prod = policy["environments"]["dev"], policy["environments"]["prod"]
    assert dev["levels"]["tags.required"] == "mandatory"
    assert prod["levels"]["tags.required"] == "blocking"
    assert dev["levels"]["destroy.protected"].startswith("not applicable")
    assert prod["levels"]["destroy.protected"] == "mandatory"
    assert dev["parameters"]["allowed_regions"] == ["eu-west-1"]
    assert prod["parameters"]["allowed_regions"] == []
