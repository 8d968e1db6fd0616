"""The whole lifecycle with real Terraform: plan, apply, drift, update, destroy (both engines)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import DriftResult, RunKind
from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow


def test_lifecycle(
    engine: str, make_platform: Callable[..., Platform], sandbox_objects: Callable[..., Any]
) -> None:
    platform = make_platform(engine)
    objects = sandbox_objects(platform)
    request = platform.create(
        "alice", module="sandbox/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    name = request.inputs["name"]

    request = platform.plan("alice", request.id)
    assert platform.status(request) is RequestStatus.PLAN_READY
    assert request.summary is not None and "1 to create" in request.summary.text
    assert request.cost is not None and request.cost.monthly is not None
    request = platform.approve("bob", request.id)
    request = platform.apply("bob", request.id)
    assert platform.status(request) is RequestStatus.APPLIED
    bucket = objects.get("sandbox_bucket", name)
    assert bucket["public_access"] is False and bucket["encryption"] is True
    assert bucket["tags"]["tfpilot:request_id"] == request.id

    # Out of band: real drift, seen by a refresh-only plan.
    objects.update("sandbox_bucket", name, {"public_access": True})
    request = platform.check_drift("alice", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.DRIFTED
    assert request.drift.addresses == ["module.this.sandbox_bucket.this"]
    drift_run = request.latest(RunKind.DRIFT)
    assert drift_run is not None and drift_run.details["paths"] == {
        "module.this.sandbox_bucket.this": ["public_access"]
    }

    # Update: a new revision, planned, approved and applied, which also reverts the drift.
    request = platform.update(
        "alice", request.id, {"tags": {"team": "payments"}, "versioning": False}
    )
    assert request.revision == 2 and platform.status(request) is RequestStatus.APPLIED
    request = platform.plan("alice", request.id)
    assert request.summary is not None and "1 to update in place" in request.summary.text
    platform.approve("bob", request.id)
    request = platform.apply("bob", request.id)
    bucket = objects.get("sandbox_bucket", name)
    assert bucket["public_access"] is False and bucket["versioning"] is False
    assert bucket["tags"]["team"] == "payments"
    request = platform.check_drift("alice", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.NONE

    request = platform.destroy("carol", request.id, yes=True)
    assert platform.status(request) is RequestStatus.DESTROYED
    assert objects.get("sandbox_bucket", name) is None
    assert platform.store.get_artifact(request.id, "final-state.tfstate")
    types = [e.type for e in platform.timeline(request.id)]
    for expected in ("drift_detected", "drift_cleared", "request_updated", "destroy_succeeded"):
        assert expected in types
    audit = platform.audit(request.id)
    assert len(audit["changes"]) == 2
    assert all(c["approvals"] and c["plan_digest"] for c in audit["changes"])


def test_every_sandbox_type_through_the_platform(
    make_platform: Callable[..., Platform], sandbox_objects: Callable[..., Any]
) -> None:
    platform = make_platform()
    objects = sandbox_objects(platform)
    for module, type_name in (
        ("sandbox/queue", "sandbox_queue"),
        ("sandbox/instance", "sandbox_instance"),
    ):
        request = platform.create(
            "alice", module=module, environment="dev", project="shop", inputs={"name": "svc"}
        )
        platform.plan("alice", request.id)
        platform.approve("bob", request.id)
        request = platform.apply("bob", request.id)
        assert objects.get(type_name, request.inputs["name"]) is not None
        platform.destroy("carol", request.id, yes=True)
        assert objects.get(type_name, request.inputs["name"]) is None
