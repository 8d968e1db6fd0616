"""Failure paths with real Terraform, through the Platform (embedded engine).

A plan-time Terraform error, a failing apply and its retry, stale and tampered plans refused,
Terraform missing, and a run killed mid-way that is reconciled and retried.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.errors import ConflictError, ExternalToolError, LockedError
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import Conclusion, RunKind, RunStatus
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow


def create(platform: Platform, module: str = "test/plain", name: str = "ok") -> Any:
    return platform.create(
        "alice", module=module, environment="dev", project="shop", inputs={"name": name}
    )


def test_plan_time_error_is_recorded(make_platform: Callable[..., Platform]) -> None:
    platform = make_platform()
    request = create(platform, name="fail-here")
    with pytest.raises(ExternalToolError, match="Names starting with fail are refused"):
        platform.plan("alice", request.id)
    request = platform.get(request.id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None and plan.conclusion is Conclusion.FAILURE and plan.error
    assert platform.status(request) is RequestStatus.FAILED
    assert [e.type for e in platform.timeline(request.id)][-1] == "plan_failed"
    # Fixed by an update, the request plans again.
    request = platform.update("alice", request.id, {"name": "fine"})
    assert platform.status(platform.plan("alice", request.id)) is RequestStatus.PLAN_READY


def test_failing_apply_needs_a_new_plan(
    make_platform: Callable[..., Platform], sandbox_objects: Callable[..., Any]
) -> None:
    platform = make_platform()
    objects = sandbox_objects(platform)
    request = create(platform, module="sandbox/bucket", name="taken")
    request = platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    # Someone creates a bucket with the same name before the apply: the provider refuses.
    objects.create(
        "sandbox_bucket",
        request.inputs["name"],
        {
            "region": "local-1",
            "tags": {},
            "public_access": False,
            "encryption": True,
            "versioning": True,
        },
    )
    with pytest.raises(ExternalToolError, match="taken"):
        platform.apply("bob", request.id)
    request = platform.get(request.id)
    assert platform.status(request) is RequestStatus.FAILED
    with pytest.raises(Exception, match="no approved plan"):
        platform.apply("bob", request.id)
    objects.delete("sandbox_bucket", request.inputs["name"])
    request = platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    assert platform.status(platform.apply("bob", request.id)) is RequestStatus.APPLIED


def test_tampered_and_stale_plans_are_refused(
    make_platform: Callable[..., Platform], modules_root: Path
) -> None:
    platform = make_platform()
    request = create(platform)
    request = platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None
    original = platform.store.get_artifact(request.id, f"{plan.id}.tfplan")
    platform.store.put_artifact(request.id, f"{plan.id}.tfplan", original + b"x")
    with pytest.raises(ConflictError, match="tampered"):
        platform.apply("bob", request.id)
    platform.store.put_artifact(request.id, f"{plan.id}.tfplan", original)
    # The module changes after approval: the approved plan is stale.
    (modules_root / "test" / "plain" / "extra.tf").write_text('output "extra" {\n  value = 1\n}\n')
    stale = make_platform()  # a new process sees the new module version
    with pytest.raises(ConflictError, match="changed since the plan"):
        stale.apply("bob", request.id)
    assert stale.get(request.id).latest(RunKind.APPLY) is None


def test_terraform_missing_is_a_clear_error(make_platform: Callable[..., Platform]) -> None:
    platform = make_platform(extra_config="")
    platform.config.plugins["runner_local"]["binary"] = "/nonexistent/terraform"
    request = create(platform)
    with pytest.raises(
        ExternalToolError, match="terraform executable '/nonexistent/terraform' not found"
    ):
        platform.plan("alice", request.id)
    plan = platform.get(request.id).latest(RunKind.PLAN)
    assert plan is not None and plan.conclusion is Conclusion.FAILURE


KILLED_PLAN = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from tfpilot_core.models import utcnow
    from tfpilot_core.platform import Platform

    # This process runs "three hours ago": when it is killed, its run and lock look as old as a
    # run whose machine died three hours before the test looks at it.
    environ = {"TFPILOT_HOME": sys.argv[1], "TFPILOT_CONFIG": sys.argv[1] + "/tfpilot.toml"}
    platform = Platform.from_config(environ=environ)
    platform.kernel.clock = lambda: utcnow() - timedelta(hours=3)
    platform.plan("alice", sys.argv[2])
    """
)


def test_run_killed_mid_way_is_reconciled_and_retried(
    make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    platform = make_platform()
    home = str(platform.config.home)
    request = create(platform, module="sandbox/bucket", name="killed")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PLAN, home, request.id],
        start_new_session=True,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            attempt = platform.get(request.id).latest(RunKind.PLAN)
            if attempt is not None and attempt.status is RunStatus.IN_PROGRESS:
                break
            assert child.poll() is None, "the plan finished before it could be interrupted"
            time.sleep(0.05)
        else:
            pytest.fail("the plan never started")
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    request = platform.get(request.id)
    attempt = request.latest(RunKind.PLAN)
    assert attempt is not None and attempt.status is RunStatus.IN_PROGRESS
    assert platform.status(request) is RequestStatus.FAILED  # stale: shown as failed

    request = platform.reconcile("alice", request.id)
    closed = request.latest(RunKind.PLAN)
    assert closed is not None and closed.conclusion is Conclusion.TIMED_OUT
    assert "runs_reconciled" in [e.type for e in platform.timeline(request.id)]
    # The dead run's lock has expired, so the retry goes ahead.
    request = platform.plan("alice", request.id)
    assert platform.status(request) is RequestStatus.PLAN_READY


def test_a_live_lock_blocks_a_second_run(make_platform: Callable[..., Platform]) -> None:
    platform = make_platform()
    request = create(platform)
    platform.kernel.lock(request.id, "another-process", "plan")
    with pytest.raises(LockedError, match="another-process"):
        platform.plan("alice", request.id)
