"""``tfpilot cost show`` on a platform built by the test (fast; the slow end-to-end test runs the
real command line): not planned yet, text, JSON, Markdown, and reads authorized."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner
from infracost_standin import plan_doc

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.config import Grant, UserSettings
from tfpilot_core.errors import ExitCode
from tfpilot_core.models import Role
from tfpilot_core.platform import Platform


def run(platform: Platform, actor: str, *args: str) -> Any:
    state = App(actor=actor)
    state._platform = platform
    return CliRunner().invoke(cli, ["--as", actor, *args], obj=state)


def test_cost_show(make_platform: Callable[..., Platform], runner: Any) -> None:
    platform = make_platform()
    platform.config.users["eve"] = UserSettings(
        grants=[Grant(role=Role.APPROVER, projects=["other"])]
    )
    request = platform.create(
        "dev", module="test/app", environment="dev", project="shop", inputs={"name": "web"}
    )
    missing = run(platform, "dev", "cost", "show", request.id)
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert f"tfpilot plan {request.id}" in missing.output

    runner.document = plan_doc({"test_vm.web": "test_vm", "test_fn.api": "test_fn"})
    platform.plan("dev", request.id)
    text = run(platform, "dev", "cost", "show", request.id)
    assert text.exit_code == 0, text.output
    assert "delta      +78.00 USD" in text.output
    assert "unknown    usage-based costs of 1 resource(s): test_fn.api" in text.output
    assert "root_block_device: Storage (general purpose SSD, gp3) (50 GB): 5" in text.output

    data = json.loads(run(platform, "dev", "cost", "show", request.id, "--json").output)
    assert data["request_id"] == request.id
    assert data["monthly"] == "78.00" and data["previous"] == "0" and data["delta"] == "78.00"
    assert data["unknown"] == ["test_fn.api"]

    md = run(platform, "dev", "cost", "show", request.id, "--markdown", "--top", "1").output
    assert md.startswith("#### Cost estimate") and "`test_vm.web`" in md
    assert "test_fn.api` (partly" not in md  # --top 1

    forbidden = run(platform, "eve", "cost", "show", request.id)
    assert forbidden.exit_code == ExitCode.FORBIDDEN
    assert "78.00" not in forbidden.output
