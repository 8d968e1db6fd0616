"""The embedding API through a whole lifecycle, and its refusals (fake runner; unit level)."""

from __future__ import annotations

from typing import Any

import pytest

from tfpilot_core.errors import (
    ConfigError,
    ConflictError,
    ExternalToolError,
    ForbiddenError,
    LockedError,
    NotFoundError,
    ValidationError,
)
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import DriftResult, RunKind
from tfpilot_core.platform import Platform


def create(platform: Platform, actor: str = "dev", **inputs: Any) -> Any:
    return platform.create(
        actor,
        module="test/bucket",
        environment="prod",
        project="shop",
        inputs={"name": "logs", **inputs},
    )


def events(platform: Platform, request_id: str) -> list[str]:
    return [e.type for e in platform.timeline(request_id) if not e.type.startswith("notification_")]


def test_whole_lifecycle(platform: Platform, runner: Any) -> None:
    request = create(platform, actor="anna")
    assert platform.status(request) is RequestStatus.REQUEST_CREATED
    assert request.inputs["name"].startswith("logs-")
    assert request.inputs["tags"]["tfpilot:request_id"] == request.id

    request = platform.plan("dev", request.id)
    assert platform.status(request) is RequestStatus.PLAN_READY
    plan = request.latest(RunKind.PLAN)
    assert (
        plan is not None
        and plan.plan_digest
        and plan.module_version == request.placement.module_version
    )

    with pytest.raises(ForbiddenError, match="needs role approver"):
        platform.approve("dev", request.id)
    with pytest.raises(ForbiddenError, match="four eyes"):
        platform.approve("anna", request.id)  # an approver, but the author, in prod
    request = platform.approve("appr", request.id, plan_digest=plan.plan_digest)
    assert platform.status(request) is RequestStatus.APPROVED

    request = platform.apply("appr", request.id)
    assert platform.status(request) is RequestStatus.APPLIED
    apply = request.latest(RunKind.APPLY)
    assert apply is not None and apply.plan_digest == plan.plan_digest

    runner.drifted = True
    request = platform.check_drift("dev", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.DRIFTED
    assert request.drift.addresses == ["module.this.sandbox_bucket.this"]
    runner.drifted = False
    request = platform.check_drift("dev", request.id)
    assert request.drift is not None and request.drift.result is DriftResult.NONE

    with pytest.raises(ForbiddenError, match="needs role admin"):
        platform.destroy("appr", request.id)
    # A destroy is a reviewed change: a destroy plan, approved by someone else, then applied.
    request = platform.destroy("admin", request.id)
    assert platform.status(request) is RequestStatus.PLAN_READY
    destroy_plan = request.latest(RunKind.PLAN)
    assert destroy_plan is not None and destroy_plan.details["destroy"] is True
    with pytest.raises(ForbiddenError, match="asked for this destroy"):
        platform.approve("admin", request.id)
    request = platform.approve(
        "appr",
        request.id,
        plan_digest=destroy_plan.plan_digest,
        overrides=[
            {"rule_id": f.rule_id, "reason": "decommissioned"}
            for f in request.policy_findings
            if f.level.value == "mandatory"
        ],
    )
    with pytest.raises(ForbiddenError, match="needs role admin"):
        platform.apply("appr", request.id)  # applying a destroy plan is a destroy
    request = platform.apply("admin", request.id)
    assert platform.status(request) is RequestStatus.DESTROYED
    assert runner.calls == ["plan", "apply", "refresh", "refresh", "destroy-plan", "apply"]
    assert events(platform, request.id) == [
        "request_created",
        "plan_started",
        "plan_succeeded",
        "approval_required",
        "approved",
        "apply_started",
        "apply_succeeded",
        "drift_checked",
        "drift_detected",
        "drift_checked",
        "drift_cleared",
        "plan_started",
        "plan_succeeded",
        "approval_required",
        "approved",
        "destroy_started",
        "destroy_succeeded",
    ]
    audit = platform.audit("admin", request.id)
    [change] = audit["changes"]
    assert change["plan_digest"] == plan.plan_digest
    assert [a["actor"] for a in change["approvals"]] == ["appr"]
    assert audit == platform.audit("admin", request.id)  # deterministic
    assert audit["destroys"][0]["archived_state"]


def test_update_voids_plan_and_approval(platform: Platform) -> None:
    request = create(platform)
    request = platform.plan("dev", request.id)
    request = platform.approve("appr", request.id)
    assert platform.status(request) is RequestStatus.APPROVED
    request = platform.update("dev", request.id, {"tags": {"team": "web"}})
    assert request.revision == 2
    assert platform.status(request) is RequestStatus.REQUEST_CREATED
    with pytest.raises(ConflictError, match="no approved plan"):
        platform.apply("appr", request.id)
    with pytest.raises(ConflictError, match="no successful plan of revision 2"):
        platform.approve("appr", request.id)


def test_update_refuses_immutable_and_bad_inputs_together(platform: Platform) -> None:
    request = create(platform)
    with pytest.raises(ValidationError) as info:
        platform.update("dev", request.id, {"region": "local-2", "bogus": 1})
    rules = sorted(p.rule for p in info.value.problems)
    assert rules == ["immutable", "unknown_key"]
    assert platform.get(request.id).revision == 1  # nothing stored


def test_apply_refuses_a_tampered_plan(platform: Platform) -> None:
    request = create(platform)
    request = platform.plan("dev", request.id)
    request = platform.approve("appr", request.id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None
    platform.store.put_artifact(request.id, f"{plan.id}.tfplan", b"something else")
    with pytest.raises(ConflictError, match="tampered"):
        platform.apply("appr", request.id)


def test_approval_names_the_reviewed_plan(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    with pytest.raises(ConflictError, match="not the current plan"):
        platform.approve("appr", request.id, plan_digest="0" * 64)


def test_apply_refuses_a_changed_module(platform: Platform, module_dir: Any) -> None:
    request = platform.plan("dev", create(platform).id)
    platform.approve("appr", request.id)
    (module_dir / "main.tf").write_text("# changed\n")
    platform.kernel.forget_catalog()  # a new process would see the new module
    with pytest.raises(ConflictError, match="changed since the plan"):
        platform.apply("appr", request.id)


def test_failed_plan_and_apply_are_recorded(platform: Platform, runner: Any) -> None:
    request = create(platform)
    runner.fail_next = "plan"
    with pytest.raises(ExternalToolError, match="invalid region"):
        platform.plan("dev", request.id)
    request = platform.get(request.id)
    assert platform.status(request) is RequestStatus.FAILED
    request = platform.plan("dev", request.id)  # a retry from failed is allowed
    platform.approve("appr", request.id)
    runner.fail_next = "apply"
    with pytest.raises(ExternalToolError, match="name taken"):
        platform.apply("appr", request.id)
    request = platform.get(request.id)
    assert platform.status(request) is RequestStatus.FAILED
    # A retry needs a new plan: the failed apply's approval no longer leads to apply.
    with pytest.raises(ConflictError):
        platform.apply("appr", request.id)
    assert "apply_failed" in events(platform, request.id)


def test_lock_blocks_a_second_run(platform: Platform) -> None:
    request = create(platform)
    platform.kernel.lock(request.id, "someone", "plan")
    with pytest.raises(LockedError, match="busy"):
        platform.plan("dev", request.id)


def test_no_runner_configured(platform: Platform) -> None:
    platform.config.core.runner = "local-does-not-exist"
    request = create(platform)
    with pytest.raises(ConfigError, match="no runner configured"):
        platform.plan("dev", request.id)


def test_ids_from_outside_are_validated(platform: Platform) -> None:
    for bad in ("../etc/passwd", "req_dev_x/../../y", "has space", ""):
        with pytest.raises(ValidationError):
            platform.get(bad)
    with pytest.raises(NotFoundError):
        platform.get("req_dev_bucket_abcdef")


def test_idempotent_create_replays(platform: Platform) -> None:
    first = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "a"},
        idempotency_key="k-1",
    )
    again = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "a"},
        idempotency_key="k-1",
    )
    assert again.id == first.id
    assert len(platform.list().items) == 1
    with pytest.raises(ConflictError, match="different create"):
        platform.create(
            "dev",
            module="test/bucket",
            environment="dev",
            project="shop",
            inputs={"name": "b"},
            idempotency_key="k-1",
        )


