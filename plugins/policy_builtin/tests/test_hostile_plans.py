"""Malformed or hostile plan documents: a clear error naming the field, never a crash or a pass.

Two properties, with hypothesis:

* any JSON value at all either evaluates or fails with a :class:`ValidationError` (the plan
  error family), never another exception;
* a plan that violates the policy, with any one node replaced by a value of another JSON type,
  either fails with a ValidationError or still yields a blocking or mandatory finding: breaking
  the document can never make it pass.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.errors import ValidationError
from tfpilot_core.models import PolicyLevel
from tfpilot_core.plan import Plan
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings
from tfpilot_policy_builtin.testing import PlanBuilder

from .conftest import PROD

ENGINE = BuiltinPolicyEngine(PolicySettings(allowed_regions=["eu-west-1"], required_tags=["owner"]))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def bad_plan() -> dict[str, Any]:
    """Violations of several rules in a module, linked through the configuration."""
    plan = PlanBuilder(default_tags={"cost-center": "x"})
    plan.s3_bucket("acme-good", module='module.data["a"]', tags={"owner": "o"})
    plan.s3_bucket("acme-open", module='module.data["b"]', tags={"owner": "o"}, block=False)
    plan.resource("aws_ebs_volume", "v", {"encrypted": False, "tags": {"owner": "o"}}, index=0)
    plan.resource(
        "aws_sqs_queue", "q", {"name": "orders", "tags": {"owner": "o"}}, actions=("delete",),
        before={"name": "orders"},
    )  # fmt: skip
    return plan.build()


def evaluate(document: Any) -> list[Any]:
    return ENGINE.evaluate_plan(Plan.parse(document), PROD)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


BAD = bad_plan()
PATHS = list(paths(BAD))


def test_the_bad_plan_is_bad() -> None:
    levels = {f.level for f in evaluate(BAD)}
    assert PolicyLevel.BLOCKING in levels


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values)
def test_any_json_value_is_an_error_or_a_verdict(document: Any) -> None:
    try:
        evaluate(document)
    except ValidationError as exc:
        assert exc.message  # a clear message naming the field
    for wrapper in ({"format_version": "1.2", "resource_changes": [document]},
                    {"format_version": "1.2", "configuration": document},
                    {"format_version": "1.2", "resource_changes": document}):  # fmt: skip
        with contextlib.suppress(ValidationError):
            evaluate(wrapper)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values, text=st.booleans())
def test_a_broken_bad_plan_never_passes(path: tuple[Any, ...], value: Any, text: bool) -> None:
    original: Any = BAD
    for step in path:
        original = original[step]
    if json_type(value) == json_type(original):
        return  # same type: a different plan, not a broken one
    document = replaced(BAD, path, value)
    try:
        findings = evaluate(json.dumps(document) if text else document)
    except ValidationError as exc:
        assert "plan JSON" in exc.message or "problem" in exc.message
        return
    assert any(f.level is not PolicyLevel.ADVISORY for f in findings), (path, value)


#: One value of each JSON type, and empty and non-empty containers.
EVERY_TYPE: list[Any] = [None, True, 0, 1.5, "x", [], [1], {}, {"a": 1}]


def test_every_node_of_a_bad_plan_broken_in_every_way_never_passes() -> None:
    """Exhaustive over the nodes of the bad plan: each replaced by a value of each other type."""
    tried = 0
    for path in PATHS:
        original: Any = BAD
        for step in path:
            original = original[step]
        for value in EVERY_TYPE:
            if json_type(value) == json_type(original):
                continue
            tried += 1
            try:
                findings = evaluate(replaced(BAD, path, value))
            except ValidationError:
                continue
            assert any(f.level is not PolicyLevel.ADVISORY for f in findings), (path, value)
    assert tried > 1000


@pytest.mark.parametrize(
    "document",
    [
        b"{",
        b"[]",
        b'{"format_version": "2.0"}',
        b'{"format_version": "1.2", "resource_changes": {}}',
        b'{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", '
        b'"name": "b", "change": {"actions": ["create"], "after": "nope"}}]}',
        b'{"format_version": "1.2", "configuration": {"root_module": {"module_calls": {"m": 5}}}}',
        b'{"format_version": "1.2", "resource_changes": [{"address": "x.y", "type": "x", '
        b'"name": "y", "module_address": "not a module", "change": {"actions": ["create"], '
        b'"after": {}}}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["truncated", "array", "major-2", "changes-object", "after-string", "module-call-int",
         "bad-module-address", "deep-nesting"],
)  # fmt: skip
def test_malformed_documents_name_the_problem(document: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        evaluate(document)
    assert caught.value.problems[0].field
