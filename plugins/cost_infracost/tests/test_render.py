"""The one rendering of an estimate (tfpilot_core.cost): text, Markdown, JSON; unknown money is
shown as unknown, never as zero."""

from __future__ import annotations

import json
from decimal import Decimal

from tfpilot_core.cost import delta_phrase, estimate_dict, render_markdown, render_text, top_lines
from tfpilot_core.models import CostComponent, CostEstimate, CostLine


def estimate() -> CostEstimate:
    return CostEstimate(
        monthly=Decimal("150.5"),
        previous=Decimal("100"),
        currency="EUR",
        plan_digest="a" * 64,
        estimator="infracost",
        unknown=["aws_lambda_function.api|x"],
        lines=[
            CostLine(address="small", resource_type="t", monthly=Decimal("1"), delta=Decimal("1")),
            CostLine(
                address="big",
                resource_type="t",
                monthly=Decimal("60"),
                previous=Decimal("10"),
                components=[
                    CostComponent(
                        name="Instance usage",
                        unit="hours",
                        monthly_quantity=Decimal("730"),
                        monthly=Decimal("55"),
                    ),
                    CostComponent(
                        name="Storage", subresource="root_block_device", monthly=Decimal("5")
                    ),
                ],
            ),
            CostLine(address="gone", resource_type="t", monthly=Decimal(0), delta=Decimal("-20")),
            CostLine(address="same", resource_type="t", monthly=Decimal(3), delta=Decimal(0)),
            CostLine(
                address="aws_lambda_function.api|x",
                resource_type="aws_lambda_function",
                monthly=None,
                unknown=True,
                components=[
                    CostComponent(name="Requests", unit="1M requests", price=Decimal("0.2"))
                ],
            ),
        ],
    )


def test_top_lines_by_change_either_way_then_unknown() -> None:
    assert [line.address for line in top_lines(estimate(), 10)] == [
        "big",
        "gone",
        "small",
        "aws_lambda_function.api|x",
    ]
    assert [line.address for line in top_lines(estimate(), 2)] == ["big", "gone"]


def test_text() -> None:
    text = render_text(estimate())
    assert "Cost estimate (infracost) for plan aaaaaaaaaaaa" in text
    assert "monthly    150.50 EUR" in text and "previous   100.00 EUR" in text
    assert "delta      +50.50 EUR" in text
    assert "big  +50.00 EUR  (now 60.00 EUR)" in text
    assert "root_block_device: Storage: 5" in text
    assert "Requests: unknown (usage based, no usage given at 0.2 per 1M requests)" in text
    assert "same" not in text


def test_markdown_escapes_cells() -> None:
    md = render_markdown(estimate())
    assert "| **Change** | **+50.50 EUR** |" in md
    assert "`aws_lambda_function.api\\|x` (partly unknown) | unknown | unknown |" in md
    assert "<details><summary>Components</summary>" in md


def test_unknown_and_failed() -> None:
    failed = CostEstimate(monthly=None, error="Infracost did not finish", estimator="infracost")
    assert "unknown" in render_text(failed) and "estimate failed" in render_text(failed)
    assert "0.00" not in render_text(failed)
    assert delta_phrase(failed).startswith("cost unknown: the estimate failed")
    assert "previous unknown" in delta_phrase(CostEstimate(monthly=Decimal(1)))


def test_json_keeps_money_as_decimal_strings() -> None:
    data = json.loads(json.dumps(estimate_dict(estimate())))
    assert data["monthly"] == "150.5" and data["delta"] == "50.5"
    assert data["top"][0] == {
        "address": "big",
        "resource_type": "t",
        "monthly": "60",
        "previous": "10",
        "delta": "50",
        "unknown": False,
    }
