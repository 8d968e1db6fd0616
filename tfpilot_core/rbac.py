"""Who may do what: roles, environment allow-lists, and four eyes.

Checked by the core for every action (never only by a UI): :func:`authorize` raises
:class:`~tfpilot_core.errors.ForbiddenError` with the reason, naming the actor, role and rule.
"""

from __future__ import annotations

import enum

from tfpilot_core.errors import ForbiddenError
from tfpilot_core.models import Environment, Role


class Action(enum.StrEnum):
    """Actions on requests, each with the least role allowed to take it."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    PLAN = "plan"
    APPROVE = "approve"
    APPLY = "apply"
    DESTROY = "destroy"
    DRIFT_CHECK = "drift_check"
    PROMOTE = "promote"


#: The least role for each action; roles include every right of the roles below them.
MINIMUM_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.CREATE: Role.DEVELOPER,
    Action.UPDATE: Role.DEVELOPER,
    Action.PLAN: Role.DEVELOPER,
    Action.DRIFT_CHECK: Role.DEVELOPER,
    Action.PROMOTE: Role.DEVELOPER,
    Action.APPROVE: Role.APPROVER,
    Action.APPLY: Role.APPROVER,
    Action.DESTROY: Role.ADMIN,
}


def authorize(
    action: Action,
    *,
    actor: str,
    role: Role,
    environment: Environment,
    author: str | None = None,
    automatic: bool = False,
) -> None:
    """Raise :class:`ForbiddenError` unless ``actor`` (with ``role``) may take ``action``.

    :param author: the request's author, for four eyes on approvals in protected environments.
    :param automatic: an apply the environment runs by itself (``auto_apply``), which needs only
        the rights of whoever planned.
    """
    needed = MINIMUM_ROLE[action]
    if action is Action.APPLY and automatic and environment.auto_apply:
        needed = Role.DEVELOPER
    if role.rank < needed.rank:
        raise ForbiddenError(
            f"{actor} ({role.value}) may not {action.value}: needs role {needed.value} or higher"
        )
    if (
        action is not Action.READ
        and environment.allowed_actors
        and actor not in environment.allowed_actors
    ):
        raise ForbiddenError(
            f"{actor} may not {action.value} in {environment.key}: "
            f"not in the environment's allow-list"
        )
    if (
        action is Action.DESTROY
        and environment.destroy_allowed_actors
        and actor not in environment.destroy_allowed_actors
    ):
        raise ForbiddenError(
            f"{actor} may not destroy in {environment.key}: not in the destroy allow-list"
        )
    if (
        action is Action.APPROVE
        and environment.protected
        and author is not None
        and actor == author
    ):
        raise ForbiddenError(
            f"{actor} may not approve their own request in protected environment "
            f"{environment.key} (four eyes)"
        )
