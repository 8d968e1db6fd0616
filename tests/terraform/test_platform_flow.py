"""The default plugins under the real Platform: plan, approve, apply, drift, destroy.

The platform calls ``runner.apply(spec, plan_file)`` without a rendered digest, so this also
checks that the runner's own plan records bind the apply to the plan's configuration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tfpilot_core.models import DriftResult, RunKind

pytestmark = pytest.mark.slow


def test_request_lifecycle_with_the_local_runner(tmp_path: Path, home: Path) -> None:
    """The lifecycle end to end through ``Platform`` with the default runner, detector, summary."""
    import tfpilot_sandbox.plugin
    from tfpilot_core.platform import Platform
    from tfpilot_sandbox.objects import ObjectStore

    config = tmp_path / "tfpilot.toml"
    config.write_text(
        '[users.alice]\nrole = "developer"\n[users.bob]\nrole = "admin"\n'
        f'[plugins.runner_local]\nworkdir = "{tmp_path / "work"}"\ntimeout_seconds = 300\n'
        "[plugins.modules_dir]\npaths = []\n"
    )
    platform = Platform.from_config(
        config,
        environ={"TFPILOT_HOME": str(home)},
        extra_plugins=[("sandbox", tfpilot_sandbox.plugin)],
        entry_points=False,
    )
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    request = platform.plan("alice", request.id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None and plan.rendered_digest and plan.plan_digest
    assert request.summary is not None and request.summary.summarizer == "rules"
    assert "1 to create" in request.summary.text
    platform.approve("bob", request.id)
    request = platform.apply("bob", request.id)
    applied = request.latest(RunKind.APPLY)
    assert applied is not None
    # The platform suffixes names with the request's random part.
    name = applied.details["outputs"]["name"]
    assert name.startswith("logs-")
    objects = ObjectStore(home / "sandbox" / "objects")
    assert objects.get("sandbox_bucket", name) is not None

    request = platform.check_drift("alice", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.NONE
    objects.update("sandbox_bucket", name, {"encryption": False})
    request = platform.check_drift("alice", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.DRIFTED

    request = platform.destroy("bob", request.id, yes=True)
    assert objects.get("sandbox_bucket", name) is None
    assert platform.store.get_artifact(request.id, "final-state.tfstate")
