"""The infra repository: request files on branches, pull requests, dispatches, comments, checks.

What tfpilot knows about a request's GitHub side is kept in the store (namespace ``github``, one
record per request; ``github_prs`` maps a PR number back to its request), so that every process
(the CLI, the webhook receiver, an Actions job) finds the same PR and comment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.errors import ConflictError, ExternalToolError
from tfpilot_core.models import utcnow
from tfpilot_runner_github.client import call, make_github, repo_of

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository
    from github.WorkflowRun import WorkflowRun

    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Record, Request
    from tfpilot_runner_github.settings import GitHubSettings

log = structlog.get_logger("tfpilot.github")

REQUESTS = "github"
PRS = "github_prs"
#: The hidden marker that finds tfpilot's comment on a PR.
MARKER = "<!-- tfpilot:request:{request_id} -->"
#: GitHub's limit on a comment body, in characters.
COMMENT_LIMIT = 65_536
#: GitHub takes at most 50 annotations per check run request.
ANNOTATIONS_PER_REQUEST = 50
SENSITIVE = "(sensitive)"


def request_document(request: Request, sensitive_inputs: list[str] | tuple[str, ...]) -> bytes:
    """The request file: deterministic JSON (sorted keys, 2-space indent, final newline).

    Sensitive inputs are written as ``"(sensitive)"``: a git repository keeps every version
    forever, so a secret must never reach it.
    """
    inputs = {k: (SENSITIVE if k in sensitive_inputs else v) for k, v in request.inputs.items()}
    document = {
        "schema": "tfpilot.request/1",
        "id": request.id,
        "revision": request.revision,
        "project": request.placement.project,
        "environment": request.placement.environment,
        "module": request.placement.module,
        "module_version": request.placement.module_version,
        "created_by": request.created_by,
        "inputs": inputs,
    }
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


@dataclass
class RunInfo:
    """A workflow run as tfpilot needs it."""

    id: str
    status: str
    conclusion: str | None
    url: str | None
    title: str


class InfraRepo:
    """Operations on the infra repository, with their state kept in the store."""

    def __init__(self, settings: GitHubSettings, store: Store, *, gh: Github | None = None) -> None:
        self.settings = settings
        self.store = store
        self.gh = gh or make_github(settings)
        self.name = settings.repository

    @property
    def repo(self) -> Repository:
        """The repository handle (lazy)."""
        return repo_of(self.gh, self.settings)

    # -- records ------------------------------------------------------------------------------

    def record(self, request_id: str) -> Record | None:
        """The GitHub record of a request."""
        return self.store.get_record(REQUESTS, request_id)

    def update_record(self, request_id: str, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into the request's record (compare-and-swap, retried)."""
        for _ in range(20):
            current = self.record(request_id)
            value = {**(current.value if current else {}), **changes}
            try:
                self.store.put_record(
                    REQUESTS,
                    request_id,
                    value,
                    expected_version=current.version if current else None,
                )
                return value
            except ConflictError:
                continue
        raise ConflictError(f"the GitHub record of {request_id} keeps changing; retry")

    def _link_pr(self, number: int, request_id: str, kind: str) -> None:
        existing = self.store.get_record(PRS, str(number))
        self.store.put_record(
            PRS,
            str(number),
            {"request_id": request_id, "kind": kind},
            expected_version=existing.version if existing else None,
        )

    def request_for_pr(self, number: int) -> tuple[str, str] | None:
        """(request id, ``request`` or ``cleanup``) of a PR tfpilot opened, else ``None``."""
        found = self.store.get_record(PRS, str(number))
        if found is None:
            return None
        return str(found.value["request_id"]), str(found.value.get("kind", "request"))

    # -- files and pull requests --------------------------------------------------------------

    def file_path(self, request: Request) -> str:
        """Where the request's file lives in the repository."""
        return f"{self.settings.path}/{request.placement.environment}/{request.id}.json"

    def _branch_from_base(self, branch: str) -> None:
        base = call(self.name, lambda: self.repo.get_git_ref(f"heads/{self.settings.base_branch}"))
        sha = base.object.sha
        from github import GithubException

        try:
            call(self.name, lambda: self.repo.create_git_ref(f"refs/heads/{branch}", sha))
        except ExternalToolError as exc:
            # 422 "Reference already exists": a retried or repeated call; the branch is ours.
            cause = exc.__cause__
            if not (isinstance(cause, GithubException) and cause.status == 422):
                raise

    def _file_sha(self, path: str, ref: str) -> str | None:
        from github import GithubException

        try:
            found = self.repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(found, list):
            raise ExternalToolError(f"{path} in {self.name} is a directory, not a request file")
        return str(found.sha)

    def ensure_pr(
        self, request: Request, sensitive_inputs: list[str] | tuple[str, ...]
    ) -> dict[str, Any]:
        """Make sure the current revision's file is on a branch with an open PR.

        Nothing is called when the record already holds this revision's PR. A new revision gets
        a new branch and PR; the previous open PR is closed with a comment naming its successor.
        """
        record = self.record(request.id)
        value = record.value if record else {}
        if value.get("revision") == request.revision and value.get("pr"):
            return value
        branch = f"tfpilot/{request.id}/r{request.revision}"
        path = self.file_path(request)
        content = request_document(request, sensitive_inputs)
        message = f"tfpilot: {request.id} revision {request.revision}"

        def write() -> str:
            self._branch_from_base(branch)
            sha = self._file_sha(path, branch)
            if sha is None:
                result = self.repo.create_file(path, message, content, branch=branch)
            else:
                result = self.repo.update_file(path, message, content, sha, branch=branch)
            return str(result["commit"].sha)

        head_sha = call(self.name, write)
        title = (
            f"tfpilot: {request.placement.module} in {request.placement.environment} "
            f"({request.id}, revision {request.revision})"
        )
        body = self._pr_body(request, path)
        number = call(self.name, lambda: self._open_pr(title, body, branch))
        previous = value.get("pr") if value.get("pr_state", "open") == "open" else None
        if previous and previous != number:
            self._close_superseded(int(previous), number, request.revision)
        self._link_pr(number, request.id, "request")
        return self.update_record(
            request.id,
            pr=number,
            pr_state="open",
            branch=branch,
            head_sha=head_sha,
            revision=request.revision,
            path=path,
            superseded=[*value.get("superseded", []), *([previous] if previous else [])],
        )

    def _open_pr(self, title: str, body: str, branch: str) -> int:
        from github import GithubException

        try:
            pull = self.repo.create_pull(
                base=self.settings.base_branch, head=branch, title=title, body=body
            )
            return int(pull.number)
        except GithubException as exc:
            if exc.status != 422:
                raise
            # "A pull request already exists": find it instead of failing (a retried create).
            owner = self.name.split("/")[0]
            for pull in self.repo.get_pulls(state="open", head=f"{owner}:{branch}"):
                return int(pull.number)
            raise

    def _close_superseded(self, old: int, new: int, revision: int) -> None:
        def close() -> None:
            pull = self.repo.get_pull(old)
            pull.create_issue_comment(
                f"Superseded by #{new} (revision {revision}); closed by tfpilot."
            )
            pull.edit(state="closed")

        call(self.name, close)

    def _pr_body(self, request: Request, path: str) -> str:
        return (
            f"{MARKER.format(request_id=request.id)}\n"
            f"tfpilot request **{request.id}** (revision {request.revision}), "
            f"requested by `{request.created_by}`.\n\n"
            f"| | |\n|---|---|\n| module | `{request.placement.module}` |\n"
            f"| environment | `{request.placement.environment}` |\n"
            f"| project | `{request.placement.project}` |\n| file | `{path}` |\n\n"
            "The plan, policy findings, cost and approvals are in tfpilot's comment below. "
            "Approve with a review once the plan is shown; tfpilot binds the approval to the "
            "plan digest in that comment."
        )

    def open_cleanup_pr(self, request: Request) -> dict[str, Any]:
        """A PR that removes exactly the request's file (after a destroy); recorded once."""
        record = self.record(request.id)
        value = record.value if record else {}
        if value.get("cleanup_pr"):
            return value
        path = value.get("path") or self.file_path(request)
        branch = f"tfpilot/{request.id}/cleanup"

        def remove() -> str | None:
            self._branch_from_base(branch)
            sha = self._file_sha(path, branch)
            if sha is None:
                return None  # never merged into the base branch: nothing to remove
            result = self.repo.delete_file(
                path, f"tfpilot: remove {request.id} (destroyed)", sha, branch=branch
            )
            return str(getattr(result["commit"], "sha", ""))

        head_sha = call(self.name, remove)
        if head_sha is None:
            return self.update_record(request.id, cleanup_pr=None, cleanup="nothing to remove")
        body = (
            f"{MARKER.format(request_id=request.id)}\n"
            f"{request.id} was destroyed. This PR removes exactly its file, `{path}`."
        )
        number = call(
            self.name,
            lambda: self._open_pr(f"tfpilot: remove {request.id} (destroyed)", body, branch),
        )
        self._link_pr(number, request.id, "cleanup")
        return self.update_record(
            request.id, cleanup_pr=number, cleanup_branch=branch, cleanup_sha=head_sha
        )

    # -- workflow runs ------------------------------------------------------------------------

    def dispatch(self, workflow: str, ref: str, payload: dict[str, Any]) -> RunInfo | None:
        """``workflow_dispatch`` with one JSON input ``request``; the run when GitHub says it."""
        handle = self.repo.get_workflow(workflow)
        inputs = {"request": json.dumps(payload, sort_keys=True, separators=(",", ":"))}
        result = call(
            self.name,
            lambda: handle.create_dispatch(
                ref=ref, inputs=inputs, throw=True, return_run_details=True
            ),
        )
        if not hasattr(result, "id"):
            return None  # 204: GitHub did not say which run it started
        return RunInfo(
            id=str(result.id),
            status="queued",
            conclusion=None,
            url=_html_url(result),
            title="",
        )

    def find_run(
        self, workflow: str, attempt_id: str, *, since: datetime, exclude: set[str]
    ) -> RunInfo | None:
        """The run of ``attempt_id``: named after it (``run-name``), created after ``since``.

        A run already linked to another attempt (``exclude``) is never returned.
        """
        created = (since - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def look() -> RunInfo | None:
            runs = self.repo.get_workflow(workflow).get_runs(
                event="workflow_dispatch", created=f">={created}"
            )
            for run in runs:
                info = _info(run)
                if info.id in exclude:
                    continue
                if attempt_id in info.title.split():
                    return info
            return None

        return call(self.name, look)

    def run(self, run_id: str) -> RunInfo:
        """One workflow run by id."""
        return call(self.name, lambda: _info(self.repo.get_workflow_run(int(run_id))))

    def cancel_run(self, run_id: str) -> None:
        """Cancel a workflow run (GitHub answers 202 and cancels it shortly after)."""
        call(self.name, lambda: self.repo.get_workflow_run(int(run_id)).cancel())

    # -- comments and checks ------------------------------------------------------------------

    def upsert_comment(self, request_id: str, pr: int, body: str) -> int:
        """Create or update tfpilot's one comment on ``pr`` (found by the hidden marker)."""
        record = self.record(request_id)
        # One comment per PR: the request's PR and its cleanup PR each have their own.
        comments = dict(record.value.get("comments") or {}) if record else {}
        known = comments.get(str(pr))
        marker = MARKER.format(request_id=request_id)
        body = body if marker in body else f"{marker}\n{body}"
        if len(body) >= COMMENT_LIMIT:
            note = "\n\n… trimmed to fit GitHub's comment limit.\n"
            body = body[: COMMENT_LIMIT - len(note) - 1] + note

        def upsert() -> int:
            issue = self.repo.get_issue(pr)
            if known:
                comment = issue.get_comment(int(known))
                comment.edit(body)
                return int(known)
            for comment in issue.get_comments():
                if marker in (comment.body or ""):
                    comment.edit(body)
                    return int(comment.id)
            return int(issue.create_comment(body).id)

        comment_id = call(self.name, upsert)
        if comment_id != known:
            self.update_record(request_id, comments={**comments, str(pr): comment_id})
        return comment_id

    def reply(self, pr: int, text: str) -> None:
        """A plain comment on ``pr`` (answers to reviews and commands)."""
        call(self.name, lambda: self.repo.get_issue(pr).create_comment(text))

    def check_run(
        self,
        *,
        head_sha: str,
        name: str,
        external_id: str,
        title: str,
        summary: str,
        conclusion: str,
        annotations: list[dict[str, Any]],
        details_url: str | None = None,
    ) -> int:
        """A completed check run with ``annotations``, 50 per request as GitHub allows."""
        batches = [
            annotations[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        summary = summary[: COMMENT_LIMIT - 100]

        def create() -> int:
            kwargs: dict[str, Any] = {}
            if details_url:
                kwargs["details_url"] = details_url
            check = self.repo.create_check_run(
                name=name,
                head_sha=head_sha,
                status="completed",
                conclusion=conclusion,
                external_id=external_id,
                completed_at=utcnow(),
                output={"title": title, "summary": summary, "annotations": batches[0]},
                **kwargs,
            )
            for batch in batches[1:]:
                check.edit(output={"title": title, "summary": summary, "annotations": batch})
            return int(check.id)

        return call(self.name, create)

    def upload_sarif(self, *, commit_sha: str, ref: str, sarif: dict[str, Any]) -> str:
        """Upload a SARIF log to code scanning (gzip + base64, as the API wants); its id."""
        import base64
        import gzip

        data = base64.b64encode(gzip.compress(json.dumps(sarif).encode())).decode()
        body = {"commit_sha": commit_sha, "ref": ref, "sarif": data, "tool_name": "tfpilot"}

        def upload() -> str:
            repo = self.repo
            _, answer = repo._requester.requestJsonAndCheck(
                "POST", f"{repo.url}/code-scanning/sarifs", input=body
            )
            return str((answer or {}).get("id", ""))

        return call(self.name, upload)


def sarif_document(findings: list[dict[str, Any]], *, tool: str = "tfpilot") -> dict[str, Any]:
    """Policy findings (check run annotations) as a SARIF 2.1.0 log for code scanning."""
    level = {"failure": "error", "warning": "warning", "notice": "note"}
    rules = sorted({str(f.get("title") or "policy") for f in findings})
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {"driver": {"name": tool, "rules": [{"id": r} for r in rules]}},
                "results": [
                    {
                        "ruleId": str(f.get("title") or "policy"),
                        "level": level.get(str(f.get("annotation_level")), "note"),
                        "message": {"text": str(f["message"])},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f["path"]},
                                    "region": {"startLine": int(f.get("start_line") or 1)},
                                }
                            }
                        ],
                    }
                    for f in findings
                ],
            }
        ],
    }


def _html_url(run: Any) -> str | None:
    # The attributes of the dispatch answer, without completing the lazy object (a GET).
    raw = getattr(run, "_rawData", None) or {}
    return raw.get("html_url") or raw.get("run_url") or None


def _info(run: WorkflowRun) -> RunInfo:
    raw = run.raw_data
    return RunInfo(
        id=str(raw["id"]),
        status=str(raw.get("status") or "queued"),
        conclusion=raw.get("conclusion"),
        url=raw.get("html_url"),
        title=str(raw.get("display_title") or raw.get("name") or ""),
    )
