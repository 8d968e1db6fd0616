"""Promotion dev -> stage -> prod: the path, the gates, what is copied, what is reused, the chain.

``Platform.promote`` delegates here. A promotion makes a *new* request in the next environment of
the path (``[core.promotion] paths`` for the project, else the order of ``[core] environments``),
linked to its source both ways (``promoted_from`` / ``promoted_to``). It needs its own plan and
approval; four eyes counts whoever promoted it (``promoted_by``).

**Gates**, checked in this order; a refusal is a :class:`ForbiddenError` naming the gate:

``applied``
    the source's last apply succeeded and nothing has changed since (status ``applied``);
``drift_free``
    it has been checked for drift and its last check found none (never checked is refused);
``drift_check_age``
    with ``[core.promotion] max_drift_check_age_hours``, its last drift check is newer than that;
``soak``
    with ``[core.promotion] soak_hours``, it has been applied for at least that long;
``path``
    there is a next environment (and it is the one asked for with ``to``).

**What is copied**: the user's inputs only (names lose the source's suffix, server tags and
read-only inputs are set anew, opt-outs are not carried). The target environment's template
applies (its locked and non-overridable fields give way to it) and so does its policy.

**Reuse**, recorded on the target (``Request.promotion["reuse"]``): the module version pin (when
the module is unchanged since the source was planned), the request-stage policy evaluation (when
the inputs and the findings are identical), and the cost estimate, at plan time, when the plan's
resource changes match what the source's apply created (:func:`reusable_cost`).

Events: ``promoted`` on both requests; ``promotion_ready`` on the source once its soak time has
ended (:meth:`Promotions.announce_ready`, also checked whenever a promotion is tried).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tfpilot_core.catalog.ids import request_suffix
from tfpilot_core.catalog.validation import RESERVED_TAG_PREFIX, split_name
from tfpilot_core.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    TfpilotError,
)
from tfpilot_core.lifecycle import RequestStatus, changes
from tfpilot_core.masking import MASK
from tfpilot_core.models import Conclusion, CostEstimate, DriftResult, RequestQuery, RunKind
from tfpilot_core.rbac import Action
from tfpilot_core.stores.cas import update_request
from tfpilot_core.templates import Templates, apply, overridable

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import CostEstimate, Request
    from tfpilot_core.plan import Plan
    from tfpilot_core.templates import Template

#: Gate names, in the order they are checked.
GATES = ("applied", "drift_free", "drift_check_age", "soak", "path")


class GateRefused(ConflictError):
    """A promotion gate refused; ``gate`` names it (a state, not a permission: exit 8)."""

    def __init__(self, gate: str, message: str) -> None:
        super().__init__(f"promotion refused by gate {gate!r}: {message}")
        self.gate = gate


def _hours(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:.1f}h"


class Promotions:
    """Promotion over a platform (``Platform.promote`` is a thin delegate)."""

    def __init__(self, platform: SupportsKernel) -> None:
        self.kernel = platform.kernel
        self.settings = platform.kernel.config.core.promotion

    # -- the path -----------------------------------------------------------------------------

    def path(self, project: str) -> list[str]:
        """The environment path of ``project``: its explicit path, else the configured order."""
        keys = [e.key for e in self.kernel.config.core.environments]
        explicit = self.settings.paths.get(project)
        if explicit is None:
            return keys
        unknown = [k for k in explicit if k not in keys]
        if unknown or len(set(explicit)) != len(explicit):
            raise ConfigError(
                f"promotion path of project {project} names unknown or repeated environments "
                f"({', '.join(unknown) or 'repeated'}; configured: {', '.join(keys)})",
                key=f"core.promotion.paths.{project}",
            )
        return list(explicit)

    def _setting(self, table: Mapping[str, float], env: str) -> float | None:
        if env in table:
            return table[env]
        return table.get("*")

    # -- gates --------------------------------------------------------------------------------

    def gates(self, source: Request, to: str | None = None) -> list[dict[str, Any]]:
        """Each gate's verdict on promoting ``source`` (to ``to``): gate, ok and detail."""

        now = self.kernel.now()
        env = source.placement.environment
        status = self.kernel.status(source)
        results: list[dict[str, Any]] = []

        def add(gate: str, ok: bool, detail: str) -> None:
            results.append({"gate": gate, "ok": ok, "detail": detail})

        applied_at = _applied_at(source)
        if status is RequestStatus.APPLIED and applied_at is not None:
            add("applied", True, f"applied at {applied_at.isoformat()}")
        else:
            add(
                "applied",
                False,
                f"{source.id} is {status.value}: only applied requests can be promoted (its "
                "last apply succeeded and nothing changed since)",
            )
        drift = source.drift
        if drift is not None and drift.result is not DriftResult.NONE:
            addresses = ", ".join(drift.addresses) or "-"
            add(
                "drift_free",
                False,
                f"{source.id} has drift: its last drift check ({drift.checked_at.isoformat()}) "
                f"found {drift.result.value} ({addresses}); plan and apply it again, then check "
                "drift",
            )
        elif drift is None:
            # Never checked is not drift-free: nothing says the source matches its state.
            add(
                "drift_free",
                False,
                f"{source.id} was never checked for drift: run tfpilot drift check {source.id}",
            )
        else:
            add("drift_free", True, f"no drift found at {drift.checked_at.isoformat()}")
        max_age = self._setting(self.settings.max_drift_check_age_hours, env)
        if max_age is None:
            add("drift_check_age", True, "not required")
        elif drift is None:
            add(
                "drift_check_age",
                False,
                f"{source.id} was never checked for drift "
                f"(a check newer than {max_age:g}h is required in {env})",
            )
        elif now - drift.checked_at > timedelta(hours=max_age):
            add(
                "drift_check_age",
                False,
                f"{source.id}'s last drift check is {_hours(now - drift.checked_at)} old "
                f"(at most {max_age:g}h in {env}): run tfpilot drift check {source.id}",
            )
        else:
            add("drift_check_age", True, f"checked {_hours(now - drift.checked_at)} ago")
        soak = self._setting(self.settings.soak_hours, env)
        if soak is None:
            add("soak", True, "no soak time")
        elif applied_at is None:
            add("soak", False, f"{source.id} is not applied: its {soak:g}h soak has not begun")
        elif now - applied_at < timedelta(hours=soak):
            left = timedelta(hours=soak) - (now - applied_at)
            add(
                "soak",
                False,
                f"{source.id} has soaked {_hours(now - applied_at)} of {soak:g}h in {env} "
                f"({_hours(left)} left)",
            )
        else:
            add("soak", True, f"soaked {_hours(now - applied_at)} (at least {soak:g}h)")
        path = self.path(source.placement.project)
        route = " -> ".join(path)
        if env not in path:
            add(
                "path",
                False,
                f"{env} is not on the promotion path of {source.placement.project} ({route})",
            )
        elif path.index(env) + 1 >= len(path):
            add(
                "path",
                False,
                f"{env} is the last environment of the path ({route}): "
                "there is nowhere to promote to",
            )
        else:
            nxt = path[path.index(env) + 1]
            if to is not None and to != nxt:
                add(
                    "path",
                    False,
                    f"{to} is not the next environment after {env} on the path "
                    f"{route}: promote to {nxt}",
                )
            else:
                add("path", True, f"{env} -> {nxt} ({route})")
        return results

    def target(self, source: Request) -> str:
        """The next environment of the source's path (the ``path`` gate must pass)."""
        path = self.path(source.placement.project)
        return path[path.index(source.placement.environment) + 1]

    def _check(self, source: Request, to: str | None) -> None:
        for verdict in self.gates(source, to):
            if not verdict["ok"]:
                raise GateRefused(verdict["gate"], verdict["detail"])

    # -- what is copied -----------------------------------------------------------------------

    def user_inputs(self, source: Request, spec: ModuleSpec) -> dict[str, Any]:
        """The source's inputs as a user chose them: no suffix, no server tags, no read-only."""

        inputs: dict[str, Any] = {}
        for name, value in source.inputs.items():
            item = spec.inputs.get(name)
            if item is None or item.read_only:
                continue
            if name == spec.name_input and isinstance(value, str):
                value = split_name(value, source.id)
            if name == spec.tags_input and isinstance(value, dict):
                value = {
                    k: v for k, v in value.items() if not k.lower().startswith(RESERVED_TAG_PREFIX)
                }
            inputs[name] = value
        return inputs

    def target_template(self, source: Request, target: str) -> Template | None:
        """The template the target environment applies.

        The source's template when it is usable there (not retired, not pinned elsewhere);
        otherwise the one active template of the module pinned to the target environment (and
        the project, if pinned); none when there is none. Two candidates are a configuration
        problem an admin must solve (retire one).
        """

        templates = Templates(self.kernel)
        placement = source.placement
        if placement.template_id:
            try:
                record = templates.record(placement.template_id)
            except NotFoundError:
                record = None
            if (
                record is not None
                and not record.retired
                and record.current.environment in (None, target)
                and record.current.project in (None, placement.project)
            ):
                return record.current
        candidates = [
            r.current
            for r in templates.list(module=placement.module, environment=target)
            if r.current.environment == target and r.current.project in (None, placement.project)
        ]
        if len(candidates) > 1:
            names = ", ".join(c.name for c in candidates)
            raise ConfigError(
                f"several templates of {placement.module} are pinned to {target} ({names}): "
                "retire all but one so promotion knows which applies",
                key="templates",
            )
        return candidates[0] if candidates else None

    def plan_inputs(
        self, source: Request, target: str
    ) -> tuple[dict[str, Any], Template | None, list[str], ModuleSpec]:
        """The inputs to create the target with, its template, and what the template replaced."""

        spec = self.kernel.catalog.get(source.placement.module)
        inputs = self.user_inputs(source, spec)
        template = self.target_template(source, target)
        replaced: list[str] = []
        if template is not None:
            inputs, replaced = overridable(template, inputs)
        return inputs, template, replaced, spec

    # -- dry run ------------------------------------------------------------------------------

    def preview(self, actor: str, request_id: str, *, to: str | None = None) -> dict[str, Any]:
        """What a promotion would do, without doing it: gates, template and the input diff."""

        source = self.kernel.get(request_id)
        self.kernel.access.check(actor, Action.READ, source)
        self._announce(source)
        gates = self.gates(source, to)
        path_ok = next(g for g in gates if g["gate"] == "path")["ok"]
        result: dict[str, Any] = {
            "source": source.id,
            "from": source.placement.environment,
            "to": None,
            "path": self.path(source.placement.project),
            "gates": gates,
            "would_promote": all(g["ok"] for g in gates),
        }
        if not path_ok:
            return result
        target = to or self.target(source)
        inputs, template, replaced, spec = self.plan_inputs(source, target)
        final = apply(template, inputs) if template is not None else inputs
        before = self.user_inputs(source, spec)
        names = sorted(set(before) | set(final))
        sensitive = set(spec.sensitive_inputs)

        diff = []
        for name in names:
            old, new = before.get(name), final.get(name)
            row = {
                "input": name,
                "source": MASK if name in sensitive and old is not None else old,
                "target": MASK if name in sensitive and new is not None else new,
                "same": old == new,
            }
            if name in replaced:
                row["why"] = "set by the target environment's template"
            elif name not in final:
                row["why"] = "module default in the target"
            diff.append(row)
        result.update(
            {
                "to": target,
                "template": {"name": template.name, "version": template.version}
                if template
                else None,
                "inputs": diff,
                "module_version": {
                    "source": source.placement.module_version,
                    "target": spec.version,
                    "same": source.placement.module_version == spec.version,
                },
            }
        )
        return result

    # -- promote ------------------------------------------------------------------------------

    def promote(
        self,
        actor: str,
        request_id: str,
        *,
        to: str | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """Promote ``request_id`` to the next environment of its path (see the module docs)."""

        source = self.kernel.get(request_id)
        self.kernel.access.check(actor, Action.PROMOTE, source)
        self._announce(source)
        self._check(source, to)
        target = self.target(source)
        inputs, template, replaced, spec = self.plan_inputs(source, target)
        promoted = changes.create(
            self.kernel,
            actor,
            module=source.placement.module,
            environment=target,
            project=source.placement.project,
            inputs=inputs,
            template_id=template.name if template else None,
            idempotency_key=idempotency_key,
        )
        if promoted.promoted_from is not None:
            return promoted  # an idempotent replay: linked the first time
        reuse = self._reuse(source, promoted, spec)
        record = {
            "from": source.id,
            "from_environment": source.placement.environment,
            "by": actor,
            "template": {"name": template.name, "version": template.version} if template else None,
            "replaced_by_template": replaced,
            "reuse": reuse,
            "gates": [g["gate"] for g in self.gates(source, to) if g["ok"]],
        }

        def link(current: Request) -> Request:
            current.promoted_from = source.id
            current.promoted_by = actor
            current.promotion = record
            return current

        def back(current: Request) -> Request:
            if promoted.id not in current.promoted_to:
                current.promoted_to.append(promoted.id)
            return current

        promoted = update_request(self.kernel.store, promoted.id, link)
        source = update_request(self.kernel.store, source.id, back)
        reused = sorted(k for k, v in reuse.items() if v.get("reused"))
        self.kernel.emit(source, "promoted", actor, {"to": promoted.id, "environment": target})
        self.kernel.emit(
            promoted,
            "promoted",
            actor,
            {"from": source.id, "environment": source.placement.environment, "reused": reused},
        )
        return promoted

    def _reuse(self, source: Request, promoted: Request, spec: ModuleSpec) -> dict[str, Any]:
        """What the target reuses from the source, with the reason for anything it does not."""
        reuse: dict[str, Any] = {}
        plan = _applied_plan(source)
        pinned = plan.module_version if plan and plan.module_version else None
        if pinned == promoted.placement.module_version:
            reuse["module_version"] = {"reused": True, "version": pinned}
        else:
            reuse["module_version"] = {
                "reused": False,
                "version": promoted.placement.module_version,
                "reason": f"the module changed since the source's plan ({str(pinned)[:12]})",
            }
        same_inputs = self.user_inputs(source, spec) == self.user_inputs(promoted, spec)
        before = self._policy_in_force(source.placement.environment)
        after = self._policy_in_force(promoted.placement.environment)
        same_findings = _request_findings(source) == _request_findings(promoted)
        if not same_inputs:
            reuse["policy"] = {"reused": False, "reason": "the inputs differ"}
        elif before is None or after is None:
            reuse["policy"] = {
                "reused": False,
                "reason": "a policy engine cannot describe the policy in force",
            }
        elif before != after:
            reuse["policy"] = {
                "reused": False,
                "reason": f"the policy in force differs between {source.placement.environment} "
                f"and {promoted.placement.environment}",
            }
        elif not same_findings:  # identical inputs and policy: only a nondeterministic engine
            reuse["policy"] = {"reused": False, "reason": "the evaluation gave other findings"}
        else:
            reuse["policy"] = {
                "reused": True,
                "findings": len(_request_findings(promoted)),
                "detail": "identical inputs under an identical policy: the source's "
                "request-stage evaluation stands (the target's own evaluation confirmed it)",
            }
        reuse["cost"] = {"reused": False, "reason": "decided when the target is planned"}
        return reuse

    def _policy_in_force(self, environment: str) -> list[Any] | None:
        """What every selected policy engine says is in force in ``environment``.

        ``None`` when an engine cannot say (it has no ``effective_policy``): then nothing is
        claimed identical between two environments.
        """

        env = self.kernel.environment(environment)
        host = self.kernel.host
        described: list[Any] = []
        for name, engine in host.policy_engines():
            describe = getattr(engine, "effective_policy", None)
            if describe is None:
                return None
            policy = describe([env])
            described.append(
                (name, policy.get("environments", {}).get(env.key), policy.get("rules"))
            )
        return described

    # -- soak ---------------------------------------------------------------------------------

    def _announce(self, source: Request) -> bool:
        """Emit ``promotion_ready`` once per apply when the source's soak time has ended."""
        soak = self._setting(self.settings.soak_hours, source.placement.environment)
        applied = source.latest(RunKind.APPLY)
        applied_at = _applied_at(source)
        if soak is None or applied is None or applied_at is None:
            return False
        if self.kernel.now() - applied_at < timedelta(hours=soak):
            return False
        events = self.kernel.store.list_events(source.id)
        if any(e.type == "promotion_ready" and e.data.get("run") == applied.id for e in events):
            return False
        try:
            if self.gates(source)[-1]["ok"] is False:
                return False  # nowhere to promote to: nothing to announce
        except TfpilotError:
            return False
        self.kernel.emit(
            source,
            "promotion_ready",
            "system",
            {"run": applied.id, "soak_hours": soak, "to": self.target(source)},
        )
        return True

    def announce_ready(self, environment: str | None = None) -> list[str]:
        """Emit ``promotion_ready`` for every applied request whose soak time ended since."""
        announced: list[str] = []
        cursor: str | None = None
        while True:
            page = self.kernel.store.list_requests(
                RequestQuery(status="applied", environment=environment, limit=500, cursor=cursor)
            )
            for request in page.items:
                if self._announce(request):
                    announced.append(request.id)
            cursor = page.next_cursor
            if cursor is None:
                return announced

    # -- the chain ----------------------------------------------------------------------------

    def chain(self, request: Request, actor: str | None = None) -> list[dict[str, Any]]:
        """The promotion chain through ``request``, first environment first.

        Each step: request, environment, promoted_by, status, the applied (else current) plan's
        digest and its approvers. Steps ``actor`` may not read show only their id.
        """

        store = self.kernel.store
        first = request
        seen = {request.id}
        while first.promoted_from and first.promoted_from not in seen:
            try:
                first = store.get_request(first.promoted_from)
            except NotFoundError:
                break
            seen.add(first.id)
        steps: list[dict[str, Any]] = []
        current: Request | None = first
        visited: set[str] = set()
        while current is not None and current.id not in visited:
            visited.add(current.id)
            if actor is not None and not self.kernel.access.may(actor, Action.READ, current):
                steps.append({"request": current.id, "hidden": True})
            else:
                steps.append(_step(self.kernel, current))
            # The chain follows the newest promotion of each step.
            nxt = current.promoted_to[-1] if current.promoted_to else None
            try:
                current = store.get_request(nxt) if nxt else None
            except NotFoundError:
                current = None
        return steps


def _applied_at(request: Request) -> datetime | None:
    applied = request.latest(RunKind.APPLY)
    if applied is None or applied.conclusion is not Conclusion.SUCCESS:
        return None
    return applied.completed_at


def _applied_plan(request: Request) -> Any:
    applied = request.latest(RunKind.APPLY)
    if applied is None or applied.conclusion is not Conclusion.SUCCESS:
        return None
    for plan in request.attempts(RunKind.PLAN):
        if plan.plan_digest == applied.plan_digest:
            return plan
    return None


def _request_findings(request: Request) -> list[tuple[str, str, str | None]]:
    return sorted(
        (f.rule_id, f.level.value, f.address)
        for f in request.policy_findings
        if f.stage == "request"
    )


def _step(platform: SupportsKernel, request: Request) -> dict[str, Any]:
    applied = request.latest(RunKind.APPLY)
    plan = _applied_plan(request)
    if plan is None:
        plans = [p for p in request.attempts(RunKind.PLAN) if p.plan_digest]
        plan = plans[-1] if plans else None
    digest = plan.plan_digest if plan else None
    return {
        "request": request.id,
        "environment": request.placement.environment,
        "status": platform.kernel.status(request).value,
        "created_by": request.created_by,
        "promoted_by": request.promoted_by,
        "promoted_from": request.promoted_from,
        "template": request.placement.template_id,
        "template_version": request.placement.template_version,
        "module_version": request.placement.module_version,
        "plan_digest": digest,
        "applied": bool(applied and applied.conclusion is Conclusion.SUCCESS),
        "approvers": sorted({a.actor for a in request.approvals if a.plan_digest == digest}),
        "reused": sorted(
            k for k, v in ((request.promotion or {}).get("reuse") or {}).items() if v.get("reused")
        ),
    }


# -- cost reuse at plan time -------------------------------------------------------------------

_IGNORED_ATTRIBUTES = {"id", "arn"}


def reusable_cost(platform: SupportsKernel, request: Request, plan: Plan) -> CostEstimate | None:
    """The source's cost estimate, when ``plan`` creates exactly what the source's apply did.

    Only for a promoted request whose plan only creates resources; every resource change must
    match a resource of the source's applied state (same address and type, and every known
    attribute equal once the source's id and suffix are put in the target's place; server tags
    are ignored). Anything else gives ``None``: the estimator runs. Either way the decision is
    recorded on the request (``promotion["reuse"]["cost"]``).
    """
    if not request.promoted_from or request.promotion is None:
        return None

    estimate, decision = _matching_cost(platform, request, plan)

    def record(current: Request) -> Request:
        if current.promotion is not None:
            current.promotion.setdefault("reuse", {})["cost"] = decision
        return current

    update_request(platform.kernel.store, request.id, record)
    return estimate


def _matching_cost(
    platform: SupportsKernel, request: Request, plan: Plan
) -> tuple[CostEstimate | None, dict[str, Any]]:

    def no(reason: str) -> tuple[None, dict[str, Any]]:
        return None, {"reused": False, "reason": reason}

    assert request.promoted_from is not None
    try:
        source = platform.kernel.store.get_request(request.promoted_from)
        applied = _applied_plan(source)
        cost = applied.details.get("cost") if applied is not None else None
        if not cost:
            return no("the source's applied plan has no cost estimate")
        state = json.loads(platform.kernel.store.get_artifact(source.id, "state.tfstate"))
    except (TfpilotError, ValueError):
        return no("the source's applied state is not available")
    resources = _state_resources(state)
    changes = [c for c in plan.resource_changes if c.mode == "managed"]
    if not changes or {c.address for c in changes} != set(resources):
        return no("the plan's resources differ from what the source's apply created")
    swaps = _swaps(source, request)
    for change in changes:
        if tuple(change.actions) != ("create",):
            return no(f"{change.address} is not a plain create")
        kind, attributes = resources[change.address]
        if kind != change.type or not isinstance(change.after, dict):
            return no(f"{change.address} has another type")
        for key, value in change.after.items():
            if key in _IGNORED_ATTRIBUTES or value is None:
                continue
            if _normalize(attributes.get(key), swaps) != _normalize(value, {}):
                return no(f"{change.address}.{key} differs from the source's apply")
    estimate = _as_target_estimate(CostEstimate.model_validate(cost))
    return estimate, {
        "reused": True,
        "from": source.id,
        "plan_digest": applied.plan_digest if applied is not None else None,
        "monthly": str(estimate.monthly) if estimate.monthly is not None else None,
    }


#: The label a reused estimate's estimator carries (once, however long the chain).
REUSED = " (reused)"


def _as_target_estimate(source: CostEstimate) -> CostEstimate:
    """The source's prices against the target's own baseline.

    Only the monthly prices are the source's. The target's previous cost is its own state's,
    and every change is a plain create, so it had none of these resources: each line's and
    the total's previous cost is zero and the delta is the full monthly cost (a budget rule
    judges the target's own change, never the source's last delta against the source's
    state, which was zero for a source planned again after its first apply).
    """
    zero = Decimal(0)
    lines = [
        line.model_copy(update={"previous": zero, "delta": line.monthly}) for line in source.lines
    ]
    base = source.estimator
    while base.endswith(REUSED):  # a stage estimate reused for prod says "(reused)" once
        base = base[: -len(REUSED)]
    return source.model_copy(
        update={
            "previous": zero,
            "compared_to": None,
            "lines": lines,
            "estimator": f"{base}{REUSED}",
        }
    )


def _swaps(source: Request, target: Request) -> dict[str, str]:

    return {
        source.id: target.id,
        "-" + request_suffix(source.id): "-" + request_suffix(target.id),
    }


def _normalize(value: Any, swaps: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in swaps.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {
            k: _normalize(v, swaps)
            for k, v in value.items()
            if not (isinstance(k, str) and k.lower().startswith("tfpilot:"))
        }
    if isinstance(value, list):
        return [_normalize(v, swaps) for v in value]
    return value


def _state_resources(state: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Address -> (type, attributes) of every managed resource instance in a state file."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for resource in state.get("resources") or []:
        if resource.get("mode") != "managed":
            continue
        base = f"{resource['type']}.{resource['name']}"
        if resource.get("module"):
            base = f"{resource['module']}.{base}"
        for instance in resource.get("instances") or []:
            key = instance.get("index_key")
            address = base if key is None else f"{base}[{json.dumps(key)}]"
            found[address] = (resource["type"], instance.get("attributes") or {})
    return found


__all__ = ["GATES", "GateRefused", "Promotions", "reusable_cost"]
