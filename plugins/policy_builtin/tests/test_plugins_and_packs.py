"""The plugin through the core's host: registration, settings, policy packs, failing closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import pytest

from tfpilot_core import hookimpl
from tfpilot_core.errors import (
    ConfigError,
    DuplicateRegistrationError,
    PluginError,
    PluginFailedError,
)
from tfpilot_core.interfaces import PolicyEngine, PolicyInput
from tfpilot_core.models import PolicyLevel
from tfpilot_core.plan import Plan
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_policy_builtin import plugin as builtin_plugin
from tfpilot_policy_builtin.api import Hit, PlanContext, RequestContext, Rule
from tfpilot_policy_builtin.settings import PolicySettings
from tfpilot_policy_builtin.testing import PlanBuilder

from .conftest import DEV


class BudgetRule(Rule):
    """A pack rule of the kind a cost plugin would contribute."""

    id = "cost.budget"
    title = "Monthly budget"
    default_level = PolicyLevel.MANDATORY

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        limit = ctx.rule_params.get("max_instances", 1)
        if int(ctx.inputs.get("count", 0)) > limit:
            yield Hit("inputs.count", f"more than {limit} instances")

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        limit = ctx.rule_params.get("max_instances", 1)
        instances = ctx.index.by_type.get("aws_instance", [])
        if len(instances) > limit:
            yield Hit(None, f"{len(instances)} instances, more than {limit}")


class BrokenRule(Rule):
    id = "broken.rule"

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        raise RuntimeError("pack bug")


def pack(*rules: Rule) -> object:
    @hookimpl(optionalhook=True)
    def tfpilot_register_policy_rules() -> list[Rule]:
        return list(rules)

    return SimpleNamespace(tfpilot_register_policy_rules=tfpilot_register_policy_rules)


def host_with_manager(tfpilot_host: PluginHost) -> PluginHost:
    """The host: factories reach it (and so the packs) through ``context.host``."""
    return tfpilot_host


def subject(stage: str = "plan", **inputs: Any) -> PolicyInput:
    plan = PlanBuilder()
    plan.resource("aws_instance", "a", {"root_block_device": [{"encrypted": True}]})
    plan.resource("aws_instance", "b", {"root_block_device": [{"encrypted": True}]})
    request = make_request("req_dev_bkt_abc123", inputs=inputs or {"name": "logs-abc123"})
    parsed = Plan.parse(plan.build()) if stage == "plan" else None
    return PolicyInput(request=request, environment=DEV, stage=stage, plan=parsed)


def test_registered_through_the_host(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    host = host_with_manager(tfpilot_host)
    names = [r.name for _, r in host.registrations(host_kind())]
    assert names == ["policy_builtin"]
    findings = host.evaluate_policy(subject("request", name="Logs", tags={}))
    assert {(f.rule_id, f.engine, f.stage) for f in findings} == {
        ("naming.pattern", "policy_builtin", "request"),
        ("tags.required", "policy_builtin", "request"),
    }
    engine = builtin_plugin.build_engine(PolicySettings(), host.context)
    assert isinstance(engine, PolicyEngine)


def host_kind() -> Any:
    from tfpilot_core.registrations import Kind

    return Kind.POLICY_ENGINE


def test_invalid_settings_are_a_config_error_naming_the_key(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    tfpilot_host.config.plugins["policy_builtin"] = {"allowed_regionz": ["x"]}
    with pytest.raises(ConfigError, match=r"plugins\.policy_builtin\.allowed_regionz"):
        tfpilot_host.evaluate_policy(subject())


def test_policy_pack_contributes_rules_with_parameters_and_levels(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(pack(BudgetRule()), name="cost_pack")
    tfpilot_host.config.plugins["policy_builtin"] = {
        "rule_params": {"cost.budget": {"max_instances": 1}},
        "environments": {"dev": {"levels": {"cost.budget": "blocking"}}},
    }
    host = host_with_manager(tfpilot_host)
    (finding,) = host.evaluate_policy(subject())
    assert (finding.rule_id, finding.level) == ("cost.budget", PolicyLevel.BLOCKING)
    assert "2 instances" in finding.message


def test_pack_selection(tfpilot_host: PluginHost, register_plugin: Callable[..., str]) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(pack(BudgetRule()), name="cost_pack")
    tfpilot_host.config.plugins["policy_builtin"] = {"packs": []}
    assert host_with_manager(tfpilot_host).evaluate_policy(subject()) == []


def test_a_raising_policy_engine_fails_closed_naming_its_plugin(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    class Exploding:
        def evaluate(self, subject: PolicyInput) -> list[Any]:
            raise RuntimeError("engine bug")

    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [Registration(name="exploding", factory=lambda s, c: Exploding())],
        ),
        name="exploding_policy",
    )
    with pytest.raises(PluginFailedError) as caught:
        host_with_manager(tfpilot_host).evaluate_policy(subject())
    assert caught.value.plugin == "exploding_policy"
    assert "exploding_policy" in caught.value.message and "engine bug" in caught.value.message


def test_a_raising_pack_rule_fails_closed_naming_the_pack(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(pack(BrokenRule()), name="broken_pack")
    with pytest.raises(PluginFailedError) as caught:
        host_with_manager(tfpilot_host).evaluate_policy(subject())
    assert caught.value.plugin == "broken_pack"
    assert "broken_pack" in caught.value.message and "pack bug" in caught.value.message


def test_a_raising_pack_hook_fails_closed_naming_the_pack(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    @hookimpl(optionalhook=True)
    def tfpilot_register_policy_rules() -> list[Rule]:
        raise ImportError("missing dependency")

    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(
        SimpleNamespace(tfpilot_register_policy_rules=tfpilot_register_policy_rules),
        name="bad_pack",
    )
    with pytest.raises(PluginFailedError, match="bad_pack"):
        host_with_manager(tfpilot_host).evaluate_policy(subject())


def test_pack_rule_ids_are_unique_and_typed(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    class Clash(Rule):
        id = "tags.required"

    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(pack(Clash()), name="clash_pack")
    with pytest.raises(DuplicateRegistrationError, match=r"policy_builtin.*clash_pack"):
        host_with_manager(tfpilot_host).evaluate_policy(subject())


def test_pack_returning_junk_is_an_error_naming_it(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str]
) -> None:
    register_plugin(builtin_plugin, name="policy_builtin")
    register_plugin(pack("not a rule"), name="junk_pack")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="junk_pack"):
        host_with_manager(tfpilot_host).evaluate_policy(subject())


def test_without_the_manager_in_context_packs_come_from_discovery(
    tfpilot_host: PluginHost, register_plugin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the core passes its manager, the factory discovers plugins as the CLI does."""
    monkeypatch.setenv("TFPILOT_LOAD_PLUGINS", "policy_builtin")
    register_plugin(builtin_plugin, name="policy_builtin")
    findings = tfpilot_host.evaluate_policy(subject("request", name="Logs"))
    assert [f.rule_id for f in findings] == ["naming.pattern"]
