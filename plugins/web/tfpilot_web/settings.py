"""``[plugins.web]``: the settings of ``tfpilot serve`` (every field has a safe default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GithubOAuthSettings(BaseModel):
    """``[plugins.web.github_oauth]``: log in with GitHub (an OAuth app); off when absent."""

    model_config = ConfigDict(extra="forbid")

    #: The OAuth app's client id.
    client_id: str = Field(min_length=1, max_length=200)
    #: The OAuth app's client secret (use ``{"$env": "..."}``).
    client_secret: str = Field(min_length=1, max_length=500, repr=False)
    #: Where the browser is sent to authorize (GitHub Enterprise: its own host).
    authorize_url: str = "https://github.com/login/oauth/authorize"
    #: Where the server exchanges the code for an access token (POST).
    token_url: str = "https://github.com/login/oauth/access_token"
    #: The REST API root; the login is read from ``GET {api_url}/user``.
    api_url: str = "https://api.github.com"
    #: Scopes asked for: none are needed to read the login.
    scope: str = ""
    #: GitHub login -> tfpilot user (logins compare case-insensitively, as GitHub's do). A
    #: login not listed is refused: GitHub proves who someone is, this table says who they are.
    users: dict[str, str] = Field(default_factory=dict)
    #: Seconds to wait for GitHub on each call.
    timeout: float = Field(default=10.0, gt=0, le=120)

    def user_for(self, login: str) -> str | None:
        """The tfpilot user of GitHub ``login``, or ``None`` when it is not mapped."""
        wanted = login.casefold()
        for github_login, user in self.users.items():
            if github_login.casefold() == wanted:
                return user
        return None


class WebSettings(BaseModel):
    """Settings of the HTTP API and web UI (section ``[plugins.web]``)."""

    model_config = ConfigDict(extra="forbid")

    #: Key that signs session cookies (use ``{"$env": "..."}``). Unset: a random key is made
    #: once and kept in ``$TFPILOT_HOME/web/session.key`` (mode 0600).
    session_secret: str | None = Field(default=None, min_length=32)
    #: How long a UI session lasts, in seconds.
    session_max_age: int = Field(default=8 * 3600, ge=60, le=30 * 24 * 3600)
    #: The URL people reach the server at; ``https://`` makes session cookies ``Secure``.
    public_url: str | None = None
    #: Force the ``Secure`` cookie flag on or off (default: on when ``public_url`` is https).
    secure_cookies: bool | None = None
    #: Login attempts allowed per client address per minute.
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    #: Proxies (addresses or networks, ``"10.0.0.0/8"``) whose ``X-Forwarded-For`` is believed
    #: for the client address of rate limits and logs. Empty: the header is ignored.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        import ipaddress

        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/8)"
                ) from None
        return values

    #: Slack app signing secret: enables ``POST /integrations/slack/interactivity``.
    slack_signing_secret: str | None = None
    #: Slack user id -> tfpilot user, for approvals clicked in Slack.
    slack_users: dict[str, str] = Field(default_factory=dict)
    #: Where a click's ``response_url`` may point (the message is updated in place there);
    #: Slack's own host by default. Tests point it at a local stand-in.
    slack_response_url_prefix: str = "https://hooks.slack.com/"
    #: GitHub OAuth login (``/login/github``); off unless configured.
    github_oauth: GithubOAuthSettings | None = None

    @property
    def https_only(self) -> bool:
        """Whether session cookies carry the ``Secure`` flag."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.public_url and self.public_url.lower().startswith("https://"))
