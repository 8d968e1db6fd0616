"""The infra repository through real PyGithub against the local GitHub stand-in."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from gh_support import TOKEN, create

from tfpilot_core.errors import ConfigError, ExternalToolError, NotFoundError
from tfpilot_runner_github.infra import MARKER, InfraRepo
from tfpilot_runner_github.plugin import infra_for, settings_for
from tfpilot_runner_github.testing import Fault, GitHubStandIn


@pytest.fixture
def platform(make_platform: Any) -> Any:
    return make_platform()


@pytest.fixture
def infra(platform: Any) -> InfraRepo:
    return infra_for(platform)


def test_request_file_and_pr(platform: Any, infra: InfraRepo, standin: GitHubStandIn) -> None:
    request = create(platform)
    record = infra.ensure_pr(request, ["name"])
    path = f"tfpilot/requests/dev/{request.id}.json"
    assert record["path"] == path and record["pr"] == 1
    data = standin.file(record["branch"], path)
    assert data is not None and data.endswith(b"\n")
    document = json.loads(data)
    assert document["id"] == request.id and document["revision"] == 1
    # Sensitive inputs never reach git; the bytes are deterministic (sorted keys).
    assert document["inputs"]["name"] == "(sensitive)"
    assert data == json.dumps(document, sort_keys=True, indent=2).encode() + b"\n"
    assert standin.file("main", path) is None  # only on the branch until merged
    assert [s.status for s in standin.calls("POST", "/pulls")] == [201]
    before = len(standin.seen)
    infra.ensure_pr(request, ["name"])  # same revision: no call at all
    assert len(standin.seen) == before
    assert infra.request_for_pr(1) == (request.id, "request")


def test_update_supersedes_the_pr(platform: Any, infra: InfraRepo, standin: GitHubStandIn) -> None:
    request = create(platform)
    infra.ensure_pr(request, [])
    updated = platform.update("alice", request.id, {"versioning": True})
    record = infra.ensure_pr(updated, [])
    assert record["pr"] == 2 and record["revision"] == 2 and record["superseded"] == [1]
    old = standin.repo.pulls[1]
    assert old["state"] == "closed"
    comments = [c["body"] for c in standin.repo.comments.values() if c["issue"] == 1]
    assert comments == ["Superseded by #2 (revision 2); closed by tfpilot."]
    data = json.loads(standin.file(record["branch"], record["path"]) or b"{}")
    assert data["revision"] == 2 and data["inputs"]["versioning"] is True


def test_cleanup_pr_removes_exactly_the_file(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    request = create(platform)
    other = create(platform, "other")
    first = infra.ensure_pr(request, [])
    second = infra.ensure_pr(other, [])
    standin.merge(first["pr"])
    standin.merge(second["pr"])
    record = infra.open_cleanup_pr(request)
    branch = record["cleanup_branch"]
    assert standin.file(branch, first["path"]) is None
    assert standin.file(branch, second["path"]) is not None
    assert standin.file(branch, "README.md") == b"# infra\n"
    assert infra.request_for_pr(record["cleanup_pr"]) == (request.id, "cleanup")
    assert infra.open_cleanup_pr(request)["cleanup_pr"] == record["cleanup_pr"]  # once


def test_bad_token_is_reported_clearly(make_platform: Any, standin: GitHubStandIn) -> None:
    from gh_support import github_section

    platform = make_platform(github=github_section(standin.url).replace(TOKEN, "ghs_wrong"))
    with pytest.raises(ConfigError, match="401 Bad credentials"):
        infra_for(platform).ensure_pr(create(platform), [])
    assert standin.calls()[0].status == 401


def test_no_access_to_the_repository_is_a_clear_404(
    make_platform: Any, standin: GitHubStandIn
) -> None:
    from gh_support import github_section

    platform = make_platform(github=github_section(standin.url).replace("acme/infra", "acme/x"))
    with pytest.raises(NotFoundError, match="does not exist or the token has no access"):
        infra_for(platform).ensure_pr(create(platform), [])


def test_primary_rate_limit_waits_for_the_reset(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    standin.inject(Fault(kind="rate_limit", method="POST", path_contains="/git/refs", reset_in=1))
    started = time.monotonic()
    infra.ensure_pr(create(platform), [])
    statuses = [s.status for s in standin.calls("POST", "/git/refs")]
    assert statuses == [403, 201]
    assert time.monotonic() - started >= 0.5  # waited for x-ratelimit-reset


def test_429_retry_after_and_5xx_backoff(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    standin.inject(Fault(kind="retry_after", method="POST", path_contains="/pulls", reset_in=1))
    standin.inject(Fault(status=502, method="PUT", path_contains="/contents/", times=2))
    infra.ensure_pr(create(platform), [])
    assert [s.status for s in standin.calls("PUT", "/contents/")] == [502, 502, 201]
    assert [s.status for s in standin.calls("POST", "/pulls")] == [429, 201]


def test_persistent_5xx_fails_after_the_retries(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    standin.inject(Fault(status=503, method="GET", path_contains="/git/ref/", times=50))
    with pytest.raises(ExternalToolError, match="GitHub call on acme/infra failed"):
        infra.ensure_pr(create(platform), [])
    retries = settings_for(platform).max_retries
    assert len(standin.calls("GET", "/git/ref/")) == retries + 1


def test_dispatch_returns_the_run_when_github_says_it(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    payload = {"request_id": "r1", "attempt_id": "plan-1-abc"}
    run = infra.dispatch("tfpilot-plan.yml", "main", payload)
    assert run is not None and run.id == str(standin.dispatches[0]["run_id"])
    assert standin.dispatches[0]["request"] == payload
    assert [s.status for s in standin.calls("POST", "/dispatches")] == [200]


def test_dispatch_without_details_matches_the_run_by_name(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    from tfpilot_core.models import utcnow

    standin.return_run_details = False
    since = utcnow()
    assert (
        infra.dispatch("tfpilot-plan.yml", "main", {"request_id": "r1", "attempt_id": "a1"}) is None
    )
    assert (
        infra.dispatch("tfpilot-plan.yml", "main", {"request_id": "r1", "attempt_id": "a2"}) is None
    )
    assert [s.status for s in standin.calls("POST", "/dispatches")] == [204, 204]
    first, second = (str(d["run_id"]) for d in standin.dispatches)
    found = infra.find_run("tfpilot-plan.yml", "a1", since=since, exclude=set())
    assert found is not None and found.id == first
    # A run already linked to another attempt is never matched.
    assert infra.find_run("tfpilot-plan.yml", "a2", since=since, exclude={second}) is None


def test_dispatch_to_a_missing_workflow_is_404(infra: InfraRepo) -> None:
    with pytest.raises(NotFoundError):
        infra.dispatch("nope.yml", "main", {})


def test_comment_is_updated_in_place_and_trimmed(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    from tfpilot_runner_github.comment import trimmed

    request = create(platform)
    pr = infra.ensure_pr(request, [])["pr"]
    first = infra.upsert_comment(request.id, pr, "status: planning")
    infra.update_record(request.id, comments={})  # forget it: found again by the marker
    second = infra.upsert_comment(request.id, pr, "status: plan_ready")
    assert first == second
    bodies = [c["body"] for c in standin.repo.comments.values() if c["issue"] == pr]
    assert bodies == [f"{MARKER.format(request_id=request.id)}\nstatus: plan_ready"]
    huge = trimmed("x" * 200_000, request.id, infra.settings)
    assert len(huge) < 65_536 and huge.endswith(f"https://tfpilot.test/requests/{request.id}\n")
    infra.upsert_comment(request.id, pr, huge)
    assert standin.calls("PATCH", "/issues/comments/")[-1].status == 200


def test_check_run_annotations_in_batches_of_50(
    platform: Any, infra: InfraRepo, standin: GitHubStandIn
) -> None:
    request = create(platform)
    record = infra.ensure_pr(request, [])
    notes = [
        {
            "path": record["path"],
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "warning",
            "message": f"finding {i}",
        }
        for i in range(120)
    ]
    check_id = infra.check_run(
        head_sha=record["head_sha"],
        name="tfpilot plan",
        external_id=f"{request.id}:plan-1",
        title="120 findings",
        summary="s",
        conclusion="neutral",
        annotations=notes,
    )
    assert [s.method for s in standin.calls(contains="/check-runs")] == ["POST", "PATCH", "PATCH"]
    stored = standin.repo.checks[check_id]["output"]["annotations"]
    assert [a["message"] for a in stored] == [f"finding {i}" for i in range(120)]
