"""The parser of Infracost's version "0.2" JSON: money as Decimal, nulls as unknown, several
projects, sub-resources, diffs; generated and mutated documents never crash it."""

from __future__ import annotations

import contextlib
import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_cost_infracost.parse import InfracostOutputError, parse_estimate, parse_report

# Shaped like infracost's golden outputs (cmd/infracost/testdata): a diff of two projects, a
# resource with sub-resources, a usage-based one without usage, nulls.
DOCUMENT: dict[str, Any] = {
    "version": "0.2",
    "currency": "USD",
    "projects": [
        {
            "name": "infra/web",
            "metadata": {"path": "plan.json", "type": "terraform_plan_json"},
            "pastBreakdown": {
                "resources": [
                    {
                        "name": "aws_instance.web",
                        "resourceType": "aws_instance",
                        "monthlyCost": "70.08",
                        "costComponents": [
                            {
                                "name": "Instance usage",
                                "unit": "hours",
                                "monthlyQuantity": "730",
                                "price": "0.096",
                                "monthlyCost": "70.08",
                            }
                        ],
                    },
                ],
                "totalHourlyCost": "0.096",
                "totalMonthlyCost": "70.08",
            },
            "breakdown": {
                "resources": [
                    {
                        "name": "aws_instance.web",
                        "resourceType": "aws_instance",
                        "metadata": {},
                        "hourlyCost": "0.2058",
                        "monthlyCost": "150.24",
                        "costComponents": [
                            {
                                "name": "Instance usage (Linux/UNIX, on-demand, m5.large)",
                                "unit": "hours",
                                "hourlyQuantity": "1",
                                "monthlyQuantity": "730",
                                "price": "0.192",
                                "hourlyCost": "0.192",
                                "monthlyCost": "140.16",
                            }
                        ],
                        "subresources": [
                            {
                                "name": "root_block_device",
                                "resourceType": "root_block_device",
                                "metadata": {},
                                "monthlyCost": "10.08",
                                "costComponents": [
                                    {
                                        "name": "Storage (general purpose SSD, gp2)",
                                        "unit": "GB",
                                        "monthlyQuantity": "100.8",
                                        "price": "0.1",
                                        "monthlyCost": "10.08",
                                    }
                                ],
                            }
                        ],
                    },
                    {
                        "name": "aws_lambda_function.api",
                        "resourceType": "aws_lambda_function",
                        "metadata": {},
                        "hourlyCost": None,
                        "monthlyCost": None,
                        "costComponents": [
                            {
                                "name": "Requests",
                                "unit": "1M requests",
                                "hourlyQuantity": None,
                                "monthlyQuantity": None,
                                "price": "0.2",
                                "hourlyCost": None,
                                "monthlyCost": None,
                                "usageBased": True,
                            },
                            {
                                "name": "Duration (first 6B)",
                                "unit": "GB-seconds",
                                "monthlyQuantity": None,
                                "price": "0.0000166667",
                                "monthlyCost": None,
                            },
                        ],
                    },
                ],
                "totalHourlyCost": "0.2058",
                "totalMonthlyCost": "150.24",
            },
            "diff": {
                "resources": [
                    {
                        "name": "aws_instance.web",
                        "resourceType": "aws_instance",
                        "monthlyCost": "80.16",
                        "costComponents": [],
                    }
                ],
                "totalMonthlyCost": "80.16",
            },
        },
        {
            "name": "infra/data",
            "metadata": {"path": "data/plan.json"},
            "pastBreakdown": {"resources": [], "totalMonthlyCost": "0"},
            "breakdown": {
                "resources": [
                    {
                        "name": "aws_db_instance.main",
                        "resourceType": "aws_db_instance",
                        "monthlyCost": "0.1",
                        "costComponents": [
                            {
                                "name": "Database instance",
                                "unit": "hours",
                                "monthlyQuantity": "1",
                                "price": "0.1",
                                "monthlyCost": "0.1",
                            }
                        ],
                    },
                    {
                        "name": "aws_s3_bucket.logs",
                        "resourceType": "aws_s3_bucket",
                        "monthlyCost": "0.2",
                        "costComponents": [
                            {
                                "name": "Storage",
                                "unit": "GB",
                                "monthlyQuantity": "1",
                                "price": "0.2",
                                "monthlyCost": "0.2",
                            }
                        ],
                    },
                ],
                "totalMonthlyCost": "0.3",
            },
            "diff": {"resources": [], "totalMonthlyCost": "0.3"},
        },
    ],
    "totalHourlyCost": None,
    "totalMonthlyCost": "150.54",
    "pastTotalMonthlyCost": "70.08",
    "diffTotalMonthlyCost": "80.46",
    "timeGenerated": "2026-01-01T00:00:00Z",
    "summary": {"totalDetectedResources": 4},
}


def test_golden_document() -> None:
    estimate = parse_estimate(json.dumps(DOCUMENT))
    # 0.1 + 0.2 is exactly 0.3 in Decimal (in float it is 0.30000000000000004).
    assert estimate.monthly == Decimal("150.54")
    assert estimate.previous == Decimal("70.08")
    assert estimate.delta == Decimal("80.46")
    assert estimate.unknown == ["infra/web:aws_lambda_function.api"]
    lines = {line.address: line for line in estimate.lines}
    web = lines["infra/web:aws_instance.web"]
    assert web.delta == Decimal("80.16") and web.previous == Decimal("70.08")
    assert [c.subresource for c in web.components] == ["", "root_block_device"]
    assert web.components[1].monthly_quantity == Decimal("100.8")
    fn = lines["infra/web:aws_lambda_function.api"]
    assert fn.monthly is None and fn.unknown and fn.delta is None
    assert all(c.monthly is None and c.usage_based for c in fn.components)
    assert lines["infra/data:aws_db_instance.main"].delta == Decimal("0.1")
    for line in estimate.lines:
        for value in (line.monthly, line.previous, line.delta):
            assert value is None or type(value) is Decimal