def test_sensitive_inputs_are_masked_in_events(platform: Platform) -> None:
    request = create(platform, password="hunter2-secret")
    created = platform.timeline(request.id)[0]
    assert created.data["inputs"]["password"] == "(sensitive)"
    assert "hunter2-secret" not in str([e.model_dump() for e in platform.timeline(request.id)])


def test_notifications_are_recorded_as_events(platform: Platform, register_plugin: Any) -> None:
    from tfpilot_core.registrations import Registration
    from tfpilot_core.testing import plugin_with

    class Flaky:
        def notify(self, event: Any, request: Any) -> None:
            raise RuntimeError("smtp down")

    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [Registration(name="flaky", factory=lambda s, c: Flaky())],
        )
    )
    platform.host._registrations.clear()
    request = create(platform)
    types = [e.type for e in platform.timeline(request.id)]
    assert types == ["request_created", "notification_failed"]
    failed = platform.timeline(request.id)[1]
    assert failed.data["notifier"] == "flaky" and "smtp down" in failed.data["error"]


def test_promote_copies_user_inputs_to_the_next_environment(
    platform: Platform, runner: Any
) -> None:
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "tags": {"team": "a"}},
    )
    with pytest.raises(ConflictError, match="only applied requests can be promoted"):
        platform.promote("dev", request.id)
    platform.plan("dev", request.id)
    platform.approve("appr", request.id)
    platform.apply("appr", request.id)
    runner.drifted = True
    platform.check_drift("dev", request.id)
    with pytest.raises(ConflictError, match="has drift"):
        platform.promote("dev", request.id)
    runner.drifted = False
    platform.check_drift("dev", request.id)
    promoted = platform.promote("dev", request.id, idempotency_key="promote-1")
    assert promoted.placement.environment == "stage" and promoted.promoted_from == request.id
    assert promoted.inputs["name"] == f"logs-{promoted.id.rsplit('_', 1)[1]}"
    assert promoted.inputs["tags"]["team"] == "a"
    assert promoted.inputs["tags"]["tfpilot:request_id"] == promoted.id
    assert platform.status(promoted) is RequestStatus.REQUEST_CREATED
    again = platform.promote("dev", request.id, idempotency_key="promote-1")
    assert again.id == promoted.id
    assert "promoted" in events(platform, request.id) and "promoted" in events(
        platform, promoted.id
    )
    with pytest.raises(ForbiddenError, match="viewer"):
        platform.promote("viv", request.id)


