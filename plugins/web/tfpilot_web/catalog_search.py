"""Catalog search and filters (``/catalog?q=...&category=...&risk=...&owner=...``).

A Jinja global (``catalog_filter``) so the catalog page filters the list it already has: module
metadata is public, and no request data is involved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The exact-match filters, by query parameter (each a module attribute).
FILTERS = ("category", "risk", "owner")


def catalog_filter(modules: Sequence[Any], params: Mapping[str, str]) -> list[Any]:
    """The modules matching the search words ``q`` (name, description, category, owner) and
    each exact filter given."""
    words = [w for w in str(params.get("q", ""))[:200].lower().split() if w]
    found = []
    for spec in modules:
        if any(params.get(f) and str(getattr(spec, f, "")) != params.get(f) for f in FILTERS):
            continue
        text = " ".join(
            str(getattr(spec, a, "")) for a in ("name", "description", "category", "owner")
        ).lower()
        if all(w in text for w in words):
            found.append(spec)
    return found


def choices(modules: Sequence[Any]) -> dict[str, list[str]]:
    """The values each filter can take in ``modules``."""
    return {
        f: sorted({str(getattr(m, f, "")) for m in modules if getattr(m, f, "")}) for f in FILTERS
    }


def usage(request: Any) -> dict[str, dict[str, Any]]:
    """Per module: how many requests the logged-in reader may see, and their average monthly
    cost where estimated (the query layer, scoped to the reader); empty when anonymous."""
    from tfpilot_core.query.model import Aggregate, GroupBy, Query
    from tfpilot_web.deps import optional_actor, state_of

    actor = optional_actor(request)
    if actor is None:
        return {}
    platform = state_of(request).platform
    result = platform.query(actor, Query(aggregate=Aggregate.SUM_COST, group_by=GroupBy.MODULE))
    found: dict[str, dict[str, Any]] = {}
    for group in result.groups:
        known = group.count - group.unknown_cost
        average = round(group.monthly_cost / known, 2) if known else None
        found[group.key] = {"count": group.count, "average": average, "estimated": known}
    return found
