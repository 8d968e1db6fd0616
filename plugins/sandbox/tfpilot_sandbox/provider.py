"""The sandbox Terraform provider (``registry.terraform.io/tfpilot/sandbox``), written with ``tf``.

This module is imported only inside the provider process that Terraform starts (through the
wrapper executable written by :mod:`tfpilot_sandbox.mirror`), never by the plugin host: importing
``tf`` pulls in gRPC, protobuf and cryptography.

Design choices that matter to Terraform:

* ``read`` returns the object exactly as it is on disk, so an out-of-band edit is real drift and a
  deleted file makes Terraform plan a create.
* User-settable attributes are ``optional`` or ``required`` but never ``computed``: an
  optional+computed attribute keeps a refreshed (drifted) value instead of reverting it. Modules
  set the secure values explicitly. Only provider-generated values (``id``, ``ip_address``) are
  computed.
* ``name`` and ``region`` force replacement; everything else is updated in place.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from tf import iface, schema, types
from tf.iface import Config, CreateContext, DeleteContext, ReadContext, State, UpdateContext
from tf.runner import run_provider
from tf.utils import Diagnostics

from tfpilot_sandbox import (
    PROVIDER_HOST,
    PROVIDER_NAMESPACE,
    PROVIDER_TYPE,
    ROOT_ENV,
)
from tfpilot_sandbox.objects import (
    INSTANCE_SIZES,
    NAME_PATTERN,
    REGIONS,
    TYPES,
    NameTakenError,
    ObjectStore,
    SandboxError,
)

#: Bounds of a queue's message retention, as in the clouds it imitates (1 minute to 14 days).
MIN_RETENTION_SECONDS = 60
MAX_RETENTION_SECONDS = 1_209_600


def _common_attributes(kind: str) -> list[schema.Attribute]:
    return [
        schema.Attribute("id", types.String(), computed=True, description=f"The {kind}'s id."),
        schema.Attribute(
            "name",
            types.String(),
            required=True,
            requires_replace=True,
            description=f"The {kind}'s name, unique among {kind}s.",
        ),
        schema.Attribute(
            "region",
            types.String(),
            required=True,
            requires_replace=True,
            description=f"One of {', '.join(REGIONS)}.",
        ),
        schema.Attribute("tags", types.Map(types.String()), optional=True, description="Tags."),
    ]


class SandboxProvider(iface.Provider):  # type: ignore[misc]  # tf ships no type hints
    """The provider: one configuration attribute, ``root``, the directory holding the objects."""

    def __init__(self) -> None:
        self.store: ObjectStore | None = None

    def get_model_prefix(self) -> str:
        """Resource type names start with ``sandbox_``."""
        return f"{PROVIDER_TYPE}_"

    def full_name(self) -> str:
        """The provider's source address."""
        return f"{PROVIDER_HOST}/{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        """``root`` (optional; falls back to ``$TFPILOT_SANDBOX_ROOT``)."""
        return schema.Schema(
            attributes=[
                schema.Attribute(
                    "root",
                    types.String(),
                    optional=True,
                    description=f"Directory of the sandbox objects (default: ${ROOT_ENV}).",
                )
            ]
        )

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        """Nothing to check before configuration: ``root`` may still be unknown here."""

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        """Resolve the root directory; an error diagnostic if neither source gives one."""
        root = config.get("root")
        if not isinstance(root, str) or not root:
            root = os.environ.get(ROOT_ENV, "")
        if not root:
            diags.add_error(
                "sandbox root not configured",
                f"Set the provider's `root` attribute or the {ROOT_ENV} environment variable "
                "to the directory that holds the sandbox objects.",
            )
            return
        self.store = ObjectStore(Path(root))

    def get_data_sources(self) -> list[type[iface.DataSource]]:
        """No data sources."""
        return []

    def get_resources(self) -> list[type[iface.Resource]]:
        """The three sandbox resource types."""
        return [SandboxBucket, SandboxQueue, SandboxInstance]


class _SandboxResource(iface.Resource):  # type: ignore[misc]
    """Shared CRUD of every sandbox resource: one JSON file per object."""

    TYPE: ClassVar[str]
    EXTRA: ClassVar[Sequence[schema.Attribute]] = ()

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        """The type name without the provider prefix."""
        return cls.TYPE.removeprefix(f"{PROVIDER_TYPE}_")

    @classmethod
    def get_schema(cls) -> schema.Schema:
        """Common attributes plus the type's own."""
        kind = cls.get_name()
        return schema.Schema(version=0, attributes=[*_common_attributes(kind), *cls.EXTRA])

    # -- validation (runs at plan time, before anything is written) ----------------------------

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        """Schema checks, then value checks on whatever is already known."""
        super().validate(diags, type_name, config)
        # Values can still be unknown (tf.types.Unknown) here; only check real strings/numbers.
        name = config.get("name")
        if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
            diags.add_error(
                "invalid name",
                f"{name!r} is not a valid name: use 1-63 lowercase letters, digits and '-'.",
                path=["name"],
            )
        region = config.get("region")
        if isinstance(region, str) and region not in REGIONS:
            diags.add_error(
                "invalid region",
                f"{region!r} is not a sandbox region; choose one of {', '.join(REGIONS)}.",
                path=["region"],
            )
        self.validate_extra(diags, config)

    def validate_extra(self, diags: Diagnostics, config: Config) -> None:
        """Type-specific value checks."""

    # -- CRUD ------------------------------------------------------------------------------------

    def _store(self, diags: Diagnostics) -> ObjectStore | None:
        if self.provider.store is None:
            diags.add_error("sandbox root not configured", f"Set `root` or {ROOT_ENV}.")
        return self.provider.store

    def _attribute_names(self) -> list[str]:
        return list(TYPES[self.TYPE].attributes)

    def _state(self, obj: dict[str, Any]) -> State:
        # Only schema attributes go back to Terraform; bookkeeping fields stay in the file.
        return {key: obj.get(key) for key in self._attribute_names()}

    def computed_values(self, planned: State) -> dict[str, Any]:
        """Provider-generated attributes of a new object."""
        return {"id": f"{TYPES[self.TYPE].id_prefix}-{secrets.token_hex(6)}"}

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        """Write a new object file; a "name taken" diagnostic if the name is in use."""
        store = self._store(ctx.diagnostics)
        if store is None:
            return None
        obj = {key: planned.get(key) for key in self._attribute_names()}
        obj.update(self.computed_values(planned))
        now = datetime.now(UTC).isoformat()
        try:
            store.create(self.TYPE, obj["name"], {**obj, "created_at": now, "updated_at": now})
        except NameTakenError as exc:
            ctx.diagnostics.add_error("name taken", str(exc), path=["name"])
            return None
        except (SandboxError, OSError) as exc:
            ctx.diagnostics.add_error(f"cannot create {self.TYPE}", str(exc))
            return None
        return self._state(obj)

    def read(self, ctx: ReadContext, current: State) -> State | None:
        """The object as it is on disk; ``None`` (gone) if its file was deleted."""
        store = self._store(ctx.diagnostics)
        if store is None:
            return current
        try:
            obj = store.get(self.TYPE, current["name"])
        except (SandboxError, OSError, ValueError) as exc:
            ctx.diagnostics.add_error(f"cannot read {self.TYPE}", str(exc))
            return current
        return None if obj is None else self._state(obj)

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        """Rewrite the object file with the planned values (atomically)."""
        store = self._store(ctx.diagnostics)
        if store is None:
            return current
        try:
            existing = store.get(self.TYPE, planned["name"]) or {}
            obj = {**existing, **{key: planned.get(key) for key in self._attribute_names()}}
            obj["updated_at"] = datetime.now(UTC).isoformat()
            store.replace(self.TYPE, planned["name"], obj)
        except (SandboxError, OSError) as exc:
            ctx.diagnostics.add_error(f"cannot update {self.TYPE}", str(exc))
            return current
        return self._state(obj)

    def delete(self, ctx: DeleteContext, current: State) -> None:
        """Remove the object file (already gone is fine)."""
        store = self._store(ctx.diagnostics)
        if store is None:
            return
        try:
            store.delete(self.TYPE, current["name"])
        except (SandboxError, OSError) as exc:
            ctx.diagnostics.add_error(f"cannot delete {self.TYPE}", str(exc))


