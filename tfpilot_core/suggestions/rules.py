"""The built-in, offline suggesters: safer and cheaper inputs, judged from the module's schema.

Like the built-in policy rules, they recognise inputs by name (``public_ip``, ``encryption``,
``size``, ``retention_in_days``...), so they work for every module that uses these names. Each
proposes a patch; the core checks it (schema, policy, cost) before anyone sees it.

* ``public-access-off``: a public-access input that is on (safer);
* ``encryption-on``: an encryption input that is off (safer);
* ``versioning-on``: versioning off in a protected environment (safer);
* ``dead-letter-on``: no dead-letter queue in a protected environment (safer);
* ``smaller-size``: a size above the smallest allowed, outside protected environments (cheaper);
* ``shorter-retention``: retention or image counts above a dev-sized value, outside protected
  environments (cheaper);
* ``lifecycle-expiry``: no lifecycle rule on a bucket outside protected environments (cheaper).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tfpilot_core.suggestions.model import Proposal, Suggester, SuggestionContext

PUBLIC_INPUTS = ("public_access", "public_ip", "publicly_accessible", "associate_public_ip_address")
ENCRYPTION_INPUTS = ("encryption", "encrypted", "storage_encrypted")
VERSIONING_INPUTS = ("versioning", "versioning_enabled")
#: Input -> the value a non-protected environment rarely needs more than.
DEV_LIMITS: dict[str, int] = {
    "retention_in_days": 30,
    "retention_seconds": 86_400,
    "message_retention_seconds": 86_400,
    "untagged_image_expiry_days": 7,
    "max_image_count": 30,
    "backup_retention_period": 1,
}
#: Days after which a bucket's objects expire outside protected environments.
DEV_EXPIRATION_DAYS = 30


def _flag(ctx: SuggestionContext, names: Iterable[str], value: bool) -> Iterator[str]:
    for name in names:
        if name in ctx.module.inputs and ctx.inputs.get(name) is value:
            yield name


@dataclass(frozen=True)
class _Flip:
    """Turn a boolean input to its safe value (optionally only in protected environments)."""

    id: str
    names: tuple[str, ...]
    unsafe: bool
    title: str
    rationale: str
    protected_only: bool = False

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        if self.protected_only and not ctx.environment.protected:
            return
        for name in _flag(ctx, self.names, self.unsafe):
            yield Proposal(
                title=self.title.format(name=name),
                rationale=self.rationale,
                kind="safer",
                patch={name: not self.unsafe},
            )


class SmallerSize:
    """A size above the smallest allowed one, outside protected environments."""

    id = "smaller-size"

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        if ctx.environment.protected:
            return
        for name in ("size", "instance_type", "instance_class"):
            spec = ctx.module.inputs.get(name)
            current = ctx.inputs.get(name)
            if spec is None or not spec.allowed or current not in spec.allowed:
                continue
            smallest = spec.allowed[0]
            if current != smallest:
                yield Proposal(
                    title=f"Use {name} {smallest!r} instead of {current!r}",
                    rationale=f"{ctx.environment.key} is not a protected environment: the "
                    f"smallest allowed {name} usually does, at a fraction of the cost",
                    kind="cheaper",
                    patch={name: smallest},
                )


class ShorterRetention:
    """Retention (or images kept) above what a non-protected environment needs."""

    id = "shorter-retention"

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        if ctx.environment.protected:
            return
        patch: dict[str, Any] = {}
        for name, limit in DEV_LIMITS.items():
            spec = ctx.module.inputs.get(name)
            current = ctx.inputs.get(name)
            if spec is None or not isinstance(current, int | float) or current <= limit:
                continue
            target: Any = limit
            if spec.allowed:
                fitting = [a for a in spec.allowed if isinstance(a, int | float) and a <= limit]
                if not fitting:
                    continue
                target = max(fitting)
            patch[name] = target
        if patch:
            names = ", ".join(f"{k} {ctx.inputs[k]} -> {v}" for k, v in patch.items())
            yield Proposal(
                title=f"Keep less in {ctx.environment.key}: {names}",
                rationale="data and images kept longer than a non-protected environment needs "
                "are paid for every month",
                kind="cheaper",
                patch=patch,
            )


class LifecycleExpiry:
    """A bucket without lifecycle rules, outside protected environments."""

    id = "lifecycle-expiry"

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        if ctx.environment.protected or "lifecycle_rules" not in ctx.module.inputs:
            return
        if ctx.inputs.get("lifecycle_rules"):
            return
        yield Proposal(
            title=f"Expire objects after {DEV_EXPIRATION_DAYS} days",
            rationale=f"objects in a {ctx.environment.key} bucket are rarely needed for long; "
            "an expiration rule stops paying for them forever",
            kind="cheaper",
            patch={
                "lifecycle_rules": [
                    {"id": "expire-dev", "expiration_days": DEV_EXPIRATION_DAYS},
                ]
            },
        )


def builtin_suggesters() -> list[Suggester]:
    """A fresh instance of every built-in suggester, in the order suggestions are listed."""
    return [
        _Flip(
            "public-access-off",
            PUBLIC_INPUTS,
            True,
            "Turn {name} off",
            "public access is blocked by default; a private resource cannot be reached by "
            "anyone on the internet",
        ),
        _Flip(
            "encryption-on",
            ENCRYPTION_INPUTS,
            False,
            "Turn {name} on",
            "data at rest should be encrypted; it costs nothing measurable",
        ),
        _Flip(
            "versioning-on",
            VERSIONING_INPUTS,
            False,
            "Turn {name} on in a protected environment",
            "versioning keeps every object recoverable after a mistaken overwrite or delete",
            protected_only=True,
        ),
        _Flip(
            "dead-letter-on",
            ("dlq_enabled",),
            False,
            "Add a dead-letter queue in a protected environment",
            "messages that keep failing are kept for inspection instead of being lost",
            protected_only=True,
        ),
        SmallerSize(),
        ShorterRetention(),
        LifecycleExpiry(),
    ]
