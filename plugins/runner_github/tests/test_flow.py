"""The whole GitHub flow, in two processes: the dispatcher (this test) and Actions jobs.

The infra repository holds the caller workflows ``tfpilot init github`` writes; they call this
repository's reusable workflows, whose jobs use the ``setup-tfpilot`` composite action. All of it
runs locally (``actions_local``): each ``run:`` step in its own ``bash`` process with the
environment Actions sets and the dispatch input, the install step included (against a wheelhouse
of this checkout, ``--no-index``), against the shared store (S3 on moto's server), the local
runner and the sandbox provider (real Terraform), with the GitHub stand-in for the REST API. The
dispatcher sees every change the jobs record, and the webhook receiver turns reviews, comments
and run events into tfpilot actions.

request -> PR -> dispatched plan -> comment and check run -> approving review -> apply (comment
command) -> merge -> drift (none, then drifted) -> destroy plan on the cleanup PR -> approval ->
destroy -> the cleanup PR removes exactly the request's file.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from actions_local import LocalActions, OidcStandIn
from fastapi.testclient import TestClient
from gh_support import SECRET, TOKEN, USERS, deliver, run_event

from tfpilot_core.models import RunKind, RunStatus
from tfpilot_core.platform import Platform, sha256
from tfpilot_core.scaffold.github import Options, files_for
from tfpilot_runner_github.testing import GitHubStandIn
from tfpilot_runner_github.webhook import create_webhook_app

ROOT = Path(__file__).parents[3]
pytestmark = pytest.mark.slow
#: What the jobs install (the setup action's `plugins`): the sandbox provides the cloud here.
INSTALL_SET = ("store_s3", "runner_github", "policy_builtin", "sandbox")


def config_text(standin: GitHubStandIn, endpoint: str, bucket: str, shared: Path) -> str:
    """The infra repository's tfpilot.toml: S3 store, github runner, state outside workdirs."""
    return (
        '[core]\nstore = "s3"\nrunner = "github"\npolicy_engines = ["policy_builtin"]\n'
        # The stand-in jobs and dispatcher name their user ($GITHUB_ACTOR, $TFPILOT_USER)
        # without an OIDC token: on a shared store that is trusted only by this explicit choice.
        + "trust_local_user = true\n"
        + USERS
        + '[users.tfpilot-bot]\nrole = "developer"\n'
        + f'[plugins.store_s3]\nbucket = "{bucket}"\nendpoint_url = "{endpoint}"\n'
        + 'region = "us-east-1"\n'
        + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        # The state lives outside every job's working directory (a backend, as in production).
        + f'[plugins.runner_local.backend.local]\npath = "{shared}/state/{{request_id}}.tfstate"\n'
        + f'[plugins.sandbox]\nroot = "{shared}/objects"\nmirror_dir = "{shared}/mirror"\n'
        + "[plugins.runner_github]\n"
        + 'repository = "acme/infra"\n'
        + 'token = { "$env" = "GITHUB_TOKEN" }\n'
        + f'api_url = "{standin.url}"\n'
        + f'webhook_secret = "{SECRET}"\n'
        + "seconds_between_requests = 0\nseconds_between_writes = 0\n"
        + "backoff_factor = 0.01\n"
        + "[plugins.runner_github.users]\n"
        + '"alice-gh" = "alice"\n"bob-gh" = "bob"\n"carol-gh" = "carol"\n'
    )


