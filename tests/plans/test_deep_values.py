"""Deep values: masking, drift paths, the policy index and the summariser never raise
RecursionError; whatever ``Plan.parse`` accepts, they read (or refuse with a PlanError)."""

from __future__ import annotations

import json
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.masking import changed_paths, mask, sensitive_strings
from tfpilot_core.models import Environment
from tfpilot_core.plan import Plan, PlanError
from tfpilot_core.summary_rules import summarize_plan
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings

DEV = Environment(key="dev", slug="development")


def nested(depth: int, leaf: Any, kind: str) -> Any:
    """A value ``depth`` containers deep (dicts, lists, or both alternating), built iteratively."""
    value = leaf
    for level in range(depth):
        use_list = kind == "list" or (kind == "mixed" and level % 2)
        value = [value] if use_list else {"k": value}
    return value


def plan_with(value: Any, marks: Any) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "sandbox_bucket.b",
                "mode": "managed",
                "type": "sandbox_bucket",
                "name": "b",
                "change": {
                    "actions": ["update"],
                    "before": {"deep": nested(3, "x", "dict")},
                    "after": {"deep": value, "name": "b"},
                    "after_sensitive": {"deep": marks},
                },
            }
        ],
        "resource_drift": [
            {
                "address": "sandbox_bucket.b",
                "mode": "managed",
                "type": "sandbox_bucket",
                "name": "b",
                "change": {"actions": ["update"], "before": {"deep": value}, "after": {}},
            }
        ],
    }


@settings(max_examples=25, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=3 * sys.getrecursionlimit()),
    kind=st.sampled_from(["dict", "list", "mixed"]),
    as_text=st.booleans(),
)
def test_deep_values_never_raise_recursion_error(depth: int, kind: str, as_text: bool) -> None:
    value = nested(depth, "secret-value-1", kind)
    marks = nested(depth, True, kind)
    document: Any = plan_with(value, marks)
    if as_text:
        try:
            document = json.dumps(document)
        except RecursionError:
            return  # the standard encoder's own limit: nothing to parse
    try:
        plan = Plan.parse(document)
    except PlanError as exc:
        assert "\n" not in exc.message
        return
    masked = plan.masked(sensitive_inputs=["x"])
    # Every string left in the masked value (read iteratively: repr would recurse).
    assert "secret-value-1" not in sensitive_strings(masked.resource_changes[0].after, True)
    paths = plan.drifted_paths()["sandbox_bucket.b"]
    assert paths and paths[0].startswith("deep")
    findings = BuiltinPolicyEngine(PolicySettings.model_validate({})).evaluate_plan(plan, DEV)
    assert isinstance(findings, list)
    text, _ = summarize_plan(make_request("req-1"), masked, SummaryContext(findings=findings))
    assert "sandbox_bucket.b" in text


def test_iterative_helpers_at_ten_times_the_recursion_limit() -> None:
    depth = 10 * sys.getrecursionlimit()
    value = nested(depth, "s3cr3t-value", "mixed")
    marks = nested(depth, True, "mixed")
    masked = mask(value, marks)
    leaf = masked
    for _ in range(depth):
        leaf = leaf[0] if isinstance(leaf, list) else leaf["k"]
    assert leaf == "(sensitive)"
    assert sensitive_strings(value, marks) == ["s3cr3t-value"]
    assert changed_paths({"a": value}, {"a": nested(depth, "other", "mixed")}) == ["a"]
    assert changed_paths(nested(depth, 1, "dict"), nested(depth, 2, "dict")) == [
        ".".join(["k"] * depth)
    ]
