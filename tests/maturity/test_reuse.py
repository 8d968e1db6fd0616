"""Reuse decisions of a promotion, on stored documents (no Terraform): module version and cost."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.models import (
    Conclusion,
    Placement,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
)
from tfpilot_core.plan import Plan
from tfpilot_core.platform import Platform
from tfpilot_core.promotion import Promotions, reusable_cost
from tfpilot_core.stores.cas import update_request

SOURCE = "req_stage_bucket_aaaaaa"
TARGET = "req_prod_bucket_bbbbbb"
ADDRESS = "module.this.sandbox_bucket.this"
COST = {"monthly": "2.30", "previous": "0", "currency": "USD", "estimator": "sandbox"}


def _attempt(kind: RunKind, **fields: Any) -> RunAttempt:
    return RunAttempt(
        id=f"{kind.value}-1-abcdef12",
        kind=kind,
        number=1,
        runner="local",
        revision=1,
        actor="bob",
        status=RunStatus.COMPLETED,
        conclusion=Conclusion.SUCCESS,
        plan_digest="d" * 64,
        **fields,
    )


def _requests(platform: Platform, *, source_version: str = "v1") -> tuple[Request, Request]:
    source = Request(
        id=SOURCE,
        placement=Placement(
            project="shop", environment="stage", module="sandbox/bucket", module_version="v1"
        ),
        inputs={"name": "logs-aaaaaa"},
        created_by="alice",
        runs={
            RunKind.PLAN: [
                _attempt(RunKind.PLAN, module_version=source_version, details={"cost": COST})
            ],
            RunKind.APPLY: [_attempt(RunKind.APPLY)],
        },
    )
    target = Request(
        id=TARGET,
        placement=Placement(
            project="shop", environment="prod", module="sandbox/bucket", module_version="v1"
        ),
        inputs={"name": "logs-bbbbbb"},
        created_by="carol",
        promoted_from=SOURCE,
        promoted_by="carol",
        promotion={"reuse": {}},
    )
    platform.store.create_request(source)
    platform.store.create_request(target)
    state = {
        "resources": [
            {
                "mode": "managed",
                "module": "module.this",
                "type": "sandbox_bucket",
                "name": "this",
                "instances": [
                    {
                        "attributes": {
                            "id": "bkt-1",
                            "name": "logs-aaaaaa",
                            "region": "local-1",
                            "tags": {"tfpilot:request_id": SOURCE, "team": "a"},
                        }
                    }
                ],
            }
        ]
    }
    platform.store.put_artifact(SOURCE, "state.tfstate", json.dumps(state).encode())
    return platform.get(SOURCE), platform.get(TARGET)


def _plan(actions: list[str], **after: Any) -> Plan:
    values = {
        "name": "logs-bbbbbb",
        "region": "local-1",
        "tags": {"tfpilot:request_id": TARGET, "team": "a"},
        **after,
    }
    return Plan.parse(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": ADDRESS,
                    "module_address": "module.this",
                    "mode": "managed",
                    "type": "sandbox_bucket",
                    "name": "this",
                    "change": {"actions": actions, "before": None, "after": values},
                }
            ],
        }
    )


@pytest.fixture
def platform(make_platform: Callable[..., Platform]) -> Platform:
    return make_platform()


def test_the_cost_is_reused_when_the_plan_creates_what_the_source_applied(
    platform: Platform,
) -> None:
    source, target = _requests(platform)
    reuse = Promotions(platform)._reuse(source, target, platform.catalog.get("sandbox/bucket"))
    assert reuse["module_version"] == {"reused": True, "version": "v1"}
    estimate = reusable_cost(platform, target, _plan(["create"]))
    assert estimate is not None and str(estimate.monthly) == "2.30"
    assert estimate.estimator == "sandbox (reused)"
    decision = platform.get(TARGET).promotion["reuse"]["cost"]  # type: ignore[index]
    assert decision == {
        "reused": True,
        "from": SOURCE,
        "plan_digest": "d" * 64,
        "monthly": "2.30",
    }


@pytest.mark.parametrize(
    ("plan_args", "reason"),
    [
        ((["update"],), "not a plain create"),
        ((["create"],), "region differs"),
    ],
)
def test_the_cost_is_not_reused_when_the_plan_differs(
    platform: Platform, plan_args: tuple[list[str]], reason: str
) -> None:
    _, target = _requests(platform)
    after = {"region": "local-2"} if "region" in reason else {}
    assert reusable_cost(platform, target, _plan(*plan_args, **after)) is None
    decision = platform.get(TARGET).promotion["reuse"]["cost"]  # type: ignore[index]
    assert decision["reused"] is False and reason.split()[0] in decision["reason"]


def test_a_request_that_was_not_promoted_reuses_nothing(platform: Platform) -> None:
    source, _ = _requests(platform)
    assert reusable_cost(platform, source, _plan(["create"])) is None


def test_the_module_version_is_reused_only_when_unchanged(platform: Platform) -> None:
    promotions = Promotions(platform)
    spec = platform.catalog.get("sandbox/bucket")
    source, target = _requests(platform, source_version="v0")
    reuse = promotions._reuse(source, target, spec)
    assert reuse["module_version"]["reused"] is False
    assert "changed since the source's plan" in reuse["module_version"]["reason"]
    assert reuse["policy"] == {
        "reused": False,
        "reason": "the policy in force differs between stage and prod",
    }


def test_a_reused_estimate_is_the_targets_own_delta_against_its_own_state(
    platform: Platform,
) -> None:
    """The source was planned again after its first apply: its estimate says 2.30, was 2.30.

    The target creates the bucket anew: its previous cost is its own state's (nothing), so its
    delta is the full monthly cost, and a budget rule on the delta sees the new bucket.
    """
    _, target = _requests(platform)
    again = {
        "monthly": "2.30",
        "previous": "2.30",
        "currency": "USD",
        "estimator": "sandbox",
        "compared_to": "c" * 64,
        "lines": [
            {
                "address": ADDRESS,
                "resource_type": "sandbox_bucket",
                "monthly": "2.30",
                "previous": "2.30",
                "delta": "0",
            }
        ],
    }
    _with_source_cost(platform, again)
    estimate = reusable_cost(platform, target, _plan(["create"]))
    assert estimate is not None
    assert str(estimate.monthly) == "2.30" and estimate.previous == 0
    assert str(estimate.delta) == "2.30" and estimate.compared_to is None
    assert [(str(line.previous), str(line.delta)) for line in estimate.lines] == [("0", "2.30")]


def test_the_reused_label_is_said_once_along_a_chain(platform: Platform) -> None:
    _requests(platform)
    _with_source_cost(platform, {**COST, "estimator": "sandbox (reused)"})
    estimate = reusable_cost(platform, platform.get(TARGET), _plan(["create"]))
    assert estimate is not None and estimate.estimator == "sandbox (reused)"


def test_a_source_never_checked_for_drift_is_not_drift_free(platform: Platform) -> None:
    source, _ = _requests(platform)
    assert source.drift is None
    gate = next(g for g in Promotions(platform).gates(source) if g["gate"] == "drift_free")
    assert gate["ok"] is False and "never checked for drift" in gate["detail"]


def _with_source_cost(platform: Platform, cost: dict[str, Any]) -> None:
    """Give the source's applied plan the estimate ``cost``."""

    def change(current: Request) -> Request:
        current.runs[RunKind.PLAN][0].details["cost"] = cost
        return current

    update_request(platform.store, SOURCE, change)
