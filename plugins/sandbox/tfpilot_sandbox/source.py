"""The plugin's module source: the sandbox modules shipped inside this package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tfpilot_core.interfaces import ModuleLocation

#: Where the packaged modules live (``tfpilot_sandbox/modules/<name>/``).
MODULES_DIR = Path(__file__).resolve().parent / "modules"


class SandboxModuleSource:
    """Offers ``sandbox/<name>`` for every module directory under :data:`MODULES_DIR`."""

    def __init__(self, directory: Path = MODULES_DIR) -> None:
        self.directory = directory

    def modules(self) -> Iterator[ModuleLocation]:
        """``sandbox/bucket``, ``sandbox/instance``, ``sandbox/queue`` (sorted)."""
        for path in sorted(self.directory.iterdir()):
            # A module is a directory with a metadata file; skip __pycache__ and the like.
            if path.is_dir() and (path / "tfpilot.module.toml").is_file():
                yield ModuleLocation(
                    name=f"sandbox/{path.name}", path=path, source="tfpilot-sandbox"
                )
