"""A failed apply explained where people look (issue 28 item 3), with real Terraform.

A sandbox bucket whose name was taken after the plan fails its apply with the provider's
``name taken`` diagnostic. The lifecycle records the explanation on the failed attempt (one place:
``Kernel.recording_failure``, which the job executor uses too) and on the ``apply_failed``
event; the CLI error output, ``requests show``, the web request page, the PR comment and the
notification message all show it through ``render_failure``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExternalToolError
from tfpilot_core.failures import DETAILS_KEY, Explanation, explanation_of, latest_failure
from tfpilot_core.interfaces import Delivery
from tfpilot_core.models import Conclusion, RunKind
from tfpilot_core.notifications.render import build_message, render_slack, render_text
from tfpilot_core.platform import Platform
from tfpilot_core.testing.fixtures import PlatformFactory

pytestmark = pytest.mark.slow

CONFIG = "[plugins.runner_local]\ntimeout_seconds = 300\n"
TITLE = "The name is already taken (name_conflict)"
HINT = "Choose another name and update the request."


def _objects(platform: Platform) -> Any:
    from tfpilot_sandbox.objects import ObjectStore

    [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
    return ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"]))


def _take(platform: Platform, name: str) -> None:
    """Someone creates a bucket with the request's name between the plan and the apply."""
    _objects(platform).create(
        "sandbox_bucket",
        name,
        {"region": "local-1", "tags": {}, "public_access": False, "encryption": True,
         "versioning": True},
    )  # fmt: skip


@pytest.fixture
def approved(tfpilot_platform: PlatformFactory) -> Iterator[tuple[Platform, str, PlatformFactory]]:
    """A platform and an approved sandbox bucket request whose name is then taken."""
    platform = tfpilot_platform(CONFIG)
    request = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "taken"},
    )
    plan = platform.plan("alice", request.id).latest(RunKind.PLAN)
    assert plan is not None
    platform.approve("bob", request.id, plan_digest=plan.plan_digest)
    _take(platform, request.inputs["name"])
    yield platform, request.id, tfpilot_platform


def test_the_failed_attempt_and_event_carry_the_explanation(
    approved: tuple[Platform, str, PlatformFactory],
) -> None:
    platform, request_id, _ = approved
    with pytest.raises(ExternalToolError) as raised:
        platform.apply("bob", request_id)
    # The error the caller gets carries it (the CLI shows it from there).
    assert raised.value.explanation is not None
    assert raised.value.explanation["cause"] == "name_conflict"
    request = platform.get(request_id)
    attempt = request.latest(RunKind.APPLY)
    assert attempt is not None and attempt.conclusion is Conclusion.FAILURE
    explained = explanation_of(attempt)
    assert explained is not None and explained.cause == "name_conflict"
    assert explained.source == "rules" and explained.fallback_reason is None
    assert explained.evidence and "name taken" in explained.evidence
    # The facts come from the captured log: the provider's diagnostic and the log's end.
    assert any(d.summary == "name taken" for d in explained.facts.diagnostics)
    assert explained.facts.log_tail
    assert explained.runbook and explained.runbook.endswith("apply-failed.md")
    assert latest_failure(request) == explained
    [event] = [e for e in platform.timeline("alice", request_id) if e.type == "apply_failed"]
    brief = event.data[DETAILS_KEY]
    assert brief["cause"] == "name_conflict" and brief["facts"]["log_tail"] == []
    # A later successful run makes the failure history: nothing is shown as current.
    _objects(platform).delete("sandbox_bucket", request.inputs["name"])
    platform.plan("alice", request_id)
    assert latest_failure(platform.get(request_id)) is None


