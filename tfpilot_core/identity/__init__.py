"""Who is acting: identity providers (``[core] identity``), a registration kind of their own.

``local`` (the default) is one operator's tool: the user named by ``--as``, ``$TFPILOT_USER``,
``$GITHUB_ACTOR`` or ``$USER``, trusted as given. Shared deployments take identity from a
verified source instead: ``github_actions`` reads the actor from a GitHub Actions OIDC token whose
signature, issuer, audience and repository are checked. With any provider but ``local``,
``--as`` and ``$TFPILOT_USER`` are refused: a claimed name must not override a verified one.

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
