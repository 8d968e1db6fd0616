"""RBAC matrix: every action x role x environment, four eyes, allow-lists (checked in the core)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.errors import ConflictError, ForbiddenError
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import DEFAULT_ENVIRONMENTS, Environment, Role
from tfpilot_core.platform import Platform
from tfpilot_core.rbac import Action, authorize

# Written out by hand (not derived from the code under test): who may do what.
ALLOWED: dict[Action, set[Role]] = {
    Action.READ: {Role.VIEWER, Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.CREATE: {Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.UPDATE: {Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.PLAN: {Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.DRIFT_CHECK: {Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.PROMOTE: {Role.DEVELOPER, Role.APPROVER, Role.ADMIN},
    Action.APPROVE: {Role.APPROVER, Role.ADMIN},
    Action.APPLY: {Role.APPROVER, Role.ADMIN},
    Action.DESTROY: {Role.ADMIN},
}


@pytest.mark.parametrize(
    ("action", "role", "environment"),
    list(itertools.product(Action, Role, DEFAULT_ENVIRONMENTS)),
    ids=lambda v: getattr(v, "value", getattr(v, "key", str(v))),
)
def test_matrix(action: Action, role: Role, environment: Environment) -> None:
    # The actor is not the author, so four eyes never applies in this matrix.
    def call() -> None:
        authorize(action, actor="someone", role=role, environment=environment, author="author")

    if role in ALLOWED[action]:
        call()
    else:
        with pytest.raises(ForbiddenError, match=f"may not {action.value}"):
            call()


@pytest.mark.parametrize("environment", DEFAULT_ENVIRONMENTS, ids=lambda e: e.key)
@pytest.mark.parametrize("role", [Role.APPROVER, Role.ADMIN])
def test_four_eyes_only_in_protected_environments(environment: Environment, role: Role) -> None:
    def call() -> None:
        authorize(Action.APPROVE, actor="ann", role=role, environment=environment, author="ann")

    if environment.protected:
        with pytest.raises(ForbiddenError, match="four eyes"):
            call()
    else:
        call()


def test_allow_lists() -> None:
    prod = Environment(
        key="prod", protected=True, allowed_actors=["ops1"], destroy_allowed_actors=["root"]
    )
    with pytest.raises(ForbiddenError, match="allow-list"):
        authorize(Action.PLAN, actor="dev", role=Role.ADMIN, environment=prod)
    authorize(Action.READ, actor="dev", role=Role.VIEWER, environment=prod)
    with pytest.raises(ForbiddenError, match="destroy allow-list"):
        authorize(Action.DESTROY, actor="ops1", role=Role.ADMIN, environment=prod)


def test_auto_apply_environment_lets_the_planner_apply() -> None:
    auto = Environment(key="dev", auto_apply=True)
    authorize(Action.APPLY, actor="d", role=Role.DEVELOPER, environment=auto, automatic=True)
    with pytest.raises(ForbiddenError):
        authorize(
            Action.APPLY,
            actor="d",
            role=Role.DEVELOPER,
            environment=Environment(key="dev"),
            automatic=True,
        )


def test_platform_enforces_roles(platform: Platform) -> None:
    with pytest.raises(ForbiddenError, match="viv \\(viewer\\) may not create"):
        platform.create(
            "viv", module="test/bucket", environment="dev", project="shop", inputs={"name": "x"}
        )
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "x"}
    )
    with pytest.raises(ForbiddenError, match="viv \\(viewer\\) may not plan"):
        platform.plan("viv", request.id)
    with pytest.raises(ForbiddenError, match="may not update"):
        platform.update("viv", request.id, {"tags": {"a": "b"}})
    assert platform.get(request.id).revision == 1


def test_update_after_approval_voids_it(platform: Platform, runner: Any) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="stage", project="shop", inputs={"name": "x"}
    )
    platform.plan("dev", request.id)
    request = platform.approve("appr", request.id)
    assert platform.status(request) is RequestStatus.APPROVED
    request = platform.update("dana", request.id, {"tags": {"team": "b"}})
    assert platform.status(request) is RequestStatus.REQUEST_CREATED
    with pytest.raises(ConflictError):
        platform.apply("appr", request.id)
    assert "apply" not in runner.calls


# -- grants per project and environment, reads included (through the one access decision) ---------


def _access(grants: list[dict[str, Any]], role: Role | None = None) -> Any:
    from tfpilot_core.access import Access
    from tfpilot_core.config import Config, CoreSettings, Grant, UserSettings

    config = Config(
        core=CoreSettings(),
        users={"u": UserSettings(role=role, grants=[Grant(**g) for g in grants])},
        plugins={},
        home=Path("/nonexistent"),
    )
    return Access(config)


def _request(project: str, environment: str) -> Any:
    from tfpilot_core.models import Placement, Request

    return Request(
        id=f"req_{environment}_bucket_abcdef",
        placement=Placement(
            project=project, environment=environment, module="test/bucket", module_version="v"
        ),
        inputs={},
        created_by="author",
    )


GRANT_CASES = [
    # (grant, global role, where the request is, the role the user must end up with there)
    ({"role": "approver", "projects": ["shop"]}, None, ("shop", "prod"), Role.APPROVER),
    ({"role": "approver", "projects": ["shop"]}, None, ("bank", "prod"), None),
    ({"role": "developer", "environments": ["dev"]}, None, ("bank", "dev"), Role.DEVELOPER),
    ({"role": "developer", "environments": ["dev"]}, None, ("bank", "stage"), None),
    ({"role": "admin", "projects": ["shop"], "environments": ["dev"]}, None, ("shop", "dev"),
     Role.ADMIN),
    ({"role": "admin", "projects": ["shop"], "environments": ["dev"]}, None, ("shop", "prod"),
     None),
    ({"role": "approver", "projects": ["shop"]}, Role.VIEWER, ("bank", "dev"), Role.VIEWER),
    ({"role": "viewer", "projects": ["shop"]}, Role.DEVELOPER, ("shop", "dev"), Role.DEVELOPER),
]  # fmt: skip


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
@pytest.mark.parametrize(("grant", "role", "where", "effective"), GRANT_CASES)
def test_matrix_with_grants(
    action: Action, grant: dict[str, Any], role: Role | None, where: tuple[str, str],
    effective: Role | None,
) -> None:  # fmt: skip
    access = _access([grant], role)
    request = _request(*where)
    allowed = effective is not None and effective in ALLOWED[action]
    assert access.may("u", action, request) is allowed
    if action is Action.READ:
        assert access.readable("u", [request]) == ([request] if allowed else [])
        assert access.read_scope("u").covers(*where) is allowed
