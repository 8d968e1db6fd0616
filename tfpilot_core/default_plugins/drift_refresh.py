"""The default drift detector plugin, ``refresh`` (:mod:`tfpilot_core.drift_detection`).

Only the hook lives here, with a lazy reference: discovering plugins does not import the
detector. ``RefreshDriftDetector`` was importable from this module before 0.2 and still is.
"""

from __future__ import annotations

import importlib
from typing import Any

from tfpilot_core.hookspecs import hookimpl
from tfpilot_core.registrations import Registration

NAME = "refresh"


@hookimpl
def tfpilot_register_drift_detectors() -> list[Registration[Any]]:
    """Register the ``refresh`` drift detector (refresh-only plans, the default)."""
    return [
        Registration(
            name=NAME,
            factory="tfpilot_core.drift_detection:build_detector",
            description="Refresh-only plan through the configured runner (the default)",
        )
    ]


def __getattr__(name: str) -> Any:
    # PEP 562: the 0.1 import path of the detector (moved to tfpilot_core.drift_detection).
    return getattr(importlib.import_module("tfpilot_core.drift_detection"), name)
