"""The data of the service catalog: what ``tfpilot catalog --json`` prints, as pydantic models.

:class:`CatalogDocument` is the published format: ``tfpilot schema catalog`` prints its JSON
Schema, and tests validate the command's output against it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The format name and version carried by every catalog document.
CATALOG_FORMAT: Final = "tfpilot.catalog/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputView(_Model):
    """One input of a module as the catalog shows it (a sensitive default is never shown)."""

    name: str
    label: str
    description: str = ""
    type: str
    required: bool
    default: Any = None
    allowed: list[Any] | None = None
    sensitive: bool = False
    immutable: bool = False
    read_only: bool = False


class TypicalCost(_Model):
    """The monthly cost of an example, from the configured estimator on a plan of the example.

    ``status`` says how far it got: ``estimated`` (``monthly`` may still be ``None`` when a price
    is usage based), ``no_estimate`` (no estimator prices these resources), ``unavailable`` (the
    plan could not be made here; ``error`` says why), ``not_computed`` (costs were not asked for).
    """

    status: Literal["estimated", "no_estimate", "unavailable", "not_computed"]
    monthly: Decimal | None = None
    currency: str = "USD"
    estimator: str = ""
    module_version: str = ""
    computed_at: datetime | None = None
    error: str | None = None


class ExampleView(_Model):
    """An example request of a module, with its security defaults and allowed opt-outs."""

    name: str
    title: str
    description: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    security_defaults: list[str] = Field(default_factory=list)
    opt_outs: list[str] = Field(default_factory=list)
    typical_cost: TypicalCost


class Usage(_Model):
    """Requests for a module the reader may see: counts by environment, then by status."""

    total: int = 0
    by_environment: dict[str, dict[str, int]] = Field(default_factory=dict)


class CatalogEntry(_Model):
    """One module of the service catalog."""

    name: str
    description: str = ""
    category: str
    risk: str
    owner: str = ""
    version: str
    source: str = ""
    changelog: str | None = None
    inputs: list[InputView] = Field(default_factory=list)
    examples: list[ExampleView] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class CatalogDocument(_Model):
    """The service catalog: every module (or those of one category)."""

    format: Literal["tfpilot.catalog/1"] = CATALOG_FORMAT
    category: str | None = None
    modules: list[CatalogEntry] = Field(default_factory=list)
