"""The exportable plan document (``tfpilot plan export``): masked, scanner-shaped, re-readable."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tfpilot_core.plan import Plan
from tfpilot_core.plan_export import document

SECRET = "hunter2-s3cr3t"


def _plan(secret: str) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "variables": {"name": {"value": "shop"}, "password": {"value": secret}},
        "planned_values": {"root_module": {"resources": [{"values": {"token": secret}}]}},
        "prior_state": {"values": {"root_module": {"resources": [{"token": secret}]}}},
        "resource_changes": [
            {
                "address": "module.db.aws_db_instance.this",
                "module_address": "module.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "this",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"password": secret, "url": f"pg://app:{secret}@db", "size": 20},
                    "after_unknown": {"id": True},
                    "before_sensitive": False,
                    "after_sensitive": {"password": True},
                },
            },
            {
                "address": "module.db.module.replica.aws_db_instance.r[0]",
                "module_address": "module.db.module.replica",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "r",
                "index": 0,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["delete", "create"],
                    "before": {"size": 10},
                    "after": {"size": 20},
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                    "replace_paths": [["size"]],
                },
            },
        ],
        "output_changes": {
            "dsn": {
                "actions": ["create"],
                "before": None,
                "after": f"pg://{secret}",
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": True,
            }
        },
        "configuration": {"root_module": {}},
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def test_the_exported_document_is_masked_and_shaped_like_show_json() -> None:
    masked = Plan.parse(_plan(SECRET)).masked(sensitive_inputs=["password"])
    exported = document(masked, {"request_id": "req_dev_db_abc123", "plan_digest": "d" * 64})
    text = json.dumps(exported)
    assert SECRET not in text
    assert exported["tfpilot"]["plan_digest"] == "d" * 64
    assert "prior_state" not in exported
    changes = {c["address"]: c for c in exported["resource_changes"]}
    db = changes["module.db.aws_db_instance.this"]
    assert db["change"]["actions"] == ["create"] and db["module_address"] == "module.db"
    assert db["change"]["after"]["size"] == 20
    assert db["change"]["after_sensitive"] == {"password": True}
    replica = changes["module.db.module.replica.aws_db_instance.r[0]"]
    assert replica["change"]["replace_paths"] == [["size"]] and replica["index"] == 0
    # planned_values nested by module, as Terraform nests them.
    root = exported["planned_values"]["root_module"]
    (db_module,) = root["child_modules"]
    assert db_module["address"] == "module.db"
    assert [r["address"] for r in db_module["resources"]] == ["module.db.aws_db_instance.this"]
    (replica_module,) = db_module["child_modules"]
    assert replica_module["address"] == "module.db.module.replica"
    assert exported["output_changes"]["dsn"]["after_sensitive"] is True
    # Any reader of show -json reads it back: the same changes, counts and operations.
    again = Plan.parse(exported)
    assert again.counts() == masked.counts()
    assert [c.address for c in again.resource_changes] == [
        c.address for c in masked.resource_changes
    ]


_BASELINE = json.dumps(
    document(Plan.parse(_plan("\x00")).masked(sensitive_inputs=["password"])), ensure_ascii=False
)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=4))
def test_no_sensitive_input_value_is_ever_exported(secret: str) -> None:
    # A "secret" that the document's own words contain ("create", "true") proves nothing.
    assume(secret not in _BASELINE)
    masked = Plan.parse(_plan(secret)).masked(sensitive_inputs=["password"])
    exported = json.dumps(document(masked), ensure_ascii=False)
    assert secret not in exported
