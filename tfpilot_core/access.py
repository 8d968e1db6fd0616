"""The one answer to "may X do A on request R": roles, grants, allow-lists and four eyes.

Every caller asks here: the platform's actions and reads, listings and queries, notification
routing, the HTTP API and web UI, the MCP server. No caller filters or checks on its own, so a
rule changed here is changed everywhere.

A user's role for a request comes from the configuration (:meth:`Config.role_for`): the global
``role``, raised by any ``[[users.<name>.grants]]`` entry that covers the request's project and
environment. A user whose grants cover nothing here has no role here and may not even read;
neither may a user not under ``[users]`` unless ``[core] unknown_users`` names a role.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tfpilot_core.errors import ForbiddenError
from tfpilot_core.models import Role, RunKind
from tfpilot_core.rbac import Action, authorize

if TYPE_CHECKING:
    from tfpilot_core.config import Config
    from tfpilot_core.models import Environment, Request


class Access:
    """Access decisions over one configuration.

    ``check`` raises :class:`~tfpilot_core.errors.ForbiddenError` with the reason; ``may``
    answers the same question with a boolean.
    """

    def __init__(self, config: Config) -> None:
        self.config = config

    def role(self, actor: str, *, project: str, environment: str) -> Role | None:
        """The role ``actor`` holds for ``project`` in ``environment`` (``None``: no access)."""
        return self.config.role_for(actor, project=project, environment=environment)

    def check(
        self,
        actor: str,
        action: Action,
        request: Request | None = None,
        *,
        project: str | None = None,
        environment: str | None = None,
        automatic: bool = False,
    ) -> None:
        """Raise :class:`ForbiddenError` unless ``actor`` may take ``action``.

        Give the ``request`` for anything about an existing request; for a create, give the
        ``project`` and ``environment`` it would go to.

        :param automatic: an apply the environment runs by itself (``auto_apply``).
        """
        if request is not None:
            project = request.placement.project
            environment = request.placement.environment
        if project is None or environment is None:
            raise ValueError("check() needs a request, or a project and an environment")
        env = self.config.environment(environment)
        role = self.role(actor, project=project, environment=environment)
        if role is None:
            raise ForbiddenError(
                f"{actor} may not {action.value}: no role for project {project} in {env.key}"
            )
        authorize(
            action,
            actor=actor,
            role=role,
            environment=env,
            author=None,
            automatic=automatic,
        )
        if action is Action.APPROVE and request is not None and env.protected:
            _four_eyes(actor, request, env)

    def check_cancel(self, actor: str, request: Request, started_by: str) -> None:
        """Raise :class:`ForbiddenError` unless ``actor`` may cancel a run ``started_by`` started.

        Whoever started the run (still a developer or more here, inside the environment's
        allow-list), or an admin of the request's project and environment.
        """
        role = self.role(
            actor, project=request.placement.project, environment=request.placement.environment
        )
        if role is Role.ADMIN:
            self.check(actor, Action.READ, request)
            return
        if actor != started_by:
            raise ForbiddenError(
                f"{actor} may not cancel a run of {request.id}: only who started it "
                f"({started_by}) or an admin may"
            )
        self.check(actor, Action.PLAN, request)

    def may(
        self,
        actor: str,
        action: Action,
        request: Request | None = None,
        *,
        project: str | None = None,
        environment: str | None = None,
    ) -> bool:
        """Whether :meth:`check` would pass."""
        try:
            self.check(actor, action, request, project=project, environment=environment)
        except ForbiddenError:
            return False
        return True

    def readable(self, actor: str, requests: Iterable[Request]) -> list[Request]:
        """The requests among ``requests`` that ``actor`` may read, in the same order."""
        return [r for r in requests if self.may(actor, Action.READ, r)]

    def read_scope(self, actor: str) -> Scope:
        """Where ``actor`` may read: for listings that filter before loading every request."""
        user = self.config.users.get(actor)
        if user is None and self.config.role_for(actor, project="", environment="") is None:
            return Scope(everywhere=False, grants=())  # unknown users read nothing by default
        everywhere = user is None or user.role is not None or not user.grants
        if everywhere:
            return Scope(everywhere=True, grants=())
        assert user is not None
        return Scope(
            everywhere=False, grants=tuple((g.projects, g.environments) for g in user.grants)
        )

    def approvers_for(self, request: Request) -> list[str]:
        """Configured users who may approve ``request`` now (roles, allow-lists, four eyes)."""
        return sorted(u for u in self.config.users if self.may(u, Action.APPROVE, request))

    def environment(self, key: str) -> Environment:
        """The configured environment ``key``."""
        return self.config.environment(key)


class Scope:
    """Where a user may read: everywhere, or the (projects, environments) pairs of their grants.

    An empty list in a pair means every project (or environment).
    """

    def __init__(
        self, *, everywhere: bool, grants: tuple[tuple[list[str], list[str]], ...]
    ) -> None:
        self.everywhere = everywhere
        self.grants = grants

    def covers(self, project: str, environment: str) -> bool:
        """Whether the scope includes ``project`` in ``environment``."""
        if self.everywhere:
            return True
        return any(
            (not projects or project in projects) and (not envs or environment in envs)
            for projects, envs in self.grants
        )


def _asked_for_destroy(actor: str, request: Request) -> bool:

    plan = request.latest(RunKind.PLAN)
    return plan is not None and bool(plan.details.get("destroy")) and plan.actor == actor


def _four_eyes(actor: str, request: Request, env: Environment) -> None:
    # The approver must not be anyone whose change the plan carries: the creator, whoever
    # promoted the request here, or the author of any revision since the last successful apply.
    authors = request.change_authors()
    if actor in authors:
        if actor == request.created_by:
            why = "created the request"
        elif actor == request.promoted_by:
            why = "promoted it here"
        elif _asked_for_destroy(actor, request):
            why = "asked for this destroy"
        else:
            why = "changed it since its last apply"
        raise ForbiddenError(
            f"{actor} may not approve {request.id} in protected environment {env.key}: "
            f"they {why} (four eyes)"
        )
