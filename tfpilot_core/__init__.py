"""tfpilot: Terraform self-service and governance, as a small core with plugins.

The public surface for plugin authors is :data:`hookimpl` and the types in
:mod:`tfpilot_core.registrations` and :mod:`tfpilot_core.interfaces`; for platforms embedding
tfpilot it is :class:`tfpilot_core.Platform` (imported lazily, on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

__version__ = "0.1.0"
__all__ = ["Platform", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # Platform pulls in the whole domain; keep `import tfpilot_core` (and `tfpilot --help`) light.
    if name == "Platform":
        from tfpilot_core.platform import Platform

        return Platform
    raise AttributeError(f"module 'tfpilot_core' has no attribute {name!r}")
