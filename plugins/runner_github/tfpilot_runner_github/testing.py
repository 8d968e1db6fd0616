"""A local stand-in for the GitHub REST API, for tests and ``bench/github.py``.

It implements the endpoints tfpilot uses (git refs, contents, pulls, issue comments, reviews,
workflow dispatches and runs, check runs) with GitHub's payload shapes and status codes: 201 on
create, 204 on a plain dispatch, 404 for unknown things, 409 on a stale file sha, 422 for a
duplicate branch or PR or more than 50 annotations, 401 without the right token. Faults can be
queued: a 403 primary rate limit (``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``), a 429
with ``Retry-After``, 5xx. Every request is recorded (method, path, status).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tfpilot_core.testing.http import StandInServer

__all__ = ["Fault", "GitHubStandIn", "Seen"]


@dataclass
class Fault:
    """The next ``times`` requests matching ``method``/``path_contains`` get ``status``.

    ``kind``: ``"rate_limit"`` (403 with ``x-ratelimit-remaining: 0`` and a reset
    ``reset_in`` seconds ahead), ``"retry_after"`` (429 with ``Retry-After``) or ``"status"``.
    """

    status: int = 502
    kind: str = "status"
    method: str | None = None
    path_contains: str | None = None
    times: int = 1
    reset_in: int = 1
    message: str = "injected"

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class Seen:
    """One request the stand-in answered."""

    method: str
    path: str
    status: int
    body: Any = None


@dataclass
class _Repo:
    owner: str
    name: str
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> files
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    checks: dict[int, dict[str, Any]] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)


def _blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class GitHubStandIn:
    """The stand-in server on 127.0.0.1 and an ephemeral port.

    ``return_run_details``: answer a dispatch that asks for it with the run (200, as
    github.com does since 2025) instead of 204 without one (GitHub Enterprise Server).
    """

    def __init__(
        self,
        *,
        token: str = "ghs_test_token",
        repository: str = "acme/infra",
        workflows: tuple[str, ...] = (
            "tfpilot-plan.yml",
            "tfpilot-apply.yml",
            "tfpilot-destroy.yml",
            "tfpilot-cleanup.yml",
            "tfpilot-drift.yml",
        ),
        return_run_details: bool = True,
        app_id: int | None = None,
        app_public_key: str | None = None,
        installation_id: int = 4242,
    ) -> None:
        self.token = token
        #: A GitHub App installed on the repository: JWTs signed by its key (RS256, ``iss`` the
        #: App id) may ask for the installation and an installation token (which is ``token``).
        self.app_id = app_id
        self.app_public_key = app_public_key
        self.installation_id = installation_id
        self.return_run_details = return_run_details
        owner, name = repository.split("/")
        self.repo = _Repo(owner, name)
        root = self._commit({"README.md": b"# infra\n"}, parent=None)
        self.repo.refs["main"] = root
        for i, wf in enumerate(workflows, start=1):
            self.repo.workflows[wf] = {"id": 1000 + i, "path": f".github/workflows/{wf}"}
        self.faults: list[Fault] = []
        self._branch_points: dict[int, str] = {}
        #: branch -> the base commit it was created from.
        self._created_from: dict[str, str] = {}
        self.seen: list[Seen] = []
        self.dispatches: list[dict[str, Any]] = []
        #: SARIF logs uploaded to code scanning.
        self.sarifs: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer (headers and body together) and no Nagle: otherwise every
            # keep-alive request waits ~200 ms for a delayed ACK.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, body = standin._answer(
                    self.command, self.path, dict(self.headers.items()), raw
                )
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if payload:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        # The one local HTTP server of the stand-ins (loopback, a free port, a daemon thread).
        self._http = StandInServer(Handler)
        self.port = self._http.port

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root (``api_url`` of the settings)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GitHubStandIn:
        """Serve in a daemon thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()

    def inject(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self.faults.append(fault)

    def calls(self, method: str | None = None, contains: str = "") -> list[Seen]:
        """Requests seen, optionally filtered."""
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and contains in s.path
            ]

    # -- test helpers (what GitHub itself would do) --------------------------------------------

    def file(self, branch: str, path: str) -> bytes | None:
        """A file's bytes on ``branch`` (``None`` if absent)."""
        with self._lock:
            sha = self.repo.refs.get(branch)
            return None if sha is None else self.repo.trees[sha].get(path)

    def merge(self, number: int) -> dict[str, Any]:
        """Merge a PR into its base (the head's tree becomes the base's)."""
        with self._lock:
            pull = self.repo.pulls[number]
            head = self.repo.trees[self.repo.refs[pull["head"]["ref"]]]
            point = self.repo.trees[pull["branch_point"]]
            files = dict(self.repo.trees[self.repo.refs[pull["base"]["ref"]]])
            # What the branch changed since it left the base, applied to the base as it is now.
            for path in set(head) | set(point):
                if path not in head:
                    files.pop(path, None)
                elif head[path] != point.get(path):
                    files[path] = head[path]
            merged = self._commit(files, parent=self.repo.refs[pull["base"]["ref"]])
            self.repo.refs[pull["base"]["ref"]] = merged
            pull.update(state="closed", merged=True, merged_at=_now(), merge_commit_sha=merged)
            return pull

    def set_run(self, run_id: int, status: str, conclusion: str | None = None) -> dict[str, Any]:
        """Move a workflow run (as Actions would)."""
        with self._lock:
            run = self.repo.runs[run_id]
            run.update(status=status, conclusion=conclusion, updated_at=_now())
            return dict(run)

    def review(self, number: int, login: str, state: str = "APPROVED") -> dict[str, Any]:
        """A review by ``login`` on PR ``number`` (the payload of a pull_request_review)."""
        with self._lock:
            review = {
                "id": next(self._ids),
                "user": {"login": login, "type": "User"},
                "state": state,
                "body": "",
                "submitted_at": _now(),
                "commit_id": self.repo.pulls[number]["head"]["sha"],
            }
            self.repo.reviews.setdefault(number, []).append(review)
            return review

    # -- internals ----------------------------------------------------------------------------

    def _commit(self, files: dict[str, bytes], *, parent: str | None) -> str:
        digest = hashlib.sha1(  # a git-like id, not security
            json.dumps(
                {"p": parent, "f": {k: _blob_sha(v) for k, v in sorted(files.items())}}
            ).encode()
            + str(time.monotonic_ns()).encode()
        ).hexdigest()
        self.repo.trees[digest] = files
        return digest

    def _first_commit_of(self, branch: str) -> str:
        return self._created_from.get(branch, self.repo.refs[branch])

    def _base(self) -> str:
        return f"{self.url}/repos/{self.repo.owner}/{self.repo.name}"

    def _rate_headers(self, remaining: int = 4999, reset_in: int = 3600) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(int(time.time()) + reset_in),
            "x-ratelimit-used": str(5000 - remaining),
            "x-ratelimit-resource": "core",
        }

    def _answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(target)
        path = unquote(split.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            status, extra, answer = self._route(method, path, query, headers, body)
            self.seen.append(Seen(method, path, status, body))
        return status, {**self._rate_headers(), **extra}, answer

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if self.app_id is not None and auth.startswith("Bearer ") and auth.count(".") == 2:
            return self._app_route(method, path, auth.removeprefix("Bearer "))
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, {}, {"message": "Bad credentials", "status": "401"}
        for fault in self.faults:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                if fault.kind == "rate_limit":
                    limit = self._rate_headers(remaining=0, reset_in=fault.reset_in)
                    return 403, limit, {"message": "API rate limit exceeded", "status": "403"}
                if fault.kind == "retry_after":
                    return 429, {"Retry-After": str(fault.reset_in)}, {"message": "slow down"}
                return fault.status, {}, {"message": fault.message}
        prefix = f"/repos/{self.repo.owner}/{self.repo.name}"
        if not path.startswith(prefix + "/") and path != prefix:
            return 404, {}, {"message": "Not Found", "status": "404"}
        rest = path[len(prefix) :]
        for pattern, handler in self._routes():
            match = re.fullmatch(pattern, rest)
            if match and handler[0] == method:
                answer: tuple[int, dict[str, str], Any] = handler[1](query, body, *match.groups())
                return answer
        return 404, {}, {"message": "Not Found", "status": "404"}

    def _app_route(self, method: str, path: str, jwt_token: str) -> tuple[int, dict[str, str], Any]:
        """What a GitHub App's JWT may do: find its installation, make an installation token."""
        import jwt

        try:
            claims = jwt.decode(
                jwt_token,
                self.app_public_key or "",
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.InvalidTokenError as exc:
            return 401, {}, {"message": f"A JSON web token could not be decoded: {exc}"}
        if str(claims["iss"]) != str(self.app_id) or claims["exp"] - claims["iat"] > 600:
            return 401, {}, {"message": "'Issuer' or 'Expiration time' claim is invalid"}
        repo = f"/repos/{self.repo.owner}/{self.repo.name}/installation"
        if method == "GET" and path == repo:
            return 200, {}, {"id": self.installation_id, "app_id": self.app_id}
        tokens = f"/app/installations/{self.installation_id}/access_tokens"
        if method == "POST" and path == tokens:
            expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, {}, {"token": self.token, "expires_at": expires, "permissions": {}}
        return 404, {}, {"message": "Not Found", "status": "404"}

    def _routes(self) -> list[tuple[str, tuple[str, Any]]]:
        return [
            (r"", ("GET", self._get_repo)),
            (r"/git/ref/heads/(.+)", ("GET", self._get_ref)),
            (r"/git/refs", ("POST", self._create_ref)),
            (r"/contents/(.+)", ("GET", self._get_contents)),
            (r"/contents/(.+)", ("PUT", self._put_contents)),
            (r"/contents/(.+)", ("DELETE", self._delete_contents)),
            (r"/pulls", ("POST", self._create_pull)),
            (r"/pulls", ("GET", self._list_pulls)),
            (r"/pulls/(\d+)", ("GET", self._get_pull)),
            (r"/pulls/(\d+)", ("PATCH", self._edit_pull)),
            (r"/pulls/(\d+)/reviews", ("GET", self._list_reviews)),
            (r"/issues/(\d+)/comments", ("POST", self._create_comment)),
            (r"/issues/(\d+)/comments", ("GET", self._list_comments)),
            (r"/issues/comments/(\d+)", ("GET", self._get_comment)),
            (r"/issues/comments/(\d+)", ("PATCH", self._edit_comment)),
            (r"/actions/workflows/([^/]+)", ("GET", self._get_workflow)),
            (r"/actions/workflows/([^/]+)/dispatches", ("POST", self._dispatch)),
            (r"/actions/workflows/([^/]+)/runs", ("GET", self._list_runs)),
            (r"/actions/runs/(\d+)", ("GET", self._get_run)),
            (r"/actions/runs/(\d+)/cancel", ("POST", self._cancel_run)),
            (r"/check-runs", ("POST", self._create_check)),
            (r"/check-runs/(\d+)", ("PATCH", self._edit_check)),
            (r"/code-scanning/sarifs", ("POST", self._upload_sarif)),
        ]

    # -- handlers -----------------------------------------------------------------------------

    def _repo_json(self) -> dict[str, Any]:
        return {
            "id": 1,
            "name": self.repo.name,
            "full_name": f"{self.repo.owner}/{self.repo.name}",
            "owner": {"login": self.repo.owner},
            "default_branch": "main",
            "url": self._base(),
        }

    def _get_repo(self, query: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, self._repo_json()

    def _ref_json(self, branch: str) -> dict[str, Any]:
        sha = self.repo.refs[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "url": f"{self._base()}/git/refs/heads/{branch}",
            "object": {"sha": sha, "type": "commit", "url": f"{self._base()}/git/commits/{sha}"},
        }

    def _get_ref(self, query: dict[str, str], body: Any, branch: str) -> Any:
        if branch not in self.repo.refs:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._ref_json(branch)

    def _create_ref(self, query: dict[str, str], body: Any) -> Any:
        ref = str((body or {}).get("ref", ""))
        sha = str((body or {}).get("sha", ""))
        if not ref.startswith("refs/heads/") or sha not in self.repo.trees:
            return 422, {}, {"message": "Reference update failed"}
        branch = ref.removeprefix("refs/heads/")
        if branch in self.repo.refs:
            return 422, {}, {"message": "Reference already exists"}
        self.repo.refs[branch] = sha
        self._created_from[branch] = sha
        return 201, {}, self._ref_json(branch)

    def _content_json(self, path: str, data: bytes, branch: str) -> dict[str, Any]:
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": _blob_sha(data),
            "content": base64.b64encode(data).decode(),
            "url": f"{self._base()}/contents/{path}?ref={branch}",
        }

    def _get_contents(self, query: dict[str, str], body: Any, path: str) -> Any:
        branch = query.get("ref", "main")
        sha = self.repo.refs.get(branch)
        if sha is None or path not in self.repo.trees[sha]:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._content_json(path, self.repo.trees[sha][path], branch)

    def _write(self, branch: str, files: dict[str, bytes]) -> dict[str, Any]:
        head = self._commit(files, parent=self.repo.refs[branch])
        self.repo.refs[branch] = head
        return {"sha": head, "url": f"{self._base()}/git/commits/{head}", "message": ""}

    def _put_contents(self, query: dict[str, str], body: Any, path: str) -> Any:
        body = body or {}
        branch = body.get("branch", "main")
        if branch not in self.repo.refs:
            return 404, {}, {"message": f"Branch {branch} not found"}
        try:
            data = base64.b64decode(body["content"], validate=True)
        except (KeyError, ValueError):
            return 422, {}, {"message": "content is not valid Base64"}
        files = dict(self.repo.trees[self.repo.refs[branch]])
        existing = files.get(path)
        if existing is not None and "sha" not in body:
            return 422, {}, {"message": '"sha" wasn\'t supplied.'}
        if existing is not None and body["sha"] != _blob_sha(existing):
            return 409, {}, {"message": f"{path} does not match {body['sha']}"}
        files[path] = data
        commit = self._write(branch, files)
        status = 201 if existing is None else 200
        return status, {}, {"content": self._content_json(path, data, branch), "commit": commit}

    def _delete_contents(self, query: dict[str, str], body: Any, path: str) -> Any:
        body = body or {}
        branch = body.get("branch", "main")
        files = dict(
            self.repo.trees[self.repo.refs.get(branch, "")] if branch in self.repo.refs else {}
        )
        if path not in files:
            return 404, {}, {"message": "Not Found"}
        if body.get("sha") != _blob_sha(files[path]):
            return 409, {}, {"message": f"{path} does not match {body.get('sha')}"}
        del files[path]
        return 200, {}, {"content": None, "commit": self._write(branch, files)}

    def _pull_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        number = pull["number"]
        pull["head"]["sha"] = self.repo.refs.get(pull["head"]["ref"], pull["head"].get("sha"))
        return {
            **pull,
            "url": f"{self._base()}/pulls/{number}",
            "issue_url": f"{self._base()}/issues/{number}",
            "comments_url": f"{self._base()}/issues/{number}/comments",
            "html_url": f"https://github.test/{self.repo.owner}/{self.repo.name}/pull/{number}",
        }

    def _create_pull(self, query: dict[str, str], body: Any) -> Any:
        body = body or {}
        head, base = body.get("head"), body.get("base")
        if head not in self.repo.refs or base not in self.repo.refs or not body.get("title"):
            return 422, {}, {"message": "Validation Failed", "errors": [{"field": "head"}]}
        for pull in self.repo.pulls.values():
            if pull["state"] == "open" and pull["head"]["ref"] == head:
                return (
                    422,
                    {},
                    {
                        "message": "Validation Failed",
                        "errors": [{"message": f"A pull request already exists for {head}."}],
                    },
                )
        number = len(self.repo.pulls) + 1
        self.repo.pulls[number] = {
            "id": 5000 + number,
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body", ""),
            "merged": False,
            "head": {"ref": head, "sha": self.repo.refs[head]},
            "base": {"ref": base, "sha": self.repo.refs[base]},
            "user": {"login": "tfpilot[bot]"},
        }
        self._branch_points[number] = self._first_commit_of(head)
        self.repo.pulls[number]["branch_point"] = self._branch_points[number]
        return 201, {}, self._pull_json(self.repo.pulls[number])

    def _list_pulls(self, query: dict[str, str], body: Any) -> Any:
        state = query.get("state", "open")
        head = query.get("head", "")
        found = [
            self._pull_json(p)
            for p in self.repo.pulls.values()
            if (state == "all" or p["state"] == state)
            and (not head or f"{self.repo.owner}:{p['head']['ref']}" == head)
        ]
        return 200, {}, found

    def _get_pull(self, query: dict[str, str], body: Any, number: str) -> Any:
        pull = self.repo.pulls.get(int(number))
        if pull is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._pull_json(pull)

    def _edit_pull(self, query: dict[str, str], body: Any, number: str) -> Any:
        pull = self.repo.pulls.get(int(number))
        if pull is None:
            return 404, {}, {"message": "Not Found"}
        for key in ("title", "body", "state"):
            if key in (body or {}):
                pull[key] = body[key]
        return 200, {}, self._pull_json(pull)

    def _list_reviews(self, query: dict[str, str], body: Any, number: str) -> Any:
        return 200, {}, self.repo.reviews.get(int(number), [])

    def _comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {**comment, "url": f"{self._base()}/issues/comments/{comment['id']}"}

    def _create_comment(self, query: dict[str, str], body: Any, number: str) -> Any:
        if int(number) not in self.repo.pulls:
            return 404, {}, {"message": "Not Found"}
        text = str((body or {}).get("body", ""))
        if not text:
            return 422, {}, {"message": "Validation Failed"}
        if len(text) > 65_536:
            return 422, {}, {"message": "body is too long (maximum is 65536 characters)"}
        comment = {
            "id": 9000 + next(self._ids),
            "issue": int(number),
            "body": text,
            "user": {"login": "tfpilot[bot]"},
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.repo.comments[int(str(comment["id"]))] = comment
        return 201, {}, self._comment_json(comment)

    def _list_comments(self, query: dict[str, str], body: Any, number: str) -> Any:
        found = [
            self._comment_json(c) for c in self.repo.comments.values() if c["issue"] == int(number)
        ]
        return 200, {}, found

    def _get_comment(self, query: dict[str, str], body: Any, comment_id: str) -> Any:
        comment = self.repo.comments.get(int(comment_id))
        if comment is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._comment_json(comment)

    def _edit_comment(self, query: dict[str, str], body: Any, comment_id: str) -> Any:
        comment = self.repo.comments.get(int(comment_id))
        if comment is None:
            return 404, {}, {"message": "Not Found"}
        text = str((body or {}).get("body", ""))
        if len(text) > 65_536:
            return 422, {}, {"message": "body is too long (maximum is 65536 characters)"}
        comment.update(body=text, updated_at=_now())
        return 200, {}, self._comment_json(comment)

    def _workflow_json(self, name: str) -> dict[str, Any]:
        wf = self.repo.workflows[name]
        return {
            "id": wf["id"],
            "name": name,
            "path": wf["path"],
            "state": "active",
            "url": f"{self._base()}/actions/workflows/{wf['id']}",
        }

    def _workflow_named(self, key: str) -> str | None:
        for name, wf in self.repo.workflows.items():
            if key in (name, str(wf["id"])):
                return name
        return None

    def _get_workflow(self, query: dict[str, str], body: Any, key: str) -> Any:
        name = self._workflow_named(key)
        if name is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._workflow_json(name)

    def _dispatch(self, query: dict[str, str], body: Any, key: str) -> Any:
        name = self._workflow_named(key)
        if name is None:
            return 404, {}, {"message": "Not Found"}
        body = body or {}
        ref = body.get("ref")
        if ref not in self.repo.refs:
            return 422, {}, {"message": f"No ref found for: {ref}"}
        inputs = body.get("inputs") or {}
        if set(inputs) - {"request"}:
            return (
                422,
                {},
                {"message": f"Unexpected inputs provided: {sorted(set(inputs) - {'request'})}"},
            )
        try:
            request = json.loads(inputs.get("request", "{}"))
        except ValueError:
            return 422, {}, {"message": "request is not JSON"}
        run_id = 70000 + next(self._ids)
        kind = name.removeprefix("tfpilot-").removesuffix(".yml")
        # The workflows' run-name: "tfpilot <kind> <request id> <attempt id>".
        title = f"tfpilot {kind} {request.get('request_id', '')} {request.get('attempt_id', '')}"
        self.repo.runs[run_id] = {
            "id": run_id,
            "name": name,
            "display_title": title,
            "event": "workflow_dispatch",
            "status": "queued",
            "conclusion": None,
            "head_branch": ref,
            "head_sha": self.repo.refs[ref],
            "workflow_id": self.repo.workflows[name]["id"],
            "path": self.repo.workflows[name]["path"],
            "created_at": _now(),
            "updated_at": _now(),
            "url": f"{self._base()}/actions/runs/{run_id}",
            "html_url": f"https://github.test/{self.repo.owner}/{self.repo.name}/actions/runs/{run_id}",
            "cancel_url": f"{self._base()}/actions/runs/{run_id}/cancel",
        }
        self.dispatches.append({"workflow": name, "ref": ref, "request": request, "run_id": run_id})
        if self.return_run_details and body.get("return_run_details"):
            run = self.repo.runs[run_id]
            return (
                200,
                {},
                {
                    "workflow_run_id": run_id,
                    "run_url": run["url"],
                    "html_url": run["html_url"],
                },
            )
        return 204, {}, None

    def _run_json(self, run: dict[str, Any]) -> dict[str, Any]:
        return dict(run)

    def _list_runs(self, query: dict[str, str], body: Any, key: str) -> Any:
        name = self._workflow_named(key)
        if name is None:
            return 404, {}, {"message": "Not Found"}
        runs = [
            self._run_json(r)
            for r in sorted(self.repo.runs.values(), key=lambda r: -r["id"])
            if r["name"] == name
            and (not query.get("event") or r["event"] == query["event"])
            and (not query.get("created") or r["created_at"] >= query["created"].lstrip(">="))
        ]
        return 200, {}, {"total_count": len(runs), "workflow_runs": runs}

    def _get_run(self, query: dict[str, str], body: Any, run_id: str) -> Any:
        run = self.repo.runs.get(int(run_id))
        if run is None:
            return 404, {}, {"message": "Not Found"}
        return 200, {}, self._run_json(run)

    def _cancel_run(self, query: dict[str, str], body: Any, run_id: str) -> Any:
        # GitHub answers 202 and cancels asynchronously; a completed run cannot be cancelled.
        with self._lock:
            run = self.repo.runs.get(int(run_id))
            if run is None:
                return 404, {}, {"message": "Not Found"}
            if run["status"] == "completed":
                return 409, {}, {"message": "Cannot cancel a workflow run that is completed."}
            run.update(status="completed", conclusion="cancelled", updated_at=_now())
        return 202, {}, {}

    def _check_output(self, output: Any) -> tuple[int, str] | None:
        annotations = (output or {}).get("annotations") or []
        if len(annotations) > 50:
            return 422, "Only 50 annotations are allowed per request"
        for a in annotations:
            if not all(
                k in a for k in ("path", "start_line", "end_line", "annotation_level", "message")
            ):
                return 422, "annotation is missing a required field"
            if a["annotation_level"] not in ("notice", "warning", "failure"):
                return 422, f"annotation_level {a['annotation_level']!r} is not valid"
        return None

    def _create_check(self, query: dict[str, str], body: Any) -> Any:
        body = body or {}
        if not body.get("name") or body.get("head_sha") not in self.repo.trees:
            return 422, {}, {"message": "Validation Failed: head_sha"}
        if body.get("conclusion") == "action_required" and not body.get("details_url"):
            return 422, {}, {"message": "details_url is required with action_required"}
        problem = self._check_output(body.get("output"))
        if problem:
            return problem[0], {}, {"message": problem[1]}
        check_id = 30000 + next(self._ids)
        output = dict(body.get("output") or {})
        output["annotations"] = list(output.get("annotations") or [])
        check = {
            **body,
            "id": check_id,
            "output": output,
            "url": f"{self._base()}/check-runs/{check_id}",
        }
        self.repo.checks[check_id] = check
        return 201, {}, check

    def _upload_sarif(self, query: dict[str, str], body: Any) -> Any:
        import gzip

        body = body or {}
        if body.get("commit_sha") not in self.repo.trees or not str(body.get("ref", "")).startswith(
            "refs/"
        ):
            return 422, {}, {"message": "Validation Failed: commit_sha or ref"}
        try:
            log = json.loads(gzip.decompress(base64.b64decode(body["sarif"])))
        except (KeyError, ValueError, OSError):
            return 422, {}, {"message": "sarif must be gzip-compressed, Base64-encoded SARIF"}
        if log.get("version") != "2.1.0":
            return 422, {}, {"message": "SARIF version must be 2.1.0"}
        sarif_id = f"sarif-{next(self._ids)}"
        self.sarifs.append({"id": sarif_id, "ref": body["ref"], "log": log})
        return 202, {}, {"id": sarif_id, "url": f"{self._base()}/code-scanning/sarifs/{sarif_id}"}

    def _edit_check(self, query: dict[str, str], body: Any, check_id: str) -> Any:
        check = self.repo.checks.get(int(check_id))
        if check is None:
            return 404, {}, {"message": "Not Found"}
        problem = self._check_output((body or {}).get("output"))
        if problem:
            return problem[0], {}, {"message": problem[1]}
        output = (body or {}).get("output") or {}
        check["output"]["annotations"] += list(output.get("annotations") or [])
        for key in ("title", "summary"):
            if key in output:
                check["output"][key] = output[key]
        return 200, {}, check
