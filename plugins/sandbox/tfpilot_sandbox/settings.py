"""Settings of the ``[plugins.sandbox]`` section, and where the sandbox keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class SandboxSettings(BaseModel):
    """``[plugins.sandbox]``: both directories default to places under tfpilot's home."""

    model_config = ConfigDict(extra="forbid")

    #: Directory of the sandbox objects (default ``<home>/sandbox/objects``).
    root: Path | None = None
    #: Directory of the provider's filesystem mirror (default ``<home>/sandbox/mirror``).
    mirror_dir: Path | None = None


def tfpilot_home() -> Path:
    """``$TFPILOT_HOME``, default ``~/.tfpilot`` (the same rule as the core's)."""
    return Path(os.environ.get("TFPILOT_HOME") or "~/.tfpilot").expanduser()


def sandbox_root(settings: SandboxSettings | None, home: Path) -> Path:
    """The objects directory: ``settings.root`` if set, else ``<home>/sandbox/objects``."""
    if settings is not None and settings.root is not None:
        return Path(settings.root).expanduser()
    return Path(home) / "sandbox" / "objects"


def mirror_dir(settings: SandboxSettings | None, home: Path) -> Path:
    """The mirror directory: ``settings.mirror_dir`` if set, else ``<home>/sandbox/mirror``."""
    if settings is not None and settings.mirror_dir is not None:
        return Path(settings.mirror_dir).expanduser()
    return Path(home) / "sandbox" / "mirror"
