"""The sandbox "cloud": objects stored as JSON files under a root directory.

Layout: ``<root>/<type>/<name>.json`` (e.g. ``<root>/sandbox_bucket/logs.json``). The file is
the object: the provider's ``read`` returns what is on disk, so editing a file (``tfpilot sandbox
edit``) is real drift. This module has no dependency on the ``tf`` framework, so the CLI
commands and the tests use it without starting a provider.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Regions of the sandbox cloud.
REGIONS: tuple[str, ...] = ("local-1", "local-2", "local-3")
#: Instance sizes, smallest first.
INSTANCE_SIZES: tuple[str, ...] = ("small", "medium", "large", "xlarge")
#: Object names: lowercase DNS-like labels. Strict, because a name becomes a file name.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class TypeSpec:
    """What one resource type stores: its attributes and which ones the CLI shows by default."""

    name: str
    #: Attribute name -> JSON kind ("string", "bool", "number", "map").
    attributes: Mapping[str, str]
    #: Attributes worth a column in ``tfpilot sandbox ls``.
    key_attributes: tuple[str, ...]
    #: Prefix of generated ids.
    id_prefix: str


TYPES: dict[str, TypeSpec] = {
    "sandbox_bucket": TypeSpec(
        name="sandbox_bucket",
        attributes={
            "id": "string",
            "name": "string",
            "region": "string",
            "tags": "map",
            "public_access": "bool",
            "encryption": "bool",
            "versioning": "bool",
        },
        key_attributes=("public_access", "encryption", "versioning"),
        id_prefix="bkt",
    ),
    "sandbox_queue": TypeSpec(
        name="sandbox_queue",
        attributes={
            "id": "string",
            "name": "string",
            "region": "string",
            "tags": "map",
            "encryption": "bool",
            "retention_seconds": "number",
        },
        key_attributes=("encryption", "retention_seconds"),
        id_prefix="q",
    ),
    "sandbox_instance": TypeSpec(
        name="sandbox_instance",
        attributes={
            "id": "string",
            "name": "string",
            "region": "string",
            "tags": "map",
            "size": "string",
            "public_ip": "bool",
            "ip_address": "string",
        },
        key_attributes=("size", "public_ip", "ip_address"),
        id_prefix="i",
    ),
}


class SandboxError(Exception):
    """A sandbox object operation that cannot be done (name taken, bad value, missing object)."""


class NameTakenError(SandboxError):
    """Another object of the same type already has this name."""


class ObjectNotFoundError(SandboxError):
    """No object of this type has this name."""


def check_name(name: str) -> None:
    """Raise :class:`SandboxError` unless ``name`` is a valid object name."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SandboxError(
            f"invalid name {name!r}: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )


def check_type(type_name: str) -> TypeSpec:
    """The spec of ``type_name``; :class:`SandboxError` if the sandbox has no such type."""
    try:
        return TYPES[type_name]
    except KeyError:
        raise SandboxError(
            f"unknown type {type_name!r}; known types: {', '.join(sorted(TYPES))}"
        ) from None


def coerce_value(kind: str, raw: str) -> Any:
    """Parse a command-line string into the JSON kind of an attribute (for ``sandbox edit``)."""
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise SandboxError(f"expected true or false, got {raw!r}")
    if kind == "number":
        try:
            return int(raw)
        except ValueError:
            try:
                return float(raw)
            except ValueError:
                raise SandboxError(f"expected a number, got {raw!r}") from None
    if kind == "map":
        value = json.loads(raw)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise SandboxError(f"expected a JSON object of strings, got {raw!r}")
        return value
    return raw


class ObjectStore:
    """The objects of one sandbox root. Every write is atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, type_name: str, name: str) -> Path:
        """Where the object lives (validating both parts, since they become a path)."""
        check_type(type_name)
        check_name(name)
        return self.root / type_name / f"{name}.json"

    def get(self, type_name: str, name: str) -> dict[str, Any] | None:
        """The object as it is on disk, or ``None`` if it does not exist."""
        path = self.path(type_name, name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise SandboxError(f"{path} does not hold a JSON object")
        return data

    def create(self, type_name: str, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new object; :class:`NameTakenError` if the name is taken.

        ``os.link`` of a fully written temp file is both atomic and exclusive: two concurrent
        creates cannot both win, and nobody ever reads a half-written object.
        """
        path = self.path(type_name, name)
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise NameTakenError(
                f"name taken: a {type_name} named {name!r} already exists"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        return dict(data)

    def replace(self, type_name: str, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Overwrite an object atomically (temp file + ``os.replace``)."""
        path = self.path(type_name, name)
        tmp = self._write_temp(path, data)
        try:
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return dict(data)

    def delete(self, type_name: str, name: str) -> bool:
        """Remove an object; ``False`` if it was already gone (deleting is idempotent)."""
        path = self.path(type_name, name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def update(self, type_name: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some attributes of an existing object (the out-of-band edit of the demos)."""
        current = self.get(type_name, name)
        if current is None:
            raise ObjectNotFoundError(f"no {type_name} named {name!r}")
        current.update(changes)
        return self.replace(type_name, name, current)

    def list(self, type_name: str | None = None) -> Iterator[dict[str, Any]]:
        """Every object (of one type, or of all), by type then name."""
        types = [type_name] if type_name else sorted(TYPES)
        for current_type in types:
            check_type(current_type)
            directory = self.root / current_type
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.json")):
                # A concurrent delete between glob and read is not an error: skip the object.
                with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                    data = json.loads(path.read_text(encoding="utf-8"))
                    if isinstance(data, dict):
                        yield {"type": current_type, **data}

    def _write_temp(self, path: Path, data: Mapping[str, Any]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The temp file lives in the target directory so the final rename stays on one filesystem.
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(dict(data), handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)
