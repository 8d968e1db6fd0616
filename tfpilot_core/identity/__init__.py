"""Who is acting: identity providers (``[core] identity``), a registration kind of their own.

``local`` (the default) is one operator's tool: the user named by ``--as``, ``$TFPILOT_USER``,
``$GITHUB_ACTOR`` or ``$USER``, trusted as given. Shared deployments take identity from a
verified source instead: ``github_actions`` reads the actor from a GitHub Actions OIDC token whose
signature, issuer, audience and repository are checked. With any provider but ``local``,
``--as`` and ``$TFPILOT_USER`` are refused: a claimed name must not override a verified one.

On a shared store (any store but ``embedded``) an unverified name may only read, unless the
configuration trusts it by choice (``[core] trust_local_user = true``): :func:`untrusted_reason`
says why, and the CLI then limits that user to reads (``Config.limit_to_reads``). Reading is
left open because whoever runs the CLI against a shared store already holds the store's own
read access (the bucket's credentials); what a typed name must not do is act as someone else
(create, approve, apply: four eyes would mean nothing).

See ``docs/security.md`` for the trust model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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


def untrusted_reason(identity: Identity, *, store: str, trust_local_user: bool) -> str | None:
    """Why ``identity`` may only read here, or ``None`` when it may act as its role allows.

    On the ``embedded`` store the operator is the only user, so a name given with ``--as`` is
    theirs to give. A shared store (S3, or any plugin store) is used by several people: anyone
    could type anyone's name, so a name that no provider verified may read (as the store's own
    credentials already allow) but take no action, unless the configuration trusts it by choice.
    The reason names the settings that lift the limit.
    """
    if identity.verified or store in LOCAL_STORES or trust_local_user:
        return None
    return (
        f"the store {store!r} is shared, and the {identity.provider!r} identity provider "
        f"takes the user {identity.actor!r} as given, unverified, so it may only read: set "
        '[core] identity = "api_token" (an API token in $TFPILOT_TOKEN) or "github_actions" '
        "(in workflows), or trust the local user by choice with [core] trust_local_user = "
        "true (or TFPILOT_CORE__TRUST_LOCAL_USER=true); see docs/security.md"
    )
