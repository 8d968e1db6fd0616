"""Promotion dev -> stage -> prod on the sandbox with real Terraform: gates, reuse, the chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ConfigError, ForbiddenError
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import DriftResult
from tfpilot_core.platform import Platform
from tfpilot_core.promotion import GateRefused, Promotions
from tfpilot_core.templates import Templates

PROMOTION = """
[core.promotion]
soak_hours = { stage = 24 }
max_drift_check_age_hours = { stage = 12 }
"""


def _ship(platform: Platform, request_id: str, author: str, approver: str) -> Any:
    platform.plan(author, request_id)
    platform.approve(approver, request_id)
    return platform.apply(approver, request_id)


def _events(platform: Platform, request_id: str) -> list[str]:
    return [e.type for e in platform.store.list_events(request_id)]


@pytest.mark.slow
def test_dev_stage_prod_with_gates_reuse_and_the_chain(
    make_platform: Callable[..., Platform],
    sandbox_objects: Callable[..., Any],
    home: Path,
) -> None:
    platform = make_platform(PROMOTION)
    clock = platform.kernel.clock
    objects = sandbox_objects(platform)
    # Stage has its own template for project shop: versioning is locked on there.
    Templates(platform).create(
        "carol",
        "stage-buckets",
        module="sandbox/bucket",
        environment="stage",
        project="shop",
        defaults={"versioning": True},
        locked=["versioning"],
    )
    dev = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "versioning": False, "tags": {"team": "a"}},
    )

    # Gate: an unapplied source.
    with pytest.raises(GateRefused, match=r"gate 'applied'.*request_created") as refused:
        platform.promote("alice", dev.id)
    assert refused.value.gate == "applied"

    dev = _ship(platform, dev.id, "alice", "bob")
    assert platform.status(dev) is RequestStatus.APPLIED

    # Gate: a drifted source (a real out-of-band change, seen by a refresh-only plan).
    objects.update("sandbox_bucket", dev.inputs["name"], {"public_access": True})
    dev = platform.check_drift("alice", dev.id)
    assert dev.drift is not None and dev.drift.result is DriftResult.DRIFTED
    with pytest.raises(GateRefused, match=r"gate 'drift_free'.*has drift.*found drifted"):
        platform.promote("alice", dev.id)
    dev = _ship(platform, dev.id, "alice", "bob")  # the new apply reverts the drift
    dev = platform.check_drift("alice", dev.id)
    assert dev.drift is not None and dev.drift.result is DriftResult.NONE

    # Gate: the path (skipping stage is refused, naming the next environment).
    with pytest.raises(GateRefused, match=r"gate 'path'.*promote to stage"):
        platform.promote("alice", dev.id, to="prod")

    # Dry run: every gate passes; the input diff shows the stage template's lock.
    preview = Promotions(platform).preview("alice", dev.id)
    assert preview["would_promote"] and preview["to"] == "stage"
    assert preview["template"] == {"name": "stage-buckets", "version": 1}
    rows = {row["input"]: row for row in preview["inputs"]}
    assert rows["versioning"]["source"] is False and rows["versioning"]["target"] is True
    assert "template" in rows["versioning"]["why"]
    assert rows["name"]["same"] and rows["tags"]["target"] == {"team": "a"}
    assert platform.store.list_events(dev.id)[-1].type != "promoted"  # nothing happened

    stage = platform.promote("alice", dev.id)
    assert stage.placement.environment == "stage" and stage.promoted_from == dev.id
    assert stage.promoted_by == "alice"
    assert stage.placement.template_id == "stage-buckets"
    assert stage.placement.template_version == 1
    assert stage.inputs["versioning"] is True and stage.inputs["name"].startswith("logs-")
    assert platform.get(dev.id).promoted_to == [stage.id]
    assert stage.promotion is not None
    assert stage.promotion["reuse"]["module_version"]["reused"] is True
    assert stage.promotion["reuse"]["policy"]["reused"] is False  # versioning differs
    assert "promoted" in _events(platform, dev.id) and "promoted" in _events(platform, stage.id)

    stage = _ship(platform, stage.id, "alice", "bob")
    assert stage.cost is not None and "(reused)" not in stage.cost.estimator
    assert platform.get(stage.id).promotion["reuse"]["cost"]["reused"] is False

    # Gate: stage needs a drift check newer than 12h; there was none.
    with pytest.raises(GateRefused, match=r"gate 'drift_free'.*never checked"):
        platform.promote("carol", stage.id)
    platform.check_drift("alice", stage.id)
    # Gate: soak time not reached (24h in stage).
    with pytest.raises(GateRefused, match=r"gate 'soak'.*of 24h in stage"):
        platform.promote("carol", stage.id)
    assert "promotion_ready" not in _events(platform, stage.id)
    clock.advance(hours=25)
    assert Promotions(platform).announce_ready() == [stage.id]
    # Soak is over (announced once), but the drift check is now 25h old.
    with pytest.raises(GateRefused, match=r"gate 'drift_check_age'.*25\.0h old"):
        platform.promote("carol", stage.id)
    assert _events(platform, stage.id).count("promotion_ready") == 1
    assert Promotions(platform).announce_ready() == []  # announced once per apply
    ready = next(e for e in platform.store.list_events(stage.id) if e.type == "promotion_ready")
    assert ready.data["to"] == "prod" and ready.data["soak_hours"] == 24
    platform.check_drift("alice", stage.id)

    prod = platform.promote("carol", stage.id, to="prod")
    assert prod.placement.environment == "prod" and prod.promoted_by == "carol"
    assert prod.placement.template_id is None  # stage's template is pinned to stage
    assert prod.inputs["versioning"] is True
    assert prod.promotion is not None
    policy = prod.promotion["reuse"]["policy"]
    assert policy["reused"] is False and "differs between stage and prod" in policy["reason"]

    # The plan is made in prod; it creates what stage's apply created, so the cost is reused.
    prod = platform.plan("carol", prod.id)
    assert prod.cost is not None and prod.cost.estimator == "sandbox (reused)"
    assert prod.cost.monthly == stage.cost.monthly
    # Against prod's own (empty) state: the new bucket's full monthly cost is prod's delta.
    assert prod.cost.previous == 0 and prod.cost.delta == prod.cost.monthly
    reuse = platform.get(prod.id).promotion["reuse"]["cost"]
    assert reuse["reused"] is True and reuse["from"] == stage.id

    # Prod needs its own approval, and four eyes counts the promoter.
    with pytest.raises(ForbiddenError, match="carol"):
        platform.approve("carol", prod.id)
    prod = platform.approve("erin", prod.id)
    prod = platform.apply("erin", prod.id)
    assert platform.status(prod) is RequestStatus.APPLIED
    assert objects.get("sandbox_bucket", prod.inputs["name"])["versioning"] is True

    # Gate: the last environment.
    platform.check_drift("carol", prod.id)
    with pytest.raises(GateRefused, match=r"gate 'path'.*last environment"):
        platform.promote("carol", prod.id)

    # The audit export shows the chain dev -> stage -> prod with digests and approvers.
    for request_id in (dev.id, stage.id, prod.id):
        record = platform.audit("bob", request_id)
        chain = record["promotion_chain"]
        assert [s["environment"] for s in chain] == ["dev", "stage", "prod"]
        assert [s["request"] for s in chain] == [dev.id, stage.id, prod.id]
    by_env = {s["environment"]: s for s in chain}
    assert by_env["dev"]["approvers"] == ["bob"] and by_env["stage"]["approvers"] == ["bob"]
    assert by_env["prod"]["approvers"] == ["erin"] and by_env["prod"]["promoted_by"] == "carol"
    for step in chain:
        assert step["applied"] and len(step["plan_digest"]) == 64
    assert by_env["prod"]["plan_digest"] == platform.get(prod.id).runs["apply"][-1].plan_digest
    assert "cost" in by_env["prod"]["reused"]

    # Identical inputs under an identical policy (dev and stage, no template for project web):
    # the request-stage evaluation is reused, and so is the cost of the identical plan.
    web = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="web", inputs={"name": "w"}
    )
    web = _ship(platform, web.id, "alice", "bob")
    platform.check_drift("alice", web.id)
    web_stage = platform.promote("alice", web.id)
    assert web_stage.placement.template_id is None
    assert web_stage.promotion is not None
    assert web_stage.promotion["reuse"]["policy"]["reused"] is True
    web_stage = platform.plan("alice", web_stage.id)
    assert web_stage.cost is not None and web_stage.cost.estimator == "sandbox (reused)"

    # The CLI export is the same record (deterministic JSON).
    result = CliRunner().invoke(
        cli, ["--as", "bob", "audit", "export", prod.id], obj=App(), env={"TFPILOT_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    assert [s["request"] for s in json.loads(result.stdout)["promotion_chain"]] == [
        dev.id,
        stage.id,
        prod.id,
    ]


def test_cli_promote_refuses_unapplied_and_dry_run_shows_gates(
    make_platform: Callable[..., Platform], home: Path
) -> None:
    platform = make_platform()
    dev = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "a"}
    )
    runner = CliRunner()
    env = {"TFPILOT_HOME": str(home)}
    result = runner.invoke(
        cli, ["--as", "alice", "requests", "promote", dev.id], obj=App(), env=env
    )
    assert result.exit_code == 8 and "gate 'applied'" in result.output
    result = runner.invoke(
        cli,
        ["--as", "alice", "--json", "requests", "promote", dev.id, "--dry-run"],
        obj=App(),
        env=env,
    )
    assert result.exit_code == 0, result.output
    preview = json.loads(result.stdout)
    assert preview["would_promote"] is False
    assert {g["gate"]: g["ok"] for g in preview["gates"]}["applied"] is False
    assert platform.get(dev.id).promoted_to == []
    result = runner.invoke(
        cli, ["--as", "alice", "--json", "requests", "promotion-ready"], obj=App(), env=env
    )
    assert result.exit_code == 0 and json.loads(result.stdout) == {"announced": []}


def test_an_explicit_path_per_project(make_platform: Callable[..., Platform]) -> None:
    platform = make_platform('[core.promotion]\npaths = { shop = ["dev", "prod"] }\n')
    promotions = Promotions(platform)
    assert promotions.path("shop") == ["dev", "prod"]
    assert promotions.path("web") == ["dev", "stage", "prod"]
    bad = make_platform('[core.promotion]\npaths = { shop = ["dev", "qa"] }\n')
    with pytest.raises(ConfigError, match=r"unknown or repeated.*qa"):
        Promotions(bad).path("shop")