@pytest.fixture
def world(
    tmp_path: Path,
    standin: GitHubStandIn,
    moto_s3: str,
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    actions_install: dict[str, Path],
    oidc: OidcStandIn,
) -> dict[str, Any]:
    bucket = f"tfp-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_s3).create_bucket(Bucket=bucket)
    shared = tmp_path / "shared"
    workspace = tmp_path / "infra"  # the infra repository's checkout
    # The callers `tfpilot init github` writes, installing from the wheelhouse of this checkout.
    options = Options(
        repository="acme/infra",
        ref="0123456789abcdef0123456789abcdef01234567",
        install_from="wheelhouse",
        wheelhouse=str(actions_install["wheelhouse"]),
        plugins=INSTALL_SET,
    )
    for relative, text in files_for(options).items():
        if relative.startswith(".github/"):
            (workspace / relative).parent.mkdir(parents=True, exist_ok=True)
            (workspace / relative).write_text(text)
    # The jobs act as their OIDC token's verified actor (identity github_actions, no user named
    # by a variable); the dispatcher keeps its own copy of the configuration and identity.
    text = config_text(standin, moto_s3, bucket, shared)
    jobs_text = text.replace("[core]\n", '[core]\nidentity = "github_actions"\n', 1) + (
        f'[plugins.github_actions]\nrepositories = ["acme/infra"]\njwks_url = "{oidc.url}/jwks"\n'
    )
    (workspace / "tfpilot.toml").write_text(jobs_text)
    dispatcher_config = tmp_path / "dispatcher.toml"
    dispatcher_config.write_text(text)
    home = tmp_path / "dispatcher"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    for name in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    environ = {
        "TFPILOT_HOME": str(home / ".tfpilot"),
        "TFPILOT_CONFIG": str(dispatcher_config),
    }
    platform = Platform.from_config(environ=environ)
    actions = LocalActions(
        workspace=workspace,
        artifacts=tmp_path / "artifacts",
        token=TOKEN,
        env={
            **aws_env,
            "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"),
            "OTEL_TRACES_EXPORTER": "console",
            "TFPILOT_LOG_LEVEL": "warning",
        },
        vars={
            "TFPILOT_PLAN_ROLE": "arn:aws:iam::123456789012:role/tfpilot-plan",
            "TFPILOT_APPLY_ROLE": "arn:aws:iam::123456789012:role/tfpilot-apply",
            "TFPILOT_AWS_REGION": "us-east-1",
        },
        python_bin=actions_install["bin"],
        oidc=oidc,
    )
    return {
        "platform": platform,
        "actions": actions,
        "tmp": tmp_path,
        "shared": shared,
        "dispatcher_config": dispatcher_config,
        "oidc": oidc,
    }


def job(world: dict[str, Any], standin: GitHubStandIn, name: str) -> Any:
    """Run the job of the latest dispatch (as Actions would), in its own home."""
    dispatch = standin.dispatches[-1]
    workflow = dispatch["workflow"]
    job_id = workflow.removeprefix("tfpilot-").removesuffix(".yml")
    run_id = str(dispatch["run_id"])
    standin.set_run(int(run_id), "in_progress")
    result = world["actions"].run_job(
        workflow,
        job_id,
        run_id=run_id,
        inputs={"request": json.dumps(dispatch["request"])},
        home=world["tmp"] / f"job-{name}",
    )
    standin.set_run(int(run_id), "completed", "success")
    return result


def status(platform: Platform, request_id: str) -> str:
    return platform.status(platform.get(request_id)).value


def comment_of(standin: GitHubStandIn, pr: int) -> str:
    [body] = [
        c["body"]
        for c in standin.repo.comments.values()
        if c["issue"] == pr and c["body"].startswith("<!-- tfpilot:request:")
    ]
    return body


