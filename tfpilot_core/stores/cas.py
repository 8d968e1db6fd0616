"""Read-mutate-write of a request as a compare-and-swap loop, retried on conflicts.

Every change of a stored request goes through :func:`update_request` (or an equivalent loop):
read the current document, apply a pure mutation, write it back only if nobody wrote in between
(``put_request(..., expected_version=<the version read>)``), and on a lost race start again from
a fresh read. This is what makes concurrent writers (two CLI processes, a workflow and a portal)
lose no update, where a read-then-write without the version check would silently drop one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tfpilot_core.errors import ConflictError

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import Request

#: First back-off between attempts, in seconds; doubled each time, with full jitter.
_BASE_DELAY = 0.002
_MAX_DELAY = 0.1


def update_request(
    store: Store,
    request_id: str,
    mutate: Callable[[Request], Request],
    *,
    attempts: int = 10,
) -> Request:
    """Apply ``mutate`` to the stored request and write it with compare-and-swap.

    ``mutate`` receives a freshly read request and returns the new document (it may change the one
    it gets and return it). It may be called several times, once per attempt, so it must have no
    side effects besides the request it returns; raising from it aborts the update unchanged.

    :return: the stored request, with its new version.
    :raises ConflictError: when every one of ``attempts`` attempts lost a race.
    :raises NotFoundError: when the request does not exist.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    last: ConflictError | None = None
    for attempt in range(attempts):
        current = store.get_request(request_id)
        expected = current.version
        updated = mutate(current)
        try:
            return store.put_request(updated, expected_version=expected)
        except ConflictError as exc:
            last = exc
            if attempt + 1 < attempts:
                # Full jitter: writers that collided once do not collide again in lockstep.
                delay = min(_MAX_DELAY, _BASE_DELAY * (2**attempt))
                time.sleep(random.uniform(0, delay))
    raise ConflictError(
        f"request {request_id!r}: gave up after {attempts} conflicting attempts; last: {last}"
    )
