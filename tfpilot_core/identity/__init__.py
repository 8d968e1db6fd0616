"""Who is acting: identity providers (``[core] identity``), a registration kind of their own.

``local`` (the default) is one operator's tool: the user named by ``--as``, ``$TFPILOT_USER``,
``$GITHUB_ACTOR`` or ``$USER``, trusted as given. Shared deployments take identity from a
verified source instead: ``github_actions`` reads the actor from a GitHub Actions OIDC token whose
signature, issuer, audience and repository are checked. With any provider but ``local``,
``--as`` and ``$TFPILOT_USER`` are refused: a claimed name must not override a verified one.

On a shared store (any store but ``embedded``) an unverified name is refused unless the
configuration trusts it by choice (``[core] trust_local_user = true``): :func:`check_trusted`.

See ``docs/security.md`` for the trust model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfpilot_core.errors import ConfigError


@dataclass(frozen=True)
class IdentityRequest:
    """What an identity provider may look at.

    ``claimed`` is the user named on the command line (``--as``), if any; ``environ`` the
    process environment.
    """

    claimed: str | None
    environ: Mapping[str, str]


@dataclass(frozen=True)
class Identity:
    """A resolved actor, and how it was established."""

    actor: str
    provider: str
    #: Whether the name was verified (a signed token) rather than taken as given.
    verified: bool = False
    #: Claims worth recording (e.g. repository, workflow, run id); never secrets.
    claims: dict[str, Any] = field(default_factory=dict)


#: Environment variables that name a user locally; refused when a verified provider is set.
LOCAL_CLAIMS = ("TFPILOT_USER",)


#: Stores that live on one machine, for one operator; every other store is shared.
LOCAL_STORES = frozenset({"embedded"})


def check_trusted(identity: Identity, *, store: str, trust_local_user: bool) -> None:
    """Refuse an unverified identity on a shared store unless it is trusted by choice.

    On the ``embedded`` store the operator is the only user, so a name given with ``--as`` is
    theirs to give. A shared store (S3, or any plugin store) is used by several people: anyone
    could type anyone's name, so the acting user must come from a verified provider.

    :raises ConfigError: naming the settings that fix it (exit 4).
    """
    if identity.verified or store in LOCAL_STORES or trust_local_user:
        return
    raise ConfigError(
        f"the store {store!r} is shared, and the {identity.provider!r} identity provider "
        f"takes the user {identity.actor!r} as given, unverified: set [core] identity = "
        '"api_token" (an API token in $TFPILOT_TOKEN) or "github_actions" (in workflows), or '
        "trust the local user by choice with [core] trust_local_user = true "
        "(or TFPILOT_CORE__TRUST_LOCAL_USER=true); see docs/security.md",
        key="core.trust_local_user",
    )
