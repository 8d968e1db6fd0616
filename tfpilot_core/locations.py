"""Where a catalog module lives: a leaf contract type, re-exported by ``interfaces``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModuleLocation:
    """A catalog module offered by a module source: its name and its directory on disk."""

    name: str
    path: Path
    source: str = ""
