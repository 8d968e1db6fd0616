"""The GitHub REST client: PyGithub with rate-limit-aware retries and clear errors.

Retries are PyGithub's ``GithubRetry`` (a urllib3 ``Retry``): 5xx with exponential backoff, 403
and 429 rate limits after ``Retry-After`` or ``x-ratelimit-reset`` (capped by
``max_rate_limit_wait``). What is left after the retries becomes a tfpilot error: 401 (bad token)
and 404 (no access to the repository) say so plainly instead of a stack trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from tfpilot_core.errors import ConfigError, ExternalToolError, NotFoundError

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

    from tfpilot_runner_github.settings import GitHubSettings

T = TypeVar("T")


def make_github(settings: GitHubSettings) -> Github:
    """A PyGithub client for ``settings`` (lazy objects: no GET for a repo or workflow handle)."""
    from github import Github, GithubRetry

    retry = GithubRetry(
        total=settings.max_retries,
        backoff_factor=settings.backoff_factor,
        secondary_rate_wait=settings.secondary_rate_wait,
        max_rate_limit_wait=settings.max_rate_limit_wait,
        status_forcelist=[*range(500, 600), 429],
        # POST is retried too: every write here is idempotent or checked (create on an
        # existing branch/PR/file answers 422 and is then looked up, not duplicated).
        allowed_methods=frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}),
        respect_retry_after_header=True,
    )
    return Github(
        auth=_auth(settings, retry),
        base_url=settings.api_url.rstrip("/"),
        timeout=int(settings.timeout_seconds),
        retry=retry,
        lazy=True,
        per_page=100,
        seconds_between_requests=settings.seconds_between_requests or None,
        seconds_between_writes=settings.seconds_between_writes or None,
    )


#: (API, repository, App id) -> the App's installation there (stable: asked once per process).
_INSTALLATIONS: dict[tuple[str, str, int], int] = {}


def _auth(settings: GitHubSettings, retry: Any) -> Any:
    """A token, or the GitHub App's installation (its token is made and renewed by PyGithub)."""
    from github import Auth, GithubException, GithubIntegration

    if settings.token is not None:
        return Auth.Token(settings.token)
    assert settings.app_id is not None and settings.private_key is not None  # the validator's
    app = Auth.AppAuth(settings.app_id, settings.private_key)
    key = (settings.api_url, settings.repository, settings.app_id)
    installation = settings.installation_id or _INSTALLATIONS.get(key)
    if installation is None:
        owner, name = settings.repository.split("/")
        integration = GithubIntegration(
            auth=app,
            base_url=settings.api_url.rstrip("/"),
            timeout=int(settings.timeout_seconds),
            retry=retry,
        )
        try:
            installation = integration.get_repo_installation(owner, name).id
        except GithubException as exc:
            raise ConfigError(
                f"GitHub App {settings.app_id} is not installed on {settings.repository} or its "
                f"key was refused ({exc.status}): check [plugins.runner_github] app_id and "
                "private_key",
                key="plugins.runner_github.app_id",
            ) from None
        finally:
            integration.close()
        _INSTALLATIONS[key] = installation
    return app.get_installation_auth(installation)


def describe(exc: BaseException, repository: str) -> Exception:
    """The tfpilot error for a PyGithub exception (401, 403, 404, rate limits, the rest)."""
    from github import GithubException
    from github.GithubException import RateLimitExceededException

    if isinstance(exc, RateLimitExceededException):
        return ExternalToolError(
            f"GitHub rate limit exceeded for {repository} (retried until the limit): {_msg(exc)}"
        )
    if isinstance(exc, GithubException):
        if exc.status == 401:
            return ConfigError(
                "GitHub rejected the credentials (401 Bad credentials): check "
                "[plugins.runner_github] token (or app_id and private_key)",
                key="plugins.runner_github.token",
            )
        if exc.status == 404:
            return NotFoundError(
                f"GitHub answered 404 for {repository}: the repository does not exist or the "
                f"token has no access to it ({_msg(exc)})"
            )
        if exc.status == 403:
            return ExternalToolError(
                f"GitHub refused the call on {repository} (403): the token lacks a permission "
                f"({_msg(exc)})"
            )
        return ExternalToolError(f"GitHub call on {repository} failed ({exc.status}): {_msg(exc)}")
    return ExternalToolError(f"GitHub call on {repository} failed: {type(exc).__name__}: {exc}")


def _msg(exc: Any) -> str:
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data) if data else str(exc)


@contextmanager
def translated(repository: str) -> Iterator[None]:
    """Turn PyGithub and urllib3 errors raised inside the block into tfpilot errors."""
    from github import GithubException
    from requests.exceptions import RequestException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except (GithubException, RequestException, HTTPError) as exc:
        raise describe(exc, repository) from exc


def call(repository: str, func: Callable[[], T]) -> T:
    """``func()`` with errors translated (see :func:`translated`)."""
    with translated(repository):
        return func()


def repo_of(gh: Github, settings: GitHubSettings) -> Repository:
    """The infra repository handle (lazy: no request)."""
    return gh.get_repo(settings.repository)
