"""Who is calling: API tokens (stored hashed), and the one mapping from a credential to an actor.

A token is ``tfp_`` followed by 43 random URL-safe characters (256 bits). Only its sha256 is
stored, as the key of a keyed record in namespace ``tokens``; the record holds the user it acts
as, a name, who created it and when. A presented token is hashed and looked up by that key, so
no stored value is ever compared with a secret. The first 12 hex digits of the hash are the
token's id, shown by ``tokens list`` and used by ``tokens revoke``.

:func:`resolve_actor` is the only place that turns a credential into a user: when the core gains
identity providers, it becomes one (the "tokens" provider) without the app changing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import FieldProblem, ForbiddenError, NotFoundError, ValidationError
from tfpilot_core.models import Role, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from tfpilot_core.models import Record
    from tfpilot_core.platform import Platform
    from tfpilot_web.settings import GithubOAuthSettings

TOKENS = "tokens"
TOKEN_PREFIX = "tfp_"
_ID_LENGTH = 12


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the tfpilot user, and the token (by id) that proved it."""

    actor: str
    token_id: str
    via: str = "token"  # token | session


def token_hash(token: str) -> str:
    """The stored key of ``token``: its sha256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _record_view(record: Record) -> dict[str, Any]:
    value = dict(record.value)
    return {
        "id": record.key[:_ID_LENGTH],
        "user": value.get("user"),
        "name": value.get("name", ""),
        "created_by": value.get("created_by"),
        "created_at": value.get("created_at"),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }


def require_admin(platform: Platform, actor: str) -> None:
    """Token management is for admins (``[users.<name>] role = "admin"``)."""
    role = platform.role_of(actor)
    if role is not Role.ADMIN:
        raise ForbiddenError(f"{actor} ({role.value}) may not manage API tokens: needs role admin")


def create_token(
    platform: Platform,
    actor: str,
    *,
    user: str,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """Create a token acting as ``user``; returns ``(token, id)``. The token is shown once.

    With ``expires_at`` the store forgets the token then (an expired record reads as none, so
    the token and the sessions logged in with it stop working).
    """
    require_admin(platform, actor)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError([FieldProblem("expires_at", "future", "must be in the future")])
    if not user or len(user) > 128 or any(c.isspace() for c in user):
        raise ValidationError([FieldProblem("user", "format", "give a user name without spaces")])
    if len(name) > 100:
        raise ValidationError([FieldProblem("name", "length", "at most 100 characters")])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = token_hash(token)
    platform.store.put_record(
        TOKENS,
        key,
        {"user": user, "name": name, "created_by": actor, "created_at": utcnow().isoformat()},
        expected_version=None,
        expires_at=expires_at,
    )
    return token, key[:_ID_LENGTH]


def list_tokens(platform: Platform, actor: str) -> list[dict[str, Any]]:
    """Every token (never the token itself: id, user, name, creator, time)."""
    require_admin(platform, actor)
    return [_record_view(r) for r in platform.store.list_records(TOKENS)]


def revoke_token(platform: Platform, actor: str, token_id: str) -> dict[str, Any]:
    """Delete the token whose id is ``token_id`` (at least 8 leading hex digits)."""
    require_admin(platform, actor)
    wanted = token_id.strip().lower()
    if len(wanted) < 8 or any(c not in "0123456789abcdef" for c in wanted):
        raise ValidationError(
            [FieldProblem("token_id", "format", "give at least 8 hex digits of the token id")]
        )
    matches = [r for r in platform.store.list_records(TOKENS) if r.key.startswith(wanted)]
    if not matches:
        raise NotFoundError(f"no API token with id {wanted}")
    if len(matches) > 1:
        raise ValidationError([FieldProblem("token_id", "ambiguous", "give more digits")])
    [record] = matches
    platform.store.delete_record(TOKENS, record.key, expected_version=record.version)
    return _record_view(record)


def identify_token(store: Any, token: str) -> Identity | None:
    """The user a presented API token acts as, or ``None`` (unknown, revoked, malformed)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = store.get_record(TOKENS, token_hash(token))
    if record is None:
        return None
    return Identity(actor=str(record.value["user"]), token_id=record.key[:_ID_LENGTH])


class TokenIdentityProvider:
    """The ``api_token`` identity provider (``[core] identity = "api_token"``) for the CLI.

    The actor is the user of the API token in ``$TFPILOT_TOKEN``: people sharing a store (S3)
    run the CLI as themselves, proven by a token an admin issued, not by a name they type.
    Fails closed: no token, or one that is unknown or revoked, refuses the action.
    """

    ENV = "TFPILOT_TOKEN"

    def __init__(self, store: Any) -> None:
        self.store = store

    def identify(self, request: Any) -> Any:
        """The token's user, verified (``claims`` carry the token's id, never the token)."""
        from tfpilot_core.identity import Identity as CoreIdentity

        token = request.environ.get(self.ENV, "").strip()
        if not token:
            raise ForbiddenError(f"set ${self.ENV} to an API token ([core] identity = api_token)")
        found = identify_token(self.store, token)
        if found is None:
            raise ForbiddenError(f"${self.ENV} is not a valid API token (unknown or revoked)")
        return CoreIdentity(
            actor=found.actor,
            provider="api_token",
            verified=True,
            claims={"token_id": found.token_id},
        )


def resolve_actor(
    platform: Platform,
    *,
    bearer: str | None = None,
    session: dict[str, Any] | None = None,
    github: GithubOAuthSettings | None = None,
) -> Identity | None:
    """The caller proven by a bearer token or a signed session, or ``None`` (anonymous).

    A session stores the id of the token that was used to log in, and is honoured only while
    that token exists: revoking a token ends its sessions too. A session started by GitHub login
    stores the GitHub login instead, and is honoured only while ``github`` (the configured
    provider) still maps that login to the same user: unmapping someone ends their sessions.
    """
    if bearer:
        return identify_token(platform.store, bearer)
    if session and session.get("github_login") is not None:
        login, user = session.get("github_login"), session.get("user")
        if github is None or not isinstance(login, str) or not isinstance(user, str):
            return None
        if github.user_for(login) != user:
            return None
        return Identity(actor=user, token_id=f"github:{login}", via="session")
    if session:
        key = session.get("token_key")
        user = session.get("user")
        if not isinstance(key, str) or not isinstance(user, str):
            return None
        record = platform.store.get_record(TOKENS, key)
        if record is None or record.value.get("user") != user:
            return None
        return Identity(actor=user, token_id=key[:_ID_LENGTH], via="session")
    return None


def login(platform: Platform, token: str) -> tuple[Identity, str] | None:
    """Check a token typed into the login form: the identity and the key the session keeps."""
    token = token.strip()
    identity = resolve_actor(platform, bearer=token)
    if identity is None:
        return None
    return identity, token_hash(token)


class RateLimiter:
    """At most ``limit`` attempts per ``window`` seconds per key (a sliding window, in memory).

    Per process: behind several server processes each keeps its own count, which still bounds
    guessing to ``limit`` times the number of processes per window.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count an attempt; ``None`` if allowed, else the seconds until the next is."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients rather than grow without bound
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return None
