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
