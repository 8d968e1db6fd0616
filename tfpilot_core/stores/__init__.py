"""Store implementations that ship with the core, and helpers every store can use.

* :mod:`tfpilot_core.stores.sqlite`: :class:`~tfpilot_core.stores.sqlite.SQLiteStore`, the
  embedded default (imported lazily: ``from tfpilot_core.stores.sqlite import SQLiteStore``).
* :mod:`tfpilot_core.stores.cas`: :func:`~tfpilot_core.stores.cas.update_request`, the
  read-mutate-compare-and-swap retry loop.
* :mod:`tfpilot_core.stores.validation`: the strict patterns for ids and names that reach a store.

The contract itself is :class:`tfpilot_core.interfaces.Store`; ``docs/store.md`` describes it and
:mod:`tfpilot_core.testing.store_conformance` checks it.
"""

from __future__ import annotations

from tfpilot_core.stores.cas import update_request
from tfpilot_core.stores.validation import (
    NAME_PATTERN,
    check_artifact_name,
    check_namespace,
    check_record_key,
    check_request_id,
)

__all__ = [
    "NAME_PATTERN",
    "check_artifact_name",
    "check_namespace",
    "check_record_key",
    "check_request_id",
    "update_request",
]
