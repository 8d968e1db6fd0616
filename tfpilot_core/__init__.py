"""tfpilot: Terraform self-service and governance, as a small core with plugins.

The public surface for plugin authors is :data:`hookimpl` and the types in
:mod:`tfpilot_core.registrations` and :mod:`tfpilot_core.interfaces`; for platforms embedding
tfpilot it is :class:`tfpilot_core.Platform` (resolved on first use, see below).
"""

from __future__ import annotations

import importlib
from typing import Any

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.version import __version__

__all__ = ["Platform", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # PEP 562: ``tfpilot_core.Platform`` is resolved when first asked for, so that importing any
    # submodule (and `tfpilot --help`) does not load the whole domain. Nothing in the core
    # imports the package itself (arch tests): the facade sits on top of every layer.
    if name == "Platform":
        return importlib.import_module("tfpilot_core.platform").Platform
    raise AttributeError(f"module 'tfpilot_core' has no attribute {name!r}")
