"""The service catalog: modules as products (owner, examples, typical costs, usage, changelog).

See :class:`~tfpilot_core.service_catalog.service.ServiceCatalog` and ``docs/catalog.md``.
"""

from __future__ import annotations

from .models import (
    CATALOG_FORMAT,
    CatalogDocument,
    CatalogEntry,
    ExampleView,
    InputView,
    TypicalCost,
    Usage,
)
from .service import COSTS, ServiceCatalog, money

__all__ = [
    "CATALOG_FORMAT",
    "COSTS",
    "CatalogDocument",
    "CatalogEntry",
    "ExampleView",
    "InputView",
    "ServiceCatalog",
    "TypicalCost",
    "Usage",
    "money",
]