def test_the_whole_flow(world: dict[str, Any], standin: GitHubStandIn, span_exporter: Any) -> None:
    platform: Platform = world["platform"]
    client = TestClient(create_webhook_app(platform))

    # A request, planned: a PR with the request's file, a dispatched plan, attempt queued.
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    rid = request.id
    planned = platform.plan("alice", rid)
    attempt = planned.latest(RunKind.PLAN)
    assert attempt.status is RunStatus.QUEUED and status(platform, rid) == "planning"
    dispatch = standin.dispatches[-1]
    assert dispatch["workflow"] == "tfpilot-plan.yml"
    assert dispatch["request"]["attempt_id"] == attempt.id
    assert dispatch["request"]["revision"] == 1
    assert attempt.external_id == str(dispatch["run_id"])  # from the dispatch response
    pr = standin.repo.pulls[1]
    path = f"tfpilot/requests/dev/{rid}.json"
    assert json.loads(standin.file(pr["head"]["ref"], path) or b"{}")["id"] == rid
    assert "is **planning**" in comment_of(standin, 1)

    # The plan job (another process) plans and records the result in the shared store.
    traceparent = dispatch["request"]["traceparent"]
    result = job(world, standin, "plan")
    written = world["tmp"] / "job-plan" / "runner-temp" / "tfpilot-plan" / "request.json"
    shown = json.loads(written.read_text())
    assert shown["status"] == "plan_ready"  # as the job saw it
    assert status(platform, rid) == "plan_ready"  # as the dispatcher sees it
    plan = platform.get(rid).latest(RunKind.PLAN)
    assert result.outputs["plan"]["digest"] == plan.plan_digest
    assert plan.external_id == str(dispatch["run_id"])
    # One trace: the job's spans continue the dispatcher's (W3C traceparent).
    trace_id = traceparent.split("-")[1]
    assert f'"trace_id": "0x{trace_id}"' in result.own_steps[0]["stderr"]
    assert any(s.name == "tfpilot.plan" for s in span_exporter.get_finished_spans())
    # The job updated the PR comment (with the digest) and made the plan's check run.
    body = comment_of(standin, 1)
    assert f"Plan digest: `{plan.plan_digest}`" in body and "is **plan_ready**" in body
    [check] = standin.repo.checks.values()
    assert check["head_sha"] == pr["head"]["sha"] and check["conclusion"] == "success"
    # The job judged the plan with the installed policy engine and estimated its cost.
    assert check["output"]["title"].startswith("0 policy finding(s)")
    after = [e.type for e in platform.timeline("alice", rid)]
    after = after[after.index("plan_succeeded") :]
    assert "policy_evaluated" in after and "cost_estimated" in after, after
    # A late workflow_run event changes nothing.
    late = deliver(
        client, "workflow_run", run_event(standin, int(dispatch["run_id"]), "in_progress")
    )
    assert late.json()["status"] == "ignored"

    # A review by a viewer-less, unmapped user is ignored with a reply; bob's approves.
    review = {"action": "submitted", "pull_request": {"number": 1}}
    review["review"] = standin.review(1, "mallory")
    outcome = deliver(client, "pull_request_review", review).json()
    assert outcome["status"] == "ignored" and "not mapped" in outcome["reason"]
    review["review"] = standin.review(1, "alice-gh")  # the author, a developer
    outcome = deliver(client, "pull_request_review", review).json()
    assert outcome["status"] == "ignored" and "approve" in outcome["reason"]
    review["review"] = standin.review(1, "bob-gh")
    outcome = deliver(client, "pull_request_review", review).json()
    assert outcome == {
        "status": "processed",
        "request": rid,
        "approved_by": "bob",
        "plan_digest": plan.plan_digest,
    }
    assert status(platform, rid) == "approved"
    replies = [c["body"] for c in standin.repo.comments.values() if c["issue"] == 1]
    assert any("review ignored: @mallory is not mapped" in r for r in replies)

    # `tfpilot apply` on the PR: bob is authorized; the apply is dispatched, then runs.
    command = {
        "action": "created",
        "issue": {"number": 1, "pull_request": {}},
        "comment": {"id": 9001, "body": "tfpilot apply", "user": {"login": "bob-gh"}},
    }
    outcome = deliver(client, "issue_comment", command).json()
    assert outcome["status"] == "processed", outcome
    assert outcome["request_status"] == "applying"
    apply_dispatch = standin.dispatches[-1]
    assert apply_dispatch["workflow"] == "tfpilot-apply.yml"
    assert apply_dispatch["request"]["plan_digest"] == plan.plan_digest
    assert apply_dispatch["request"]["plan_run_id"] == str(dispatch["run_id"])
    job(world, standin, "apply")
    applied = platform.get(rid)
    assert status(platform, rid) == "applied"
    apply = applied.latest(RunKind.APPLY)
    # The same digest across machines: approved, dispatched, applied, and the artifact's bytes.
    artifact = world["actions"].artifacts / f"tfplan-{plan.id}" / "tfplan"
    assert apply.plan_digest == plan.plan_digest == sha256(artifact.read_bytes())
    assert applied.approvals[-1].plan_digest == plan.plan_digest
    assert "is **applied**" in comment_of(standin, 1)

    # Merge the PR: the request's file is on main, and the merge is recorded on the request.
    merged = standin.merge(1)
    outcome = deliver(client, "pull_request", {"action": "closed", "pull_request": merged})
    assert outcome.json()["recorded"] == "pr_merged"
    assert standin.file("main", path) is not None

    # Nightly drift: the shards job, then the matrix job of each shard (in their own homes).
    actions = world["actions"]
    issued = len(world["oidc"].issued)
    shards = actions.run_job(
        "tfpilot-drift.yml", "drift/shards", run_id="901", home=world["tmp"] / "s"
    )
    matrix = json.loads(shards.job_outputs["matrix"])
    assert matrix == {"applied": 1, "shards": ["0/1"]}
    drift = actions.run_job(
        "tfpilot-drift.yml",
        "drift/drift",
        run_id="902",
        home=world["tmp"] / "d1",
        matrix={"shard": "0/1"},
        needs={"shards": shards.job_outputs},
    )
    assert _items(drift.own_steps[0]["stdout"]) == [{"request": rid, "result": "none"}]
    _change_out_of_band(world["shared"] / "objects", platform.get(rid).inputs["name"])
    drift = actions.run_job(
        "tfpilot-drift.yml",
        "drift/drift",
        run_id="903",
        home=world["tmp"] / "d2",
        matrix={"shard": "0/1"},
        needs={"shards": shards.job_outputs},
    )
    assert _items(drift.own_steps[0]["stdout"]) == [{"request": rid, "result": "drifted"}]
    assert platform.get(rid).drift.result.value == "drifted"
    # The drift jobs acted through their OIDC token (audience tfpilot), no TFPILOT_USER.
    assert ("tfpilot", "tfpilot-bot") in world["oidc"].issued[issued:]
    assert status(platform, rid) == "applied"

    # Destroy is a reviewed change: a destroy plan on a cleanup PR removing exactly the file.
    destroying = platform.destroy("carol", rid)
    assert status(platform, rid) == "planning"
    record = platform.store.get_record("github", rid)
    assert record is not None
    cleanup = int(record.value["cleanup_pr"])
    cleanup_branch = standin.repo.pulls[cleanup]["head"]["ref"]
    assert standin.file(cleanup_branch, path) is None
    assert standin.file("main", path) is not None
    assert standin.dispatches[-1]["ref"] == cleanup_branch
    assert destroying.latest(RunKind.PLAN).details.get("destroy") is True
    job(world, standin, "destroy-plan")
    assert status(platform, rid) == "plan_ready"
    destroy_plan = platform.get(rid).latest(RunKind.PLAN)
    assert f"Plan digest: `{destroy_plan.plan_digest}`" in comment_of(standin, cleanup)
    review = {"action": "submitted", "pull_request": {"number": cleanup}}
    review["review"] = standin.review(cleanup, "bob-gh")
    assert deliver(client, "pull_request_review", review).json()["status"] == "processed"
    assert status(platform, rid) == "approved"
    command["issue"] = {"number": cleanup, "pull_request": {}}
    command["comment"] = {"id": 9002, "body": "tfpilot apply", "user": {"login": "carol-gh"}}
    outcome = deliver(client, "issue_comment", command).json()
    assert outcome["request_status"] == "destroying"
    assert standin.dispatches[-1]["workflow"] == "tfpilot-destroy.yml"
    job(world, standin, "destroy")
    final = platform.get(rid)
    assert status(platform, rid) == "destroyed"
    assert final.latest(RunKind.DESTROY).plan_digest == destroy_plan.plan_digest
    assert not list((world["shared"] / "objects").rglob("*.json"))  # the bucket is gone
    assert "is **destroyed**" in comment_of(standin, cleanup)
    merged = standin.merge(cleanup)
    deliver(client, "pull_request", {"action": "closed", "pull_request": merged})
    assert standin.file("main", path) is None  # exactly the request's file removed
    assert standin.file("main", "README.md") == b"# infra\n"
    # A job that dies without recording a result: the hourly cleanup workflow concludes it.
    other = platform.plan(
        "alice",
        platform.create(
            "alice",
            module="sandbox/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "x"},
        ).id,
    )
    died = int(standin.dispatches[-1]["run_id"])
    standin.set_run(died, "completed", "failure")
    assert status(platform, other.id) == "planning"
    swept = world["actions"].run_job(
        "tfpilot-cleanup.yml", "sync", run_id="904", home=world["tmp"] / "cleanup"
    )
    rows = _items(swept.own_steps[0]["stdout"])
    assert rows == [
        {
            "request": other.id,
            "attempt": other.latest(RunKind.PLAN).id,
            "result": "recorded completed",
            "status": "failed",
        }
    ]
    assert status(platform, other.id) == "failed"
    types = [e.type for e in platform.timeline("carol", rid)]
    for expected in (
        "plan_dispatched",
        "plan_succeeded",
        "approved",
        "apply_dispatched",
        "apply_succeeded",
        "pr_merged",
        "drift_detected",
        "destroy_dispatched",
        "destroy_succeeded",
        "cleanup_pr_merged",
    ):
        assert expected in types, expected


def _items(stdout: str) -> list[Any]:
    """The rows a --json command printed: a list, or the list envelope's items."""
    data, _ = json.JSONDecoder().raw_decode(stdout)  # workflow commands may follow
    return list(data["items"] if isinstance(data, dict) else data)


def _change_out_of_band(objects: Path, name: str) -> None:
    """Edit the sandbox object behind Terraform's back (what drift detection must find)."""
    from tfpilot_sandbox.objects import ObjectStore

    ObjectStore(objects).update("sandbox_bucket", name, {"encryption": False})
