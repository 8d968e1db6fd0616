"""Terraform modules in local directories: the settings and source of the ``modules_dir`` plugin.

Every directory under a configured path that contains ``*.tf`` files is a module, named by its
path relative to that root (``modules/aws/s3-bucket`` -> ``aws/s3-bucket``). The walk does not
descend into a module, so a module's own sub-modules are not offered as catalog modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.errors import ConfigError
from tfpilot_core.interfaces import ModuleLocation, ModuleSource
from tfpilot_core.registrations import PluginContext

NAME = "modules_dir"


class ModulesDirSettings(BaseModel):
    """``[plugins.modules_dir]``: the directories to read modules from.

    Relative paths are relative to the current directory; a missing directory is skipped.
    """

    model_config = ConfigDict(extra="forbid")

    paths: list[Path] = Field(default_factory=lambda: [Path("modules")])


class ModulesDirSource:
    """Offers every module directory found under the configured paths."""

    def __init__(self, paths: list[Path], source: str = NAME) -> None:
        self.paths = paths
        self.source = source

    def modules(self) -> Iterator[ModuleLocation]:
        """Every directory with ``*.tf`` files under each path, in a stable order."""
        for root in self.paths:
            root = Path(root)
            if not root.is_dir():
                continue  # the default "modules" need not exist
            if _is_module(root):
                raise ConfigError(
                    "holds *.tf files itself; put each module in its own sub-directory",
                    source=str(root),
                    key=f"plugins.{NAME}.paths",
                )
            yield from self._walk(root)

    def _walk(self, root: Path) -> Iterator[ModuleLocation]:
        for dirpath, dirnames, _ in os.walk(root):
            # Dot-directories (.terraform, .git) never hold catalog modules.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            if here != root and _is_module(here):
                dirnames[:] = []
                name = here.relative_to(root).as_posix()
                yield ModuleLocation(name=name, path=here, source=self.source)


def _is_module(path: Path) -> bool:
    return any(p.is_file() for p in path.glob("*.tf"))


def build_source(settings: ModulesDirSettings, context: PluginContext) -> ModuleSource:
    """The factory of the ``modules_dir`` registration."""
    return ModulesDirSource(list(settings.paths))
