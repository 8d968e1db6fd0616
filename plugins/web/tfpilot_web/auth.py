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

import contextlib
import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import (
    ConflictError,
    FieldProblem,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from tfpilot_core.models import Role, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from tfpilot_core.models import Record
    from tfpilot_core.platform import Platform
    from tfpilot_web.settings import GithubOAuthSettings

TOKENS = "tokens"
#: Server-side sessions (keyed by the sha256 of the session id the cookie carries).
SESSIONS = "sessions"
#: Login attempts per client address, shared by every replica (see :class:`StoreRateLimiter`).
LOGIN_ATTEMPTS = "login_attempts"
TOKEN_PREFIX = "tfp_"
_ID_LENGTH = 12
#: A token's ``last_used_at`` is written at most this often (a write per call would cost more
#: than the call on S3).
LAST_USED_EVERY = 300.0


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
        "last_used_at": value.get("last_used_at"),
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
    touch_token(store, record)
    return Identity(actor=str(record.value["user"]), token_id=record.key[:_ID_LENGTH])


def touch_token(store: Any, record: Record) -> None:
    """Record when a token was last used (at most every :data:`LAST_USED_EVERY` seconds).

    Best effort: a concurrent use that wrote first wins, and a failure never refuses the call.
    """
    from datetime import datetime

    now = utcnow()
    last = record.value.get("last_used_at")
    try:
        if isinstance(last, str) and (
            (now - datetime.fromisoformat(last)).total_seconds() < LAST_USED_EVERY
        ):
            return
        store.put_record(
            TOKENS,
            record.key,
            {**record.value, "last_used_at": now.isoformat()},
            expected_version=record.version,
            expires_at=record.expires_at,
        )
    except Exception:  # a lost race or a store hiccup: the next use tries again
        return


def session_key(session_id: str) -> str:
    """The stored key of a session id (its sha256: the store never holds a usable cookie)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(store: Any, fields: dict[str, Any], *, max_age: int) -> str:
    """Record a new server-side session holding ``fields``; returns its id (for the cookie).

    The record expires with the cookie (``max_age`` seconds); :func:`end_session` ends it at
    logout, so a cookie copied before the logout stops working on every replica at once.
    """
    from datetime import timedelta

    session_id = secrets.token_urlsafe(32)
    store.put_record(
        SESSIONS,
        session_key(session_id),
        {**fields, "started_at": utcnow().isoformat()},
        expected_version=None,
        expires_at=utcnow() + timedelta(seconds=max_age),
    )
    return session_id


def end_session(store: Any, session: dict[str, Any] | None) -> None:
    """Delete the server-side session of a cookie (logout); nothing if there is none."""
    session_id = (session or {}).get("sid")
    if not isinstance(session_id, str) or len(session_id) > 200:
        return
    record = store.get_record(SESSIONS, session_key(session_id))
    if record is not None:
        with contextlib.suppress(ConflictError):
            store.delete_record(SESSIONS, record.key, expected_version=record.version)


def _session_live(store: Any, session: dict[str, Any], user: str) -> bool:
    session_id = session.get("sid")
    if not isinstance(session_id, str) or len(session_id) > 200:
        return False  # a cookie from before server-side sessions: log in again
    record = store.get_record(SESSIONS, session_key(session_id))
    return record is not None and record.value.get("user") == user


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

    A session cookie carries a server-side session id, honoured only while that session's record
    exists (logout deletes it: :func:`end_session`), and the id of the token that was used to
    log in, honoured only while that token exists: revoking a token ends its sessions too. A
    session started by GitHub login stores the GitHub login instead, and is honoured only while
    ``github`` (the configured provider) still maps that login to the same user: unmapping
    someone ends their sessions.
    """
    if bearer:
        return identify_token(platform.store, bearer)
    if session and session.get("github_login") is not None:
        login, user = session.get("github_login"), session.get("user")
        if github is None or not isinstance(login, str) or not isinstance(user, str):
            return None
        if github.user_for(login) != user or not _session_live(platform.store, session, user):
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
        if not _session_live(platform.store, session, user):
            return None  # logged out (or expired) on the server
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

    Per process: behind several server processes each keeps its own count. The server uses
    :class:`StoreRateLimiter` (shared by replicas); this one is for single-process uses.
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


class StoreRateLimiter:
    """At most ``limit`` attempts per ``window`` seconds per key, counted in the store.

    Every replica over one store shares the count (a record per client address, updated by
    compare-and-swap), so N replicas behind a load balancer still allow ``limit`` attempts, not
    N times as many. Fails closed: a count that cannot be written refuses the attempt.
    """

    def __init__(
        self, store: Any, limit: int, window: float, *, namespace: str = LOGIN_ATTEMPTS
    ) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.namespace = namespace

    def hit(self, key: str) -> float | None:
        """Count an attempt; ``None`` if allowed, else the seconds until the next is."""
        from datetime import timedelta

        record_key = hashlib.sha256(key.encode()).hexdigest()
        for _ in range(20):
            now = time.time()
            record = self.store.get_record(self.namespace, record_key)
            hits = [
                float(h)
                for h in (record.value.get("hits", []) if record else [])
                if float(h) > now - self.window
            ]
            if len(hits) >= self.limit:
                return max(0.0, min(hits) + self.window - now)
            try:
                self.store.put_record(
                    self.namespace,
                    record_key,
                    {"hits": [*hits, now]},
                    expected_version=record.version if record else None,
                    expires_at=utcnow() + timedelta(seconds=self.window),
                )
            except ConflictError:
                continue  # another replica counted an attempt first: count again
            return None
        return self.window  # contention beyond reason: refuse rather than not count


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The address a request comes from, for rate limits and logs.

    ``X-Forwarded-For`` is believed only when the peer is one of the ``trusted`` proxies
    (addresses or networks, ``[plugins.web] trusted_proxies``), and then only as far as it was
    appended by trusted proxies: the rightmost entry that is not itself a trusted proxy. A client
    that sends its own header directly gets its socket address, however many it invents.
    """
    import ipaddress

    networks = []
    for item in trusted:
        with contextlib.suppress(ValueError):
            networks.append(ipaddress.ip_network(item, strict=False))

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in networks)

    address = peer or "unknown"
    if not forwarded_for or not is_trusted(address):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",")[:50] if h.strip()]):
        if not is_trusted(hop):
            return hop[:64]
        address = hop
    return address[:64]
