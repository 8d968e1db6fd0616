"""Governance hardening: each class of bypass with the example that used to work.

Platform level, with the fake runner (the same checks through the CLI are in
``tests/core/test_cli_hardening.py``; with real Terraform in ``tests/e2e/test_sensitive.py``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.config import Grant, UserSettings, load_config
from tfpilot_core.errors import (
    ConfigError,
    ConflictError,
    ForbiddenError,
    ValidationError,
)
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.lifecycle.kernel import Kernel
from tfpilot_core.masking import MASK
from tfpilot_core.models import (
    Environment,
    PolicyFinding,
    PolicyLevel,
    RequestQuery,
    Role,
    RunKind,
)
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with

SECRET = "pl4nted-Secret-Value"


def _create(platform: Platform, actor: str = "dev", env: str = "prod", **inputs: Any) -> Any:
    return platform.create(
        actor,
        module="test/bucket",
        environment=env,
        project="shop",
        inputs={"name": "logs", **inputs},
    )


def _approve_and_apply(platform: Platform, request_id: str, approver: str = "appr") -> Any:
    platform.approve(approver, request_id)
    return platform.apply(approver, request_id)


# -- 1. four eyes binds to every author of the change --------------------------------------------


def test_an_approver_who_updated_someone_elses_request_cannot_approve_it(
    platform: Platform,
) -> None:
    request = _create(platform, "dev")
    # The old bypass: update someone else's prod request, plan it, approve it alone.
    platform.update("appr", request.id, {"tags": {"team": "mine"}})
    platform.plan("appr", request.id)
    with pytest.raises(ForbiddenError, match="changed it since its last apply"):
        platform.approve("appr", request.id)
    # Someone who authored nothing of it may.
    assert platform.status(platform.approve("anna", request.id)) is RequestStatus.APPROVED


def test_authors_before_the_last_apply_may_approve_later_changes(platform: Platform) -> None:
    request = _create(platform, "dev")
    platform.update("appr", request.id, {"tags": {"team": "a"}})
    platform.plan("dev", request.id)
    _approve_and_apply(platform, request.id, "anna")
    # anna changes it after the apply: appr's revision is history now, anna's is not.
    platform.update("anna", request.id, {"tags": {"team": "b"}})
    platform.plan("dev", request.id)
    with pytest.raises(ForbiddenError, match="four eyes"):
        platform.approve("anna", request.id)
    platform.approve("appr", request.id)


def test_the_promoter_is_an_author(platform: Platform) -> None:
    request = _create(platform, "dev", env="stage")
    platform.plan("dev", request.id)
    _approve_and_apply(platform, request.id)
    platform.check_drift("dev", request.id)  # never checked is not drift-free
    promoted = platform.promote("appr", request.id)
    assert promoted.placement.environment == "prod" and promoted.promoted_by == "appr"
    platform.plan("dev", promoted.id)
    with pytest.raises(ForbiddenError, match="four eyes"):
        platform.approve("appr", promoted.id)
    platform.approve("anna", promoted.id)


# -- 2. auto_apply stays inside policy -----------------------------------------------------------


@pytest.fixture
def auto_platform(platform: Platform, register_plugin: Callable[..., str]) -> Platform:
    """dev is auto_apply; a policy engine finds what the tags ask for."""

    class TagPolicy:
        def evaluate(self, subject: Any) -> list[PolicyFinding]:
            if subject.stage != "plan":
                return []
            level = subject.request.inputs.get("tags", {}).get("finding")
            if level is None:
                return []
            return [PolicyFinding(rule_id="test.rule", level=PolicyLevel(level), message="x")]

    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [Registration(name="tags", factory=lambda s, c: TagPolicy())],
        ),
        name="tag_policy",
    )
    platform.config.core.environments[0] = Environment(key="dev", auto_apply=True)
    return platform


@pytest.mark.parametrize("level", ["blocking", "mandatory"])
def test_auto_apply_never_applies_a_plan_that_needs_an_approver(
    auto_platform: Platform, level: str
) -> None:
    request = _create(auto_platform, "dev", env="dev", tags={"finding": level})
    auto_platform.plan("dev", request.id)
    with pytest.raises(ForbiddenError, match="auto_apply stays inside policy"):
        auto_platform.apply("dev", request.id)
    assert auto_platform.status(auto_platform.get(request.id)) is RequestStatus.PLAN_READY


def test_auto_apply_applies_a_clean_plan_for_the_planner(auto_platform: Platform) -> None:
    request = _create(auto_platform, "dev", env="dev", tags={"finding": "advisory"})
    auto_platform.plan("dev", request.id)
    applied = auto_platform.apply("dev", request.id)
    assert auto_platform.status(applied) is RequestStatus.APPLIED


def test_protected_and_auto_apply_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "tfpilot.toml"
    config.write_text(
        '[[core.environments]]\nkey = "dev"\n'
        '[[core.environments]]\nkey = "prod"\nprotected = true\nauto_apply = true\n'
    )
    with pytest.raises(ConfigError, match="'prod' is both protected and auto_apply") as info:
        load_config(config, environ={})
    assert info.value.key == "core.environments[1]"


# -- 3. reads are authorized and scoped ----------------------------------------------------------


def _scoped(platform: Platform) -> None:
    platform.config.users["scoped"] = UserSettings(
        grants=[Grant(role=Role.DEVELOPER, projects=["shop"], environments=["dev"])]
    )
    platform.config.users["shopper"] = UserSettings(
        role=Role.VIEWER, grants=[Grant(role=Role.APPROVER, projects=["shop"])]
    )


def test_list_and_reads_return_only_what_the_actor_may_read(platform: Platform) -> None:
    _scoped(platform)
    mine = _create(platform, "dev", env="dev")
    other = platform.create(
        "dev", module="test/bucket", environment="dev", project="bank", inputs={"name": "x"}
    )
    prod = _create(platform, "dev", env="prod")
    listed = [r.id for r in platform.list("scoped", RequestQuery()).items]
    assert listed == [mine.id]
    assert len(platform.list("viv", RequestQuery()).items) == 3  # a global viewer reads all
    for request in (other, prod):
        with pytest.raises(ForbiddenError, match="no role for project"):
            platform.read("scoped", request.id)
        with pytest.raises(ForbiddenError):
            platform.timeline("scoped", request.id)
        with pytest.raises(ForbiddenError):
            platform.audit("scoped", request.id)
    assert platform.read("scoped", mine.id).id == mine.id
    assert platform.timeline("scoped", mine.id)


def test_grants_raise_a_role_where_they_apply(platform: Platform) -> None:
    _scoped(platform)
    shop = _create(platform, "dev", env="stage")
    bank = platform.create(
        "dev", module="test/bucket", environment="stage", project="bank", inputs={"name": "x"}
    )
    platform.plan("dev", shop.id)
    platform.plan("dev", bank.id)
    platform.approve("shopper", shop.id)  # approver in shop
    with pytest.raises(ForbiddenError, match="needs role approver"):
        platform.approve("shopper", bank.id)  # only a viewer elsewhere
    assert platform.read("shopper", bank.id)
    assert platform.access.approvers_for(platform.get(bank.id)) == ["admin", "anna", "appr"]
    assert "shopper" in platform.access.approvers_for(platform.get(shop.id))
    # scoped may create only where the grant says.
    with pytest.raises(ForbiddenError, match="no role"):
        platform.create(
            "scoped", module="test/bucket", environment="prod", project="shop", inputs={}
        )


# -- 4. sensitive inputs are write-only ----------------------------------------------------------


def test_the_public_view_never_shows_a_sensitive_input(platform: Platform) -> None:
    request = _create(platform, "dev", password=SECRET)
    assert request.inputs["password"] == SECRET  # stored, for Terraform
    view = platform.view(request)
    assert view["inputs"]["password"] == MASK
    assert SECRET not in json.dumps(view)
    assert view["status"] == "request_created"
    platform.update("dev", request.id, {"password": SECRET + "2"})
    assert SECRET not in json.dumps(
        [e.model_dump(mode="json") for e in platform.timeline("viv", request.id)]
    )


# -- 5. data at rest is private ------------------------------------------------------------------


def test_the_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    from tfpilot_core.stores.sqlite import SQLiteStore

    old = os.umask(0o022)
    try:
        store = SQLiteStore(tmp_path / "home" / "tfpilot.db")
        store.put_record("ns", "k", {"a": 1}, expected_version=None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    for path in (tmp_path / "home").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- 6. limits on input --------------------------------------------------------------------------


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_deep_or_large_inputs_are_refused_naming_the_field(platform: Platform) -> None:
    with pytest.raises(ValidationError, match=r"inputs\.tags: nested more than 32") as info:
        _create(platform, "dev", tags={"deep": _nested(200)})
    assert info.value.problems[0].rule == "max_depth"
    with pytest.raises(ValidationError, match="max_value_bytes"):
        _create(platform, "dev", tags={"big": "x" * 70_000})
    assert platform.list("admin", RequestQuery()).items == []  # nothing half-written
    request = _create(platform, "dev")
    with pytest.raises(ValidationError, match="max_depth"):
        platform.update("dev", request.id, {"tags": {"deep": _nested(254)}})


def test_an_unreadable_document_never_breaks_list(platform: Platform) -> None:
    from tfpilot_core.stores.sqlite import StoreCorruptionError

    good = _create(platform, "dev")
    bad = _create(platform, "dev", env="dev")
    path = platform.store.wrapped.path if hasattr(platform.store, "wrapped") else None
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE requests SET document = ? WHERE id = ?", ('{"id": 1}', bad.id))
    page = platform.list("admin", RequestQuery())
    assert [r.id for r in page.items] == [good.id]
    assert page.unreadable == [bad.id]
    with pytest.raises(StoreCorruptionError, match=f"{bad.id}.*cannot be read") as info:
        platform.read("admin", bad.id)
    assert info.value.exit_code == 8


def test_a_project_that_is_not_an_identifier_is_a_validation_error(platform: Platform) -> None:
    with pytest.raises(ValidationError, match="project") as info:
        platform.create(
            "dev", module="test/bucket", environment="dev", project="../../x", inputs={}
        )
    assert info.value.exit_code == 3


# -- 7. no check-then-act races ------------------------------------------------------------------


def test_a_stalled_second_apply_gets_a_conflict_and_applied_stays_applied(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _create(platform, "dev", env="dev")
    platform.plan("dev", request.id)
    platform.approve("appr", request.id)
    # The second apply passes its first check, then stalls before taking the lock, while the
    # first one applies. Without a re-check under the lock it would apply the plan again.
    checked = threading.Event()
    release = threading.Event()
    real_lock = Kernel.lock
    stalled: dict[str, Any] = {}

    def slow_lock(self: Kernel, request_id: str, owner: str, purpose: str) -> Any:
        if threading.current_thread().name == "second":
            checked.set()
            release.wait(10)
        return real_lock(self, request_id, owner, purpose)

    monkeypatch.setattr(Kernel, "lock", slow_lock)

    def second() -> None:
        try:
            platform.apply("admin", request.id)
        except Exception as exc:
            stalled["error"] = exc

    thread = threading.Thread(target=second, name="second")
    thread.start()
    assert checked.wait(10)
    applied = platform.apply("appr", request.id)
    assert platform.status(applied) is RequestStatus.APPLIED
    release.set()
    thread.join(10)
    assert isinstance(stalled.get("error"), ConflictError)
    assert "changed while this action waited" in stalled["error"].message
    final = platform.get(request.id)
    assert platform.status(final) is RequestStatus.APPLIED
    assert len(final.attempts(RunKind.APPLY)) == 1


def test_a_second_apply_while_the_first_runs_is_locked_out(platform: Platform, runner: Any) -> None:
    request = _create(platform, "dev", env="dev")
    platform.plan("dev", request.id)
    platform.approve("appr", request.id)
    inside, release = threading.Event(), threading.Event()

    def stall() -> None:
        inside.set()
        release.wait(10)

    runner.stall = stall
    first = threading.Thread(target=lambda: platform.apply("appr", request.id))
    first.start()
    assert inside.wait(10)
    runner.stall = None
    with pytest.raises(ConflictError, match="busy"):
        platform.apply("admin", request.id)
    release.set()
    first.join(10)
    assert platform.status(platform.get(request.id)) is RequestStatus.APPLIED


# -- 8. destroy is a reviewed change -------------------------------------------------------------


def test_unprotected_destroy_with_yes_is_one_step(platform: Platform, runner: Any) -> None:
    request = _create(platform, "dev", env="dev")
    platform.plan("dev", request.id)
    _approve_and_apply(platform, request.id)
    planned = platform.destroy("admin", request.id)
    assert platform.status(planned) is RequestStatus.PLAN_READY  # without --yes: a plan only
    destroyed = platform.destroy("admin", request.id, yes=True)
    assert platform.status(destroyed) is RequestStatus.DESTROYED
    assert runner.calls[-2:] == ["destroy-plan", "apply"]


def test_protected_destroy_needs_someone_else_and_yes_does_not_skip_it(
    platform: Platform,
) -> None:
    request = _create(platform, "dev")
    platform.plan("dev", request.id)
    _approve_and_apply(platform, request.id)
    with pytest.raises(ValidationError, match="--yes cannot destroy in protected"):
        platform.destroy("admin", request.id, yes=True)  # --yes never skips review in prod
    planned = platform.destroy("admin", request.id)
    assert platform.status(planned) is RequestStatus.PLAN_READY
    with pytest.raises(ForbiddenError, match="asked for this destroy"):
        platform.approve("admin", request.id)


def test_a_runner_without_destroy_plans_keeps_working_where_no_review_is_needed(
    platform: Platform, runner: Any
) -> None:
    request = _create(platform, "dev", env="dev")
    platform.plan("dev", request.id)
    _approve_and_apply(platform, request.id)

    original = type(runner).plan

    def legacy_plan(self: Any, spec: Any, *, refresh_only: bool = False) -> Any:
        return original(self, spec, refresh_only=refresh_only)

    type(runner).plan = legacy_plan  # type: ignore[method-assign]
    try:
        with pytest.raises(ConfigError, match="cannot make destroy plans"):
            platform.destroy("admin", request.id)
        destroyed = platform.destroy("admin", request.id, yes=True)
    finally:
        type(runner).plan = original  # type: ignore[method-assign]
    assert platform.status(destroyed) is RequestStatus.DESTROYED
    assert runner.calls[-1] == "destroy"


# -- 10. tamper-evident history ------------------------------------------------------------------


def test_an_edited_or_deleted_event_breaks_the_chain(platform: Platform) -> None:
    request = _create(platform, "dev", env="dev")
    platform.plan("dev", request.id)
    report = platform.verify_audit("viv", request.id)
    assert report.ok and report.events >= 4 and report.head
    assert platform.audit("viv", request.id)["event_chain"]["head"] == report.head
    path = platform.store.wrapped.path
    with sqlite3.connect(path) as conn:
        # Someone with a SQL shell drops the append-only guard and rewrites history.
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("DROP TRIGGER events_append_only_delete")
        row = conn.execute(
            "SELECT document FROM events WHERE request_id = ? AND seq = 2", (request.id,)
        ).fetchone()
        doc = json.loads(row[0])
        doc["actor"] = "someone-else"
        conn.execute(
            "UPDATE events SET document = ? WHERE request_id = ? AND seq = 2",
            (json.dumps(doc), request.id),
        )
    edited = platform.verify_audit("viv", request.id)
    assert not edited.ok and edited.broken_at == 3
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM events WHERE request_id = ? AND seq = 3", (request.id,))
    deleted = platform.verify_audit("viv", request.id)
    assert not deleted.ok and deleted.broken_at == 3 and "missing" in (deleted.reason or "")
