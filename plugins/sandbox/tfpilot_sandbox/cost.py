"""A static monthly price list for sandbox resources.

The sandbox costs nothing, but a price list lets the demo and the tests exercise the cost step of
the lifecycle (estimates, deltas, per-resource lines) with real plans. Prices imitate a cloud's
orders of magnitude; instances are priced per hour times 730 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tfpilot_core.models import CostEstimate, CostLine

if TYPE_CHECKING:
    from tfpilot_core.models import Request
    from tfpilot_core.plan import Plan

HOURS_PER_MONTH = Decimal(730)

#: Monthly price of a bucket and of a queue (flat), in USD.
FLAT_PRICES: dict[str, Decimal] = {
    "sandbox_bucket": Decimal("2.30"),
    "sandbox_queue": Decimal("0.40"),
}
#: Hourly price of an instance, by size, in USD.
INSTANCE_HOURLY: dict[str, Decimal] = {
    "small": Decimal("0.0104"),
    "medium": Decimal("0.0416"),
    "large": Decimal("0.0832"),
    "xlarge": Decimal("0.1664"),
}
#: Extra monthly price of a public IP address.
PUBLIC_IP_MONTHLY = Decimal("3.65")

_CENT = Decimal("0.01")


def monthly_price(resource_type: str, values: Mapping[str, Any] | None) -> Decimal | None:
    """The monthly price of one sandbox object with these attribute values.

    ``Decimal(0)`` when the object does not exist (``values`` is ``None``), ``None`` when the
    price depends on a value that is not known yet (e.g. an instance size computed at apply).
    """
    if values is None:
        return Decimal(0)
    if resource_type in FLAT_PRICES:
        return FLAT_PRICES[resource_type]
    if resource_type == "sandbox_instance":
        hourly = INSTANCE_HOURLY.get(str(values.get("size")))
        if hourly is None:
            return None
        price = hourly * HOURS_PER_MONTH
        if values.get("public_ip"):
            price += PUBLIC_IP_MONTHLY
        return price.quantize(_CENT)
    return None


def _changes(plan: Any) -> Iterable[tuple[str, str, str, Any, Any]]:
    """(address, type, mode, before, after) of each resource change.

    Accepts a parsed :class:`tfpilot_core.plan.Plan` and, for callers and tests holding raw
    ``show -json`` output, the plain dict.
    """
    if isinstance(plan, Mapping):
        for change in plan.get("resource_changes") or []:
            body = change.get("change") or {}
            yield (
                change.get("address", ""),
                change.get("type", ""),
                change.get("mode", "managed"),
                body.get("before"),
                body.get("after"),
            )
        return
    for change in plan.resource_changes:
        yield change.address, change.type, change.mode, change.before, change.after


class SandboxCostEstimator:
    """Prices every ``sandbox_*`` resource of a plan from :data:`FLAT_PRICES` and friends."""

    name = "sandbox"

    def estimate(
        self, request: Request | None, plan: Plan | Mapping[str, Any]
    ) -> CostEstimate | None:
        """Monthly cost after the plan and before it; ``None`` if the plan has no sandbox resource.

        A total is ``None`` (unknown) when any line's price is unknown.
        """
        lines: list[CostLine] = []
        for address, resource_type, mode, before, after in _changes(plan):
            if mode != "managed" or not resource_type.startswith("sandbox_"):
                continue
            lines.append(
                CostLine(
                    address=address,
                    resource_type=resource_type,
                    monthly=monthly_price(resource_type, after),
                    previous=monthly_price(resource_type, before),
                )
            )
        if not lines:
            return None
        return CostEstimate(
            monthly=_total(line.monthly for line in lines),
            previous=_total(line.previous for line in lines),
            currency="USD",
            estimator=self.name,
            lines=lines,
        )


def _total(values: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for value in values:
        if value is None:
            return None
        total += value
    return total
