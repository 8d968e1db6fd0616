"""The ``[plugins.runner_github]`` settings (selected with ``[core] runner = "github"``).

Secrets are given as references, never in the file: ``token = { "$env" = "GITHUB_TOKEN" }``,
``webhook_secret = { "$file" = "/run/secrets/github-webhook" }`` (resolved by the core and
registered with the log masker).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REPO = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"


class Workflows(BaseModel):
    """The workflow files in the infra repository (copied from this repo's .github/workflows)."""

    model_config = ConfigDict(extra="forbid")

    plan: str = "tfpilot-plan.yml"
    apply: str = "tfpilot-apply.yml"
    destroy: str = "tfpilot-destroy.yml"


class GitHubSettings(BaseModel):
    """The ``[plugins.runner_github]`` section: the infra repository, the token, the webhook
    secret (``[plugins.github]`` is its deprecated name)."""

    model_config = ConfigDict(extra="forbid")

    #: The infra repository, ``owner/name``: request files, PRs and the workflows live there.
    repository: str = Field(pattern=_REPO)
    #: A token with contents, pull-requests, actions and checks write on the repository, or
    #: (instead) a GitHub App installed on it: ``app_id`` and ``private_key`` (its PEM).
    token: str | None = Field(default=None, min_length=1, repr=False)
    #: The GitHub App's id (with ``private_key``): tfpilot acts as the App's installation.
    app_id: int | None = Field(default=None, gt=0)
    #: The App's private key (PEM), as a reference: ``{ "$file" = "/run/secrets/app.pem" }``.
    private_key: str | None = Field(default=None, min_length=1, repr=False)
    #: The installation on the repository (default: asked from GitHub with the App's JWT).
    installation_id: int | None = Field(default=None, gt=0)
    #: The REST API root (GitHub Enterprise Server: ``https://HOST/api/v3``).
    api_url: str = "https://api.github.com"
    #: The branch PRs target and workflows are dispatched from.
    base_branch: str = "main"
    #: The directory of request files in the repository: ``<path>/<environment>/<id>.json``.
    path: str = "tfpilot/requests"
    workflows: Workflows = Field(default_factory=Workflows)
    #: The secret of the repository's webhook (X-Hub-Signature-256); required to serve webhooks.
    webhook_secret: str | None = Field(default=None, repr=False)
    #: GitHub login -> tfpilot user (``[users.<name>]``); unmapped reviewers never approve.
    users: dict[str, str] = Field(default_factory=dict)
    #: Linked in the PR comment when a run failed.
    runbook_url: str = "https://github.com/tfpilot/tfpilot/blob/main/docs/github.md#runbook"
    #: Where the full text of a comment too long for GitHub is found; ``{request_id}`` is filled.
    full_text_url: str | None = None
    #: Retries of a call (5xx with exponential backoff, rate limits after their reset).
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_factor: float = Field(default=0.5, ge=0)
    #: The longest wait for a rate limit reset before failing the call (seconds).
    max_rate_limit_wait: float = Field(default=900.0, ge=0)
    #: The wait before retrying a secondary rate limit without Retry-After (seconds).
    secondary_rate_wait: float = Field(default=60.0, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    #: PyGithub's pacing between calls and between writes (GitHub asks integrations to space
    #: out mutating calls to stay clear of secondary rate limits).
    seconds_between_requests: float = Field(default=0.25, ge=0)
    seconds_between_writes: float = Field(default=1.0, ge=0)
    #: Upload policy findings as SARIF to code scanning (needs security-events: write).
    sarif: bool = False

    @model_validator(mode="after")
    def _one_auth(self) -> GitHubSettings:
        app = self.app_id is not None or self.private_key is not None
        if self.token is not None and app:
            raise ValueError("set either token or app_id with private_key, not both")
        if self.token is None and not (self.app_id is not None and self.private_key):
            raise ValueError("set token, or app_id and private_key (a GitHub App)")
        if self.installation_id is not None and not app:
            raise ValueError("installation_id needs app_id and private_key")
        return self

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip("/")
        if not value or ".." in value.split("/") or value.startswith("."):
            raise ValueError("path must be a relative directory without '..'")
        return value
