"""The ``github_actions`` identity provider: the actor of a verified GitHub Actions OIDC token.

Inside a workflow job with ``permissions: id-token: write``, GitHub gives the job a way to ask for
a signed OIDC token (``ACTIONS_ID_TOKEN_REQUEST_URL`` + ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``). The
provider asks for one with the configured audience (or reads a token already fetched, from the
variable named by ``token_env``), and accepts it only if:

* its signature verifies against a key of the issuer's JWKS (RS256);
* ``iss`` is the configured issuer, ``aud`` the configured audience, and it has not expired;
* ``repository`` is one of the configured repositories (and ``ref``, when refs are configured).

The actor is the token's ``actor`` claim (configurable). Settings, in
``[plugins.github_actions]``: ``audience``, ``repositories`` (required), ``refs``, ``issuer``,
``jwks_url``, ``token_env``, ``actor_claim``, ``timeout_seconds``, ``leeway_seconds``.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.errors import ConfigError, ForbiddenError
from tfpilot_core.identity import Identity, IdentityRequest

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


class GitHubActionsSettings(BaseModel):
    """The ``[plugins.github_actions]`` section."""

    model_config = ConfigDict(extra="forbid")

    #: The audience the token is requested for and must carry.
    audience: str = "tfpilot"
    #: ``owner/name`` of the repositories whose workflows may act (at least one).
    repositories: list[str] = Field(min_length=1)
    #: When set, the token's ``ref`` must be one of these (e.g. ``refs/heads/main``).
    refs: list[str] = Field(default_factory=list)
    issuer: str = GITHUB_ISSUER
    jwks_url: str = f"{GITHUB_ISSUER}/.well-known/jwks"
    #: A variable holding an already fetched token (checked before asking Actions for one).
    token_env: str = "TFPILOT_OIDC_TOKEN"
    actor_claim: str = "actor"
    timeout_seconds: float = Field(default=10.0, gt=0)
    leeway_seconds: int = Field(default=30, ge=0, le=300)


class GitHubActionsIdentity:
    """Verifies an Actions OIDC token and returns its actor."""

    def __init__(self, settings: GitHubActionsSettings) -> None:
        import jwt  # PyJWT, with cryptography for RS256: only when this provider is used

        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, timeout=int(settings.timeout_seconds))

    def _token(self, request: IdentityRequest) -> str:
        env = request.environ
        given = env.get(self.settings.token_env)
        if given:
            return given
        url, bearer = (
            env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        )
        if not url or not bearer:
            raise ForbiddenError(
                "identity provider github_actions: no OIDC token (not inside a GitHub Actions "
                "job with `permissions: id-token: write`, and "
                f"${self.settings.token_env} is not set)"
            )
        separator = "&" if "?" in url else "?"
        query = urllib.parse.urlencode({"audience": self.settings.audience})
        ask = urllib.request.Request(
            f"{url}{separator}{query}", headers={"Authorization": f"Bearer {bearer}"}
        )
        try:
            with urllib.request.urlopen(ask, timeout=self.settings.timeout_seconds) as response:
                value = json.loads(response.read()).get("value")
        except (OSError, ValueError) as exc:
            raise ForbiddenError(
                f"identity provider github_actions: could not get an OIDC token: {exc}"
            ) from None
        if not isinstance(value, str) or not value:
            raise ForbiddenError("identity provider github_actions: GitHub sent no token")
        return value

    def identify(self, request: IdentityRequest) -> Identity:
        """The verified actor; :class:`ForbiddenError` naming what failed otherwise."""
        import jwt

        token = self._token(request)
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "repository"]},
            )
        except jwt.PyJWKClientError as exc:
            raise ForbiddenError(
                f"identity provider github_actions: cannot get the signing key: {exc}"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise ForbiddenError(
                f"identity provider github_actions: the OIDC token was refused: {exc}"
            ) from None
        repository = claims.get("repository")
        if repository not in self.settings.repositories:
            raise ForbiddenError(
                f"identity provider github_actions: repository {repository!r} is not one of "
                "[plugins.github_actions] repositories"
            )
        if self.settings.refs and claims.get("ref") not in self.settings.refs:
            raise ForbiddenError(
                f"identity provider github_actions: ref {claims.get('ref')!r} is not allowed"
            )
        actor = claims.get(self.settings.actor_claim)
        if not isinstance(actor, str) or not actor:
            raise ForbiddenError(
                f"identity provider github_actions: the token has no {self.settings.actor_claim!r}"
            )
        wanted = ("repository", "ref", "workflow", "run_id", "sha")
        kept: dict[str, Any] = {k: claims[k] for k in wanted if k in claims}
        return Identity(actor=actor, provider="github_actions", verified=True, claims=kept)


def build(settings: GitHubActionsSettings, context: Any) -> GitHubActionsIdentity:
    """The factory."""
    if not settings.repositories:
        raise ConfigError("at least one repository is required", key="plugins.github_actions")
    return GitHubActionsIdentity(settings)
