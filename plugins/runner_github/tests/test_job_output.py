"""A job's Terraform output reaches people as a local run's does.

Inside the Actions job (``tfpilot run plan``) the executing runner is wrapped like every runner
of the lifecycle, so the attempt's log is stored when the run ends; while it runs, its lines are
copied to the shared store, where the web UI of a server in another process reads them.
"""

from __future__ import annotations

import os

import pytest
from gh_support import USERS, create, github_section

from tfpilot_core import run_logs
from tfpilot_core.models import Conclusion, RunKind
from tfpilot_core.run_logs import live
from tfpilot_core.runs.executor import execute_plan
from tfpilot_core.testing.fixtures import PlatformFactory
from tfpilot_runner_github.testing import GitHubStandIn


@pytest.mark.slow
def test_a_job_stores_its_log_and_ships_its_lines_while_it_runs(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch, standin: GitHubStandIn
) -> None:
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)
    platform = tfpilot_platform(
        '[core]\nrunner = "github"\n' + USERS + github_section(standin.url), users=""
    )
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    assert attempt.status.value == "queued"

    planned = execute_plan(platform, request.id, attempt.id)
    assert planned.latest(RunKind.PLAN).conclusion is Conclusion.SUCCESS

    stored = run_logs.read(platform.store, request.id, attempt.id)
    assert f"attempt={attempt.id}" in stored and "sandbox_bucket" in stored
    shipped = platform.store.get_artifact(request.id, live.shipped_name(attempt.id)).decode()
    assert shipped and shipped.splitlines()[-1] in stored