class SandboxBucket(_SandboxResource):
    """``sandbox_bucket``: an object store bucket."""

    TYPE = "sandbox_bucket"
    EXTRA = (
        schema.Attribute("public_access", types.Bool(), optional=True, description="Public reads."),
        schema.Attribute(
            "encryption", types.Bool(), optional=True, description="At-rest encryption."
        ),
        schema.Attribute("versioning", types.Bool(), optional=True, description="Keep versions."),
    )


class SandboxQueue(_SandboxResource):
    """``sandbox_queue``: a message queue."""

    TYPE = "sandbox_queue"
    EXTRA = (
        schema.Attribute(
            "encryption", types.Bool(), optional=True, description="At-rest encryption."
        ),
        schema.Attribute(
            "retention_seconds",
            types.Number(),
            optional=True,
            description=f"Message retention ({MIN_RETENTION_SECONDS}-{MAX_RETENTION_SECONDS} s).",
        ),
    )

    def validate_extra(self, diags: Diagnostics, config: Config) -> None:
        """Retention within bounds."""
        retention = config.get("retention_seconds")
        if isinstance(retention, int | float) and not (
            MIN_RETENTION_SECONDS <= retention <= MAX_RETENTION_SECONDS
        ):
            diags.add_error(
                "invalid retention_seconds",
                f"{retention} is outside {MIN_RETENTION_SECONDS}-{MAX_RETENTION_SECONDS}.",
                path=["retention_seconds"],
            )


class SandboxInstance(_SandboxResource):
    """``sandbox_instance``: a virtual machine with a generated id and private IP address."""

    TYPE = "sandbox_instance"
    EXTRA = (
        schema.Attribute(
            "size",
            types.String(),
            required=True,
            description=f"One of {', '.join(INSTANCE_SIZES)}.",
        ),
        schema.Attribute(
            "public_ip", types.Bool(), optional=True, description="Reachable publicly."
        ),
        schema.Attribute("ip_address", types.String(), computed=True, description="Private IP."),
    )

    def validate_extra(self, diags: Diagnostics, config: Config) -> None:
        """Size from the fixed list."""
        size = config.get("size")
        if isinstance(size, str) and size not in INSTANCE_SIZES:
            diags.add_error(
                "invalid size",
                f"{size!r} is not a sandbox size; choose one of {', '.join(INSTANCE_SIZES)}.",
                path=["size"],
            )

    def computed_values(self, planned: State) -> dict[str, Any]:
        """A random id, and a private address derived from region and name (stable per object)."""
        values = super().computed_values(planned)
        digest = hashlib.sha256(str(planned.get("name")).encode()).digest()
        region = planned.get("region")
        subnet = REGIONS.index(region) + 1 if region in REGIONS else 0
        values["ip_address"] = f"10.{subnet}.{digest[0]}.{digest[1] % 254 + 1}"
        return values


def main(argv: list[str] | None = None) -> int:
    """Serve the provider over Terraform's plugin protocol (what the mirror executable runs)."""
    run_provider(SandboxProvider(), argv if argv is not None else sys.argv)
    return 0


if __name__ == "__main__":  # pragma: no cover - started by Terraform through the wrapper
    sys.exit(main())
