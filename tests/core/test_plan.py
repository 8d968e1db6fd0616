"""The plan model: real-shaped documents, hostile documents (hypothesis), and masking."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.plan import Action, Plan, PlanError

SECRET = "hunter2-very-secret"


def change(
    actions: list[str], before: Any = None, after: Any = None, **extra: Any
) -> dict[str, Any]:
    return {
        "address": extra.pop("address", "module.this.sandbox_bucket.this"),
        "module_address": "module.this",
        "mode": "managed",
        "type": "sandbox_bucket",
        "name": "this",
        "provider_name": "registry.terraform.io/tfpilot/sandbox",
        "change": {"actions": actions, "before": before, "after": after, **extra},
    }


PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.15.5",
    "variables": {"password": {"value": SECRET}, "name": {"value": "logs"}},
    "resource_changes": [
        change(["create"], None, {"name": "a"}, address="a.b"),
        change(
            ["update"],
            {"name": "b", "pw": SECRET},
            {"name": "c", "pw": SECRET},
            before_sensitive={"pw": True},
            after_sensitive={"pw": True},
            address="a.c",
        ),
        change(
            ["delete", "create"],
            {"name": "x"},
            {"name": "y"},
            replace_paths=[["name"]],
            address="a.d",
        ),
        change(["create", "delete"], {"name": "x"}, {"name": "y"}, address="a.e"),
        change(["delete"], {"name": "z"}, None, address="a.f"),
        change(["read"], None, {"x": 1}, address="data.a.g"),
        change(["no-op"], {"a": 1}, {"a": 1}, address="a.h"),
        change(["forget"], {"a": 1}, None, address="a.i"),
        # A module copying a sensitive input into an attribute Terraform does not mark:
        change(["create"], None, {"conn": f"user:{SECRET}@db"}, address="a.j"),
    ],
    "resource_drift": [change(["update"], {"public": False}, {"public": True}, address="a.c")],
    "output_changes": {
        "token": {"actions": ["create"], "before": None, "after": SECRET, "after_sensitive": True},
        "id": {"actions": ["create"], "before": None, "after": "b-1"},
    },
    "checks": [],
    "configuration": {"root_module": {}},
    "applyable": True,
    "complete": True,
    "errored": False,
}


def test_actions_and_counts() -> None:
    plan = Plan.parse(json.dumps(PLAN).encode())
    actions = [c.action for c in plan.resource_changes]
    assert actions == [
        Action.CREATE,
        Action.UPDATE,
        Action.REPLACE,
        Action.REPLACE,
        Action.DELETE,
        Action.READ,
        Action.NO_OP,
        Action.FORGET,
        Action.CREATE,
    ]
    assert plan.counts() == {
        Action.CREATE: 2,
        Action.UPDATE: 1,
        Action.REPLACE: 2,
        Action.DELETE: 1,
        Action.FORGET: 1,
    }
    assert [c.address for c in plan.resource_changes if c.destructive] == ["a.d", "a.e", "a.f"]
    assert plan.resource_changes[2].replace_paths == [["name"]]
    assert plan.drifted_addresses == ["a.c"] and plan.drifted_paths() == {"a.c": ["public"]}


def test_any_1x_format_is_accepted_and_other_majors_refused() -> None:
    assert Plan.parse({**PLAN, "format_version": "1.99", "new_key": {}}).format_version == "1.99"
    with pytest.raises(PlanError) as info:
        Plan.parse({**PLAN, "format_version": "2.0"})
    assert info.value.problems[0].field == "format_version"
    assert "not supported" in info.value.message


def test_masked_plan_hides_every_sensitive_value() -> None:
    masked = Plan.parse(PLAN).masked(sensitive_inputs=["password"])
    text = json.dumps(
        [[c.before, c.after] for c in masked.resource_changes + masked.resource_drift]
        + [[o.before, o.after] for o in masked.output_changes]
        + [masked.variables, dict(masked.raw)],
        default=str,
    )
    assert SECRET not in text
    assert masked.resource_changes[1].after["pw"] == "(sensitive)"
    assert masked.resource_changes[8].after["conn"] == "user:(sensitive)@db"
    assert masked.resource_changes[0].after == {"name": "a"}  # unmarked values untouched


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values)
def test_arbitrary_json_is_a_plan_or_a_clear_error(document: Any) -> None:
    try:
        Plan.parse(document if isinstance(document, dict) else json.dumps(document))
    except PlanError as exc:
        assert exc.problems and exc.problems[0].field


KEYS = [
    "format_version",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "variables",
    "configuration",
    "checks",
    "applyable",
    "prior_state",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_plans_are_a_plan_or_a_clear_error(data: st.DataObject) -> None:
    """Take a valid plan and replace one part (top level, a change, or a change's field)."""
    document = copy.deepcopy(PLAN)
    where = data.draw(st.sampled_from(["top", "change", "field"]))
    if where == "top":
        document[data.draw(st.sampled_from(KEYS))] = data.draw(json_values)
    elif where == "change":
        document["resource_changes"][data.draw(st.integers(0, 8))] = data.draw(json_values)
    else:
        target = document["resource_changes"][data.draw(st.integers(0, 8))]
        key = data.draw(
            st.sampled_from(["address", "type", "mode", "change", "module_address", "index"])
        )
        target[key] = data.draw(json_values)
        if data.draw(st.booleans()):
            target["change"] = {"actions": data.draw(json_values), "before": data.draw(json_values)}
    try:
        plan = Plan.parse(document)
        plan.masked(sensitive_inputs=["password"])
        plan.counts()
    except PlanError as exc:
        assert exc.problems[0].field


def test_not_json_is_a_clear_error() -> None:
    with pytest.raises(PlanError, match="not valid JSON"):
        Plan.parse(b"{not json")
    with pytest.raises(PlanError, match="must be a JSON object"):
        Plan.parse(b"[1, 2]")


def _parsed_or_problem(document: Any, **options: Any) -> Plan | str:
    try:
        plan = Plan.parse(document, **options)
    except PlanError as exc:
        return exc.problems[0].field
    return plan if options.get("masked") else plan.masked(sensitive_inputs=["password"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parsing_masked_in_one_pass_is_parsing_then_masking(data: st.DataObject) -> None:
    """``Plan.parse(masked=True)`` is ``Plan.parse().masked()``: the same plan, or the same
    error naming the same field (on valid plans and on plans with one part replaced)."""
    document = copy.deepcopy(PLAN)
    if data.draw(st.booleans()):
        target = document["resource_changes"][data.draw(st.integers(0, 8))]
        key = data.draw(st.sampled_from(["before", "after", "before_sensitive", "after_sensitive"]))
        target["change"][key] = data.draw(json_values)
    if data.draw(st.booleans()):
        document["resource_changes"][data.draw(st.integers(0, 8))] = data.draw(json_values)
    one_pass = _parsed_or_problem(document, masked=True, sensitive_inputs=["password"])
    assert one_pass == _parsed_or_problem(document)
    if isinstance(one_pass, Plan):
        assert SECRET not in json.dumps(
            [[c.before, c.after] for c in one_pass.resource_changes] + [dict(one_pass.raw)],
            default=str,
        )


def test_errors_name_the_change_and_field() -> None:
    """A bad change is named by its index and field, whichever check refuses it."""
    cases = [
        ("provider_name", 7, "resource_changes[3].provider_name"),
        ("mode", "weird", "resource_changes[3].mode"),
        ("change", [], "resource_changes[3].change"),
    ]
    for key, value, field in cases:
        document = copy.deepcopy(PLAN)
        document["resource_changes"][3][key] = value
        with pytest.raises(PlanError) as info:
            Plan.parse(document)
        assert info.value.problems[0].field == field
    document = copy.deepcopy(PLAN)
    document["resource_changes"][2]["change"]["actions"] = ["create", ["x"]]
    with pytest.raises(PlanError) as info:
        Plan.parse(document, masked=True)
    assert info.value.problems[0].field == "resource_changes[2].change.actions"
    document["resource_changes"][2]["change"]["actions"] = ["create", "create"]
    with pytest.raises(PlanError, match="unknown action combination"):
        Plan.parse(document)


def _reference_mask(value: Any, sensitive: Any) -> Any:
    """What masking means, written plainly (recursive): marked leaves become the mask."""
    if sensitive is True:
        return None if value is None else "(sensitive)"
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {
            k: _reference_mask(v, sensitive[k]) if sensitive.get(k) else v for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(sensitive, list):
        return [
            _reference_mask(v, sensitive[i]) if i < len(sensitive) and sensitive[i] else v
            for i, v in enumerate(value)
        ]
    return value


_keys = st.sampled_from(["a", "b", "c"])
_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=12,
)
_marks = st.recursive(
    st.booleans() | st.none(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(value=_values, sensitive=_marks)
def test_mask_is_the_plain_definition(value: Any, sensitive: Any) -> None:
    """The fast paths of ``mask`` (nothing marked, flat marks) agree with the definition, and
    the input is never changed."""
    from tfpilot_core.masking import mask

    before = copy.deepcopy(value)
    assert mask(value, sensitive) == _reference_mask(value, sensitive)
    assert value == before