def test_approval_accepts_the_shortened_digest_people_see(platform: Platform) -> None:
    request = platform.plan("dev", create(platform).id)
    plan = request.latest(RunKind.PLAN)
    assert plan is not None and plan.plan_digest
    with pytest.raises(ValidationError, match="at least 12 characters"):
        platform.approve("appr", request.id, plan_digest=plan.plan_digest[:8])
    with pytest.raises(ConflictError, match="not the current plan"):
        platform.approve("appr", request.id, plan_digest="f" * 12)
    approved = platform.approve("appr", request.id, plan_digest=plan.plan_digest[:12].upper())
    assert approved.approvals[-1].plan_digest == plan.plan_digest  # the full digest is recorded


def test_a_create_blocked_by_policy_stores_nothing_and_is_logged(
    platform: Platform, register_plugin: Any, log_capture: list[Any]
) -> None:
    from tfpilot_core.errors import PolicyBlockedError
    from tfpilot_core.models import PolicyFinding, PolicyLevel
    from tfpilot_core.registrations import Registration
    from tfpilot_core.testing import plugin_with

    class Strict:
        def evaluate(self, subject: Any) -> list[PolicyFinding]:
            return [PolicyFinding(rule_id="no.logs", level=PolicyLevel.BLOCKING, message="no logs")]

    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [Registration(name="strict", factory=lambda s, c: Strict())],
        )
    )
    platform.host._registrations.clear()
    with pytest.raises(PolicyBlockedError, match=r"no\.logs: no logs"):
        create(platform)
    assert platform.list().items == []
    refused = [e for e in log_capture if e["event"] == "policy_refused"]
    assert refused and refused[0]["rules"] == ["no.logs"]