def test_money_never_goes_through_float() -> None:
    doc = copy.deepcopy(DOCUMENT)
    # A JSON number instead of a string: still read as an exact Decimal.
    doc["projects"][1]["breakdown"]["totalMonthlyCost"] = 0.3
    raw = json.dumps(doc).replace(
        '"totalMonthlyCost": 0.3', '"totalMonthlyCost": 0.30000000000000001'
    )
    report = parse_report(raw)
    assert report.projects[1].breakdown.total_monthly == Decimal("0.30000000000000001")


def test_several_currencies_are_kept_apart() -> None:
    doc = copy.deepcopy(DOCUMENT)
    doc["projects"][1]["currency"] = "EUR"
    estimate = parse_estimate(json.dumps(doc))
    assert estimate.currency == "USD" and estimate.monthly == Decimal("150.24")
    assert estimate.other_currencies == {"EUR": Decimal("0.3")}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.update(version="0.1"), "unsupported Infracost output version"),
        (lambda d: d.update(projects={}), r"\$.projects: expected a list"),
        (
            lambda d: d["projects"][0]["breakdown"]["resources"][0].update(monthlyCost="lots"),
            r"projects\[0\].breakdown.resources\[0\].monthlyCost: 'lots' is not a decimal",
        ),
        (
            lambda d: d["projects"][0]["breakdown"]["resources"][0].update(monthlyCost="NaN"),
            "not a finite number",
        ),
        (lambda d: d["projects"][0]["breakdown"]["resources"][0].pop("name"), "needs a name"),
        (lambda d: d["projects"][0].update(diff=[1]), "expected an object"),
    ],
)
def test_malformed_documents_name_the_path(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(DOCUMENT)
    mutate(doc)
    with pytest.raises(InfracostOutputError, match=message):
        parse_report(json.dumps(doc))


def test_not_json_and_deep_nesting() -> None:
    with pytest.raises(InfracostOutputError, match="malformed JSON"):
        parse_report(b'{"version": "0.2", "projects": [')
    sub: dict[str, Any] = {"name": "x"}
    deep = sub
    for _ in range(100):
        child: dict[str, Any] = {"name": "x"}
        deep["subresources"] = [child]
        deep = child
    doc = {"version": "0.2", "projects": [{"breakdown": {"resources": [sub]}}]}
    with pytest.raises(InfracostOutputError, match="nested deeper"):
        parse_report(json.dumps(doc))


# -- generated documents ------------------------------------------------------------------------

money = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**6), max_value=10**9, allow_nan=False, places=4).map(str),
)
component = st.fixed_dictionaries(
    {
        "name": st.text(max_size=20),
        "unit": st.text(max_size=8),
        "monthlyQuantity": money,
        "price": money,
        "monthlyCost": money,
    },
    optional={"usageBased": st.booleans(), "hourlyCost": money},
)
subresource = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=10),
        "resourceType": st.text(max_size=10),
        "monthlyCost": money,
        "costComponents": st.lists(component, max_size=3),
    }
)
resource = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=30),
        "resourceType": st.text(max_size=20),
        "monthlyCost": money,
        "costComponents": st.lists(component, max_size=3),
    },
    optional={"subresources": st.lists(subresource, max_size=2), "metadata": st.just({})},
)
breakdown = st.fixed_dictionaries(
    {"resources": st.lists(resource, max_size=4), "totalMonthlyCost": money}
)
project = st.fixed_dictionaries(
    {"name": st.text(max_size=10), "breakdown": breakdown},
    optional={"pastBreakdown": breakdown, "diff": breakdown, "metadata": st.just({})},
)
document = st.fixed_dictionaries(
    {
        "version": st.just("0.2"),
        "currency": st.sampled_from(["USD", "EUR"]),
        "projects": st.lists(project, max_size=3),
        "totalMonthlyCost": money,
    },
    optional={"pastTotalMonthlyCost": money, "diffTotalMonthlyCost": money},
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_generated_valid_documents_parse(doc: dict[str, Any]) -> None:
    estimate = parse_estimate(json.dumps(doc))
    assert estimate.monthly is not None
    for line in estimate.lines:
        if line.monthly is None:
            assert line.unknown
        for c in line.components:
            assert c.monthly is None or type(c.monthly) is Decimal
    estimate.model_dump_json()  # what the store writes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(document, st.data())
def test_mutated_documents_never_crash(doc: dict[str, Any], data: st.DataObject) -> None:
    paths = _paths(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        replacement = data.draw(json_values)
        if not path:
            doc = replacement
            break
        target: Any = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue
    try:
        text = json.dumps(doc)
    except ValueError:
        return
    try:
        parse_estimate(text)
    except InfracostOutputError as exc:
        assert exc.message


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    with contextlib.suppress(InfracostOutputError):
        parse_report(raw)


def test_components_are_kept_for_the_most_changed_and_the_unknown() -> None:
    resources = [
        {
            "name": f"r{i}",
            "monthlyCost": str(i),
            "costComponents": [{"name": "c", "monthlyCost": str(i)}],
        }
        for i in range(1, 41)
    ]
    resources.append({"name": "u", "monthlyCost": None, "costComponents": [{"name": "c"}]})
    doc = {"version": "0.2", "projects": [{"breakdown": {"resources": resources}}]}
    estimate = parse_estimate(json.dumps(doc), components_for=5)
    kept = {line.address for line in estimate.lines if line.components}
    assert kept == {"r40", "r39", "r38", "r37", "r36", "u"}
    assert estimate.monthly == sum(Decimal(i) for i in range(1, 41))
