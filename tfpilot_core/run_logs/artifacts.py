"""Where an attempt's captured log is stored, and reading it back (one rule for both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store

__all__ = ["artifact_name", "read"]


def artifact_name(attempt_id: str) -> str:
    """The artifact that holds the log of ``attempt_id``."""
    return f"{attempt_id}.log"


def read(store: Store, request_id: str, attempt_id: str) -> str:
    """The captured log of one attempt (:class:`~tfpilot_core.errors.NotFoundError` if none)."""
    return store.get_artifact(request_id, artifact_name(attempt_id)).decode(errors="replace")
