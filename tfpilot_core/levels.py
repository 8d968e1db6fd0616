"""Plain enumerations of the domain that code off the pydantic path needs (no pydantic here).

:mod:`tfpilot_core.models` re-exports each under the same name (the same object), so
``from tfpilot_core.models import PolicyLevel`` keeps working; code that must start fast (the
policy engine's grading, ``tfpilot policy check``) imports it from here instead.
"""

from __future__ import annotations

import enum


class PolicyLevel(enum.StrEnum):
    """How a policy finding is enforced."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    BLOCKING = "blocking"
