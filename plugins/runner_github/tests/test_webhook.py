"""Signed webhook deliveries to the receiver (FastAPI, driven over ASGI by httpx)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gh_support import create, deliver, run_event

from tfpilot_core.models import RunKind, RunStatus
from tfpilot_runner_github.testing import GitHubStandIn
from tfpilot_runner_github.webhook import create_webhook_app, verify


@pytest.fixture
def platform(make_platform: Any) -> Any:
    return make_platform()


@pytest.fixture
def client(platform: Any) -> TestClient:
    return TestClient(create_webhook_app(platform))


@pytest.fixture
def dispatched(platform: Any, standin: GitHubStandIn) -> Any:
    """A request whose plan was dispatched (queued), and its run id."""
    request = platform.plan("alice", create(platform).id)
    attempt = request.latest(RunKind.PLAN)
    assert attempt.status is RunStatus.QUEUED
    return request, int(standin.dispatches[-1]["run_id"])


def test_signature_is_verified(client: TestClient, dispatched: Any, standin: GitHubStandIn) -> None:
    _, run_id = dispatched
    payload = run_event(standin, run_id, "in_progress")
    assert deliver(client, "workflow_run", payload, signature=None).status_code == 401
    assert (
        deliver(client, "workflow_run", payload, signature="sha256=" + "0" * 64).status_code == 401
    )
    wrong = deliver(client, "workflow_run", payload, secret="another-secret")
    assert wrong.status_code == 401
    assert deliver(client, "workflow_run", payload).json()["status"] == "processed"


def test_verify_is_exact() -> None:
    from tfpilot_runner_github.webhook import signature

    good = signature("s", b"body")
    assert verify("s", b"body", good)
    assert not verify("s", b"body ", good)
    assert not verify("s", b"body", good.upper())
    assert not verify("s", b"body", None)


def test_a_replay_is_ignored(
    client: TestClient, platform: Any, dispatched: Any, standin: GitHubStandIn
) -> None:
    request, run_id = dispatched
    payload = run_event(standin, run_id, "in_progress")
    first = deliver(client, "workflow_run", payload, delivery="d-1")
    assert first.json()["status"] == "processed"
    events = len(platform.timeline("alice", request.id))
    again = deliver(client, "workflow_run", payload, delivery="d-1")
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "delivery": "d-1"}
    assert len(platform.timeline("alice", request.id)) == events


def test_workflow_run_never_moves_an_attempt_backwards(
    client: TestClient, platform: Any, dispatched: Any, standin: GitHubStandIn
) -> None:
    request, run_id = dispatched
    assert (
        deliver(client, "workflow_run", run_event(standin, run_id, "in_progress")).json()["status"]
        == "processed"
    )
    late = deliver(client, "workflow_run", run_event(standin, run_id, "queued")).json()
    assert late["status"] == "ignored" and "out of order" in late["reason"]
    attempt = platform.get(request.id).latest(RunKind.PLAN)
    assert attempt.status is RunStatus.IN_PROGRESS and attempt.external_id == str(run_id)
    done = deliver(client, "workflow_run", run_event(standin, run_id, "completed", "failure"))
    assert done.json()["status"] == "processed"
    assert platform.status(platform.get(request.id)).value == "failed"
    again = deliver(client, "workflow_run", run_event(standin, run_id, "in_progress")).json()
    assert again["status"] == "ignored" and "already" in again["reason"]
    assert platform.get(request.id).latest(RunKind.PLAN).conclusion.value == "failure"


def test_a_run_that_succeeded_without_a_result_failed(
    client: TestClient, platform: Any, dispatched: Any, standin: GitHubStandIn
) -> None:
    request, run_id = dispatched
    deliver(client, "workflow_run", run_event(standin, run_id, "completed", "success"))
    attempt = platform.get(request.id).latest(RunKind.PLAN)
    assert attempt.conclusion.value == "failure" and "without recording a result" in attempt.error


def test_a_run_of_another_attempt_is_never_linked(
    client: TestClient, platform: Any, dispatched: Any, standin: GitHubStandIn
) -> None:
    request, run_id = dispatched
    attempt = platform.get(request.id).latest(RunKind.PLAN)
    payload = run_event(standin, run_id, "in_progress")
    payload["workflow_run"]["id"] = 12345  # says it is this attempt's, with another run id
    outcome = deliver(client, "workflow_run", payload).json()
    assert outcome["status"] == "ignored" and "is not the run of attempt" in outcome["reason"]
    assert platform.get(request.id).latest(RunKind.PLAN).external_id == attempt.external_id


def test_unrelated_events_are_ignored(client: TestClient) -> None:
    assert deliver(client, "ping", {"zen": "Keep it simple"}).json()["status"] == "processed"
    assert deliver(client, "star", {}).json()["status"] == "ignored"
    run = {"workflow_run": {"id": 1, "display_title": "ci", "status": "completed"}}
    assert deliver(client, "workflow_run", run).json()["reason"] == "not a tfpilot run"


def test_comment_commands_are_authorized_like_the_cli(
    client: TestClient, platform: Any, standin: GitHubStandIn
) -> None:
    request = create(platform)
    pr = platform.plan("alice", request.id) and platform.get(request.id)
    number = int(standin.repo.pulls[1]["number"])
    # Planning again while planning is refused by the core; the reply says why.
    comment = {
        "action": "created",
        "issue": {"number": number, "pull_request": {}},
        "comment": {"id": 1, "body": "tfpilot plan", "user": {"login": "alice-gh"}},
    }
    outcome = deliver(client, "issue_comment", comment).json()
    assert outcome["status"] == "ignored" and "planning" in outcome["reason"]
    comment["comment"].update(id=2, user={"login": "stranger"})
    assert "not mapped" in deliver(client, "issue_comment", comment).json()["reason"]
    # The run dies: the request can be planned again, by those allowed to.
    run_id = int(standin.dispatches[-1]["run_id"])
    deliver(client, "workflow_run", run_event(standin, run_id, "completed", "failure"))
    assert platform.status(platform.get(request.id)).value == "failed"
    comment["comment"].update(id=3, user={"login": "vera-gh"})  # a viewer
    outcome = deliver(client, "issue_comment", comment).json()
    assert outcome["status"] == "ignored" and "vera" in outcome["reason"]  # the core's refusal
    assert platform.status(platform.get(request.id)).value == "failed"
    comment["comment"].update(id=4, user={"login": "alice-gh"})
    outcome = deliver(client, "issue_comment", comment).json()
    assert outcome["status"] == "processed" and outcome["request_status"] == "planning"
    assert len(standin.dispatches) == 2
    replies = [c["body"] for c in standin.repo.comments.values() if c["issue"] == number]
    assert any(r.startswith("tfpilot plan: refused:") and "vera" in r for r in replies)
    assert pr is not None


def test_a_failed_handler_releases_the_delivery(
    client: TestClient, dispatched: Any, standin: GitHubStandIn, platform: Any
) -> None:
    from tfpilot_runner_github.testing import Fault

    request = create(platform, "second")
    platform.plan("alice", request.id)
    number = max(standin.repo.pulls)
    comment = {
        "action": "created",
        "issue": {"number": number, "pull_request": {}},
        "comment": {"id": 9, "body": "tfpilot plan", "user": {"login": "alice-gh"}},
    }
    standin.inject(Fault(status=500, method="POST", path_contains="/comments", times=100))
    assert deliver(client, "issue_comment", comment, delivery="d-9").status_code == 500
    standin.faults.clear()
    # GitHub's redelivery of the same id is processed, not dropped as a duplicate.
    assert deliver(client, "issue_comment", comment, delivery="d-9").json()["status"] == "ignored"


def test_a_replayed_comment_command_acts_once(
    client: TestClient, platform: Any, standin: GitHubStandIn
) -> None:
    """A captured, signed ``tfpilot plan`` comment re-sent with new delivery ids (or edited)
    plans once: the command is bound to the comment id, in the store every replica shares."""
    request = create(platform)
    platform.plan("alice", request.id)
    number = int(standin.repo.pulls[1]["number"])
    run_id = int(standin.dispatches[-1]["run_id"])
    deliver(client, "workflow_run", run_event(standin, run_id, "completed", "failure"))
    comment = {
        "action": "created",
        "issue": {"number": number, "pull_request": {}},
        "comment": {
            "id": 4242,
            "body": "tfpilot plan",
            "user": {"login": "alice-gh"},
            "created_at": "2099-01-01T00:00:00Z",
        },
    }
    first = deliver(client, "issue_comment", comment, delivery="d-first").json()
    assert first["status"] == "processed", first
    dispatches = len(standin.dispatches)
    # The run fails again, so that a second plan would be allowed if the replay got through.
    run_id = int(standin.dispatches[-1]["run_id"])
    deliver(client, "workflow_run", run_event(standin, run_id, "completed", "failure"))
    events = len(platform.timeline("alice", request.id))
    replica = TestClient(create_webhook_app(platform))  # another receiver, the same store
    for n, receiver in enumerate([client, client, replica]):
        again = deliver(receiver, "issue_comment", comment, delivery=f"d-replay-{n}").json()
        assert again["status"] == "duplicate" and again["comment"] == 4242, again
    edited = {**comment, "action": "edited"}
    assert deliver(client, "issue_comment", edited).json()["status"] == "ignored"
    assert len(standin.dispatches) == dispatches
    assert len(platform.timeline("alice", request.id)) == events
    # A new comment is a new command.
    comment["comment"] = {**comment["comment"], "id": 4243}
    assert deliver(client, "issue_comment", comment).json()["status"] == "processed"
    assert len(standin.dispatches) == dispatches + 1


def test_an_old_comment_is_never_acted_on(
    client: TestClient, platform: Any, standin: GitHubStandIn
) -> None:
    request = create(platform)
    comment = {
        "action": "created",
        "issue": {"number": 1, "pull_request": {}},
        "comment": {
            "id": 77,
            "body": "tfpilot plan",
            "user": {"login": "alice-gh"},
            "created_at": "2020-01-01T00:00:00Z",
        },
    }
    platform.plan("alice", request.id)
    comment["issue"]["number"] = int(standin.repo.pulls[1]["number"])
    outcome = deliver(client, "issue_comment", comment).json()
    assert outcome["status"] == "ignored" and "older" in outcome["reason"], outcome


def test_a_large_or_unsigned_body_is_refused_before_it_is_read(client: TestClient) -> None:
    """The receiver reads no body without a signature header, and no more than GitHub's 25 MB."""
    pulled = 0

    def body(megabytes: int) -> Any:
        nonlocal pulled
        for _ in range(megabytes):
            pulled += 1
            yield b"\0" * (1024 * 1024)

    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-big"}
    unsigned = client.post("/github", content=body(400), headers=headers)
    assert unsigned.status_code == 401 and pulled <= 1, pulled
    pulled = 0
    declared = client.post(
        "/github",
        content=b"\0" * (26 * 1024 * 1024),
        headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert declared.status_code == 413
    signed = client.post(
        "/github",
        content=body(400),
        headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    # (The test client drains a refused stream itself; the web server's memory test streams
    # from a socket and sees the connection closed.)
    assert signed.status_code == 413


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_webhook_serve_gives_uvicorn_httptools_and_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tfpilot webhook serve`` runs uvicorn as ``tfpilot serve`` does (issue 31)."""
    import types

    import uvicorn
    import uvloop
    from click.testing import CliRunner
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    import tfpilot_core.cli.app as cli_app
    import tfpilot_runner_github.webhook as webhook
    from tfpilot_runner_github.commands import webhook as webhook_group

    seen: dict[str, Any] = {}
    receiver = object()
    monkeypatch.setattr(cli_app, "app", lambda: types.SimpleNamespace(platform=None))
    monkeypatch.setattr(webhook, "create_webhook_app", lambda platform: receiver)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    result = CliRunner().invoke(webhook_group, ["serve", "--port", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen.pop("app") is receiver
    config = uvicorn.Config(receiver, **seen)  # type: ignore[arg-type]
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    assert config.get_loop_factory() is uvloop.new_event_loop
