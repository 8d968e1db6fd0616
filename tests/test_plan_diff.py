"""The structured plan diff (tfpilot_core.plan_diff): actions, attributes, masking, cost, paging."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tfpilot_core import plan_diff
from tfpilot_core.masking import MASK
from tfpilot_core.models import CostEstimate, CostLine, PolicyFinding, PolicyLevel
from tfpilot_core.plan import Plan


def _change(address: str, actions: list[str], before: Any, after: Any, **extra: Any) -> dict:
    kind, name = address.split(".")[-2:]
    change = {"actions": actions, "before": before, "after": after, **extra}
    return {"address": address, "type": kind, "name": name, "mode": "managed", "change": change}


def _plan(*changes: dict[str, Any], **doc: Any) -> Plan:
    return Plan.parse({"format_version": "1.2", "resource_changes": list(changes), **doc})


PLAN = _plan(
    _change(
        "sandbox_bucket.a",
        ["update"],
        {"name": "a", "versioning": True, "tags": {"env": "dev"}},
        {"name": "a", "versioning": False, "tags": {"env": "prod"}},
    ),
    {
        **_change(
            "sandbox_bucket.b",
            ["delete", "create"],
            {"name": "b", "region": "local-1", "id": "x1"},
            {"name": "b", "region": "local-2"},
            after_unknown={"id": True},
            replace_paths=[["region"]],
        ),
        "action_reason": "replace_because_cannot_update",
    },
    _change(
        "sandbox_db.c",
        ["create"],
        None,
        {"password": "hunter2hunter2", "size": 2},
        after_sensitive={"password": True},
    ),
    _change("sandbox_bucket.d", ["no-op"], {"name": "d"}, {"name": "d"}),
    {
        **_change("sandbox_bucket.e", ["no-op"], {"name": "e"}, {"name": "e"}),
        "previous_address": "sandbox_bucket.old",
    },
)


def _by_address(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in resources}


def test_update_shows_only_changed_leaves_before_and_after() -> None:
    found = _by_address(plan_diff.changes(PLAN.masked()))
    update = found["sandbox_bucket.a"]
    assert update["action"] == "update"
    rows = {a["path"]: (a["before"], a["after"]) for a in update["attributes"]}
    assert rows == {"tags.env": ("dev", "prod"), "versioning": (True, False)}


def test_replace_carries_its_reason_unknown_values_and_forcing_attribute() -> None:
    replace = _by_address(plan_diff.changes(PLAN.masked()))["sandbox_bucket.b"]
    assert replace["action"] == "replace"
    assert replace["reason"] == "an attribute that forces replacement changed"
    rows = {a["path"]: a for a in replace["attributes"]}
    assert rows["region"]["forces_replacement"] and rows["region"]["after"] == "local-2"
    assert rows["id"]["unknown"] and rows["id"]["after"] is None and rows["id"]["before"] == "x1"
    assert "name" not in rows  # unchanged


def test_sensitive_values_are_the_masked_plans_mask_never_the_value() -> None:
    resources = plan_diff.changes(PLAN.masked())
    create = _by_address(resources)["sandbox_db.c"]
    password = next(a for a in create["attributes"] if a["path"] == "password")
    assert password["sensitive"] and password["after"] == MASK
    assert "hunter2" not in json.dumps(resources)
    assert "hunter2" not in plan_diff.markdown(plan_diff.build(resources))


def test_no_op_left_out_unless_it_moves_or_imports() -> None:
    found = _by_address(plan_diff.changes(PLAN.masked()))
    assert "sandbox_bucket.d" not in found
    moved = found["sandbox_bucket.e"]
    assert moved["operations"] == ["move"] and moved["previous_address"] == "sandbox_bucket.old"


def test_build_joins_findings_and_cost_with_deltas_and_unknowns() -> None:
    findings = [
        PolicyFinding(
            rule_id="bucket.versioning",
            level=PolicyLevel.MANDATORY,
            message="`versioning` is off",
            address="sandbox_bucket.a",
        ),
        PolicyFinding(rule_id="req.tag", level=PolicyLevel.ADVISORY, message="no owner tag"),
    ]
    cost = CostEstimate(
        monthly=Decimal("12.50"),
        previous=Decimal("10"),
        lines=[
            CostLine(
                address="sandbox_bucket.a",
                resource_type="sandbox_bucket",
                monthly=Decimal("7.5"),
                previous=Decimal("10"),
            ),
            CostLine(
                address="sandbox_bucket.b",
                resource_type="sandbox_bucket",
                monthly=None,
                unknown=True,
            ),
        ],
        unknown=["sandbox_bucket.b"],
    )
    document = plan_diff.build(plan_diff.changes(PLAN.masked()), findings=findings, cost=cost)
    found = _by_address(document["resources"])
    assert found["sandbox_bucket.a"]["findings"][0]["attribute"] == "versioning"
    assert found["sandbox_bucket.a"]["cost"] == {
        "monthly": "7.50",
        "previous": "10.00",
        "delta": "-2.50",
        "unknown": False,
    }
    assert (
        found["sandbox_bucket.b"]["cost"]["unknown"]
        and found["sandbox_bucket.b"]["cost"]["delta"] is None
    )
    assert document["cost"]["delta"] == "2.50" and document["cost"]["unknown"] == [
        "sandbox_bucket.b"
    ]
    assert document["findings"][0]["rule_id"] == "req.tag"  # request-level findings
    assert document["counts"] == {"update": 1, "replace": 1, "create": 1, "move": 1}


def test_build_pages_and_counts_the_whole_plan() -> None:
    changes = [_change(f"sandbox_bucket.b{i}", ["create"], None, {"n": i}) for i in range(30)]
    resources = plan_diff.changes(_plan(*changes).masked())
    document = plan_diff.build(resources, offset=10, limit=5)
    assert [r["address"] for r in document["resources"]] == [
        f"sandbox_bucket.b{i}" for i in range(10, 15)
    ]
    assert document["total"] == 30 and document["counts"] == {"create": 30}


def test_markdown_escapes_html_from_the_plan() -> None:
    evil = _plan(_change("sandbox_bucket.x", ["create"], None, {"name": "<script>|x"}))
    text = plan_diff.markdown(plan_diff.build(plan_diff.changes(evil.masked())))
    assert "<script>" not in text and "&lt;script&gt;" in text and "<details>" in text


def test_record_and_load_round_trip(tmp_path: Any) -> None:
    from tfpilot_core.stores.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "db.sqlite")
    digest = "a" * 64
    assert plan_diff.load(store, "req_dev_x", digest) is None
    plan_diff.record(store, "req_dev_x", digest, PLAN.masked())
    assert plan_diff.load(store, "req_dev_x", digest) == json.loads(
        json.dumps(plan_diff.changes(PLAN.masked()))
    )


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    before=st.dictionaries(st.text(min_size=1, max_size=5), json_value, max_size=4),
    after=st.dictionaries(st.text(min_size=1, max_size=5), json_value, max_size=4),
    secret=st.text(min_size=6, max_size=12).filter(lambda s: s.strip() == s and '"' not in s),
)
def test_any_values_diff_without_error_and_never_show_a_marked_value(
    before: dict[str, Any], after: dict[str, Any], secret: str
) -> None:
    after = {**after, "zz_secret": secret}
    plan = _plan(
        _change("sandbox_x.y", ["update"], before, after, after_sensitive={"zz_secret": True})
    )
    resources = plan_diff.changes(plan.masked())
    document = plan_diff.build(resources)
    # Any value shown (never a key of the document's own shape, such as "replace_paths").
    shown = [
        json.dumps([a["before"], a["after"]], ensure_ascii=False)
        for resource in document["resources"]
        for a in resource["attributes"]
    ]
    assert not any(secret in text for text in shown) or secret in json.dumps(
        before, ensure_ascii=False
    )
    plan_diff.markdown(document)


class _PlanRunner:
    """A runner returning a fixed plan (success or failure)."""

    def __init__(self, success: bool) -> None:
        self.success = success

    def plan(self, spec: Any, *, refresh_only: bool = False, destroy: bool = False) -> Any:
        from tfpilot_core.interfaces import RunResult

        document = {
            "format_version": "1.2",
            "variables": {"password": {"value": "hunter2hunter2"}},
            "resource_changes": [
                _change("sandbox_db.c", ["create"], None, {"conn": "u:hunter2hunter2@h"})
            ],
        }
        return RunResult(
            success=self.success, plan_json=document, plan_file=b"PLAN-" + bytes(refresh_only)
        )


def test_a_finding_sits_beside_the_attribute_its_engine_names() -> None:
    findings = [
        PolicyFinding(
            rule_id="public_access.blocked",
            level=PolicyLevel.BLOCKING,
            message="public_access is on",  # no attribute named in the words
            address="sandbox_bucket.a",
            attribute="public_access",
        )
    ]
    document = plan_diff.build(plan_diff.changes(PLAN.masked()), findings=findings)
    found = _by_address(document["resources"])
    assert found["sandbox_bucket.a"]["findings"][0]["attribute"] == "public_access"


def test_a_changed_sensitive_attribute_shows_as_changed_and_stays_masked() -> None:
    document = {
        "format_version": "1.2",
        "resource_changes": [
            _change(
                "sandbox_db.r",
                ["update"],
                {"password": "old-secret-1", "token": "same-token-1", "size": 2},
                {"password": "new-secret-2", "token": "same-token-1", "size": 3},
                before_sensitive={"password": True, "token": True},
                after_sensitive={"password": True, "token": True},
            )
        ],
    }
    # Masking notes which sensitive attributes change (paths only), in one pass or two.
    for masked in (Plan.parse(document, masked=True), Plan.parse(document).masked()):
        assert masked.resource_changes[0].sensitive_changed == {"password"}
        rows = {a["path"]: a for a in plan_diff.changes(masked)[0]["attributes"]}
        assert rows["password"]["sensitive"]
        assert rows["password"]["before"] == rows["password"]["after"] == MASK
        assert "token" not in rows  # sensitive, unchanged: not part of the diff
        assert set(rows) == {"password", "size"}
        dumped = json.dumps(plan_diff.changes(masked))
        assert "secret" not in dumped and "same-token" not in dumped


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b"]))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=12,
)
_MARKS = st.recursive(
    st.booleans(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from("xyz"), _VALUES, max_size=3),
    st.dictionaries(st.sampled_from("xyz"), _VALUES, max_size=3),
    st.dictionaries(st.sampled_from("xyz"), _MARKS, max_size=3),
    st.dictionaries(st.sampled_from("xyz"), _MARKS, max_size=3),
)
def test_sensitive_changed_walks_the_marks_as_a_full_comparison_would(
    before: dict[str, Any], after: dict[str, Any], marks_before: Any, marks_after: Any
) -> None:
    from tfpilot_core.masking import covered, leaves, marked_paths, sensitive_changed

    # The obvious definition: every leaf under a mark whose value differs.
    marked = marked_paths(marks_before) | marked_paths(marks_after)
    old, new = leaves(before), leaves(after)
    expected = {
        p for p in old.keys() | new.keys() if covered(p, marked) and old.get(p) != new.get(p)
    }
    found = sensitive_changed(before, after, marks_before, marks_after)
    assert found == expected