def test_cli_apply_and_requests_show_explain_the_failure(
    approved: tuple[Platform, str, PlatformFactory], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, request_id, factory = approved
    monkeypatch.setenv("TFPILOT_CONFIG", str(factory.home / "tfpilot.toml"))
    monkeypatch.setenv("TFPILOT_HOME", str(factory.home))
    result = CliRunner().invoke(cli, ["--as", "bob", "apply", request_id], obj=App())
    assert result.exit_code == 10, result.output
    # Terraform's own log lines come first on stderr; then the error and its explanation.
    err = result.stderr[result.stderr.index(f"Error: apply of {request_id} failed") :]
    print(err)
    assert TITLE in err and HINT in err and "From the log: " in err
    assert "Explained by tfpilot's rules." in err
    assert err.count("Runbook: ") == 1 and "apply-failed.md" in err

    shown = CliRunner().invoke(cli, ["--as", "alice", "requests", "show", request_id], obj=App())
    assert shown.exit_code == 0, shown.output
    assert "  failure:\n    " + TITLE in shown.output
    assert f"    What to do:\n      - {HINT}" in shown.output

    as_json = CliRunner().invoke(
        cli, ["--json", "--as", "alice", "requests", "show", request_id], obj=App()
    )
    data = json.loads(as_json.stdout)
    [apply_run] = data["runs"]["apply"]
    assert apply_run["details"][DETAILS_KEY]["cause"] == "name_conflict"


def test_web_page_pr_comment_and_notification_explain_the_failure(
    approved: tuple[Platform, str, PlatformFactory],
) -> None:
    from fastapi.testclient import TestClient

    from tfpilot_runner_github.comment import render
    from tfpilot_runner_github.settings import GitHubSettings
    from tfpilot_web import create_app
    from tfpilot_web.auth import create_token

    platform, request_id, _ = approved
    with pytest.raises(ExternalToolError):
        platform.apply("bob", request_id)
    request = platform.get(request_id)

    token = create_token(platform, "carol", user="alice")[0]
    with TestClient(create_app(platform)) as client:
        page = client.get(
            f"/requests/{request_id}",
            headers={"accept": "text/html", "Authorization": f"Bearer {token}"},
        )
    assert page.status_code == 200, page.text
    assert 'data-testid="failure"' in page.text and "Why it failed" in page.text
    assert TITLE in page.text and HINT in page.text

    settings = GitHubSettings(repository="acme/infra", token="t")
    comment = render(request, "failed", settings)
    assert "#### Why it failed" in comment
    assert "**The name is already taken** (name_conflict)" in comment
    assert f"- {HINT}" in comment
    # One runbook: the PR's, not a path on the machine that ran Terraform.
    assert comment.count("Runbook: ") == 1 and settings.runbook_url in comment

    [event] = [e for e in platform.timeline("alice", request_id) if e.type == "apply_failed"]
    delivery = Delivery(
        id="d1",
        event=event,
        request=request,
        channel="slack",
        recipient="#changes",
        runbook_url="https://runbooks.example/apply-failed",
    )
    message = build_message(delivery)
    text = render_text(message)
    assert TITLE in text and HINT in text
    assert text.index(TITLE) < text.index(f"apply of {request_id} failed")
    slack = json.dumps(render_slack(message))
    assert "name_conflict" in slack and "Choose another name" in slack
    explained = Explanation.from_dict(event.data[DETAILS_KEY])
    assert explained.cause == "name_conflict"


def test_a_drift_check_that_cannot_run_is_explained(
    tfpilot_platform: PlatformFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh fails (the object's file is unreadable): the drift check's attempt carries
    the explanation, and ``tfpilot drift check`` shows it."""
    platform = tfpilot_platform(CONFIG)
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "gone"}
    )
    plan = platform.plan("alice", request.id).latest(RunKind.PLAN)
    assert plan is not None
    platform.approve("bob", request.id, plan_digest=plan.plan_digest)
    platform.apply("bob", request.id)
    _objects(platform).path("sandbox_bucket", request.inputs["name"]).write_text("{not json")
    monkeypatch.setenv("TFPILOT_CONFIG", str(platform.config.source))
    monkeypatch.setenv("TFPILOT_HOME", str(platform.config.home))
    shown = CliRunner().invoke(cli, ["--as", "alice", "drift", "check", request.id], obj=App())
    checked = platform.get(request.id)
    attempt = checked.latest(RunKind.DRIFT)
    assert attempt is not None and attempt.conclusion is Conclusion.FAILURE, shown.output
    explained = explanation_of(attempt)
    assert explained is not None and explained.kind == "drift", attempt.details
    assert explained.facts.diagnostics or explained.facts.log_tail
    assert "  failure:\n    " + explained.title in shown.output
    [event] = [e for e in platform.timeline("alice", request.id) if e.type == "drift_checked"]
    assert event.data["result"] == "error" and event.data[DETAILS_KEY]["cause"] == explained.cause
