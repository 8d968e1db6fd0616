"""A draft request: inputs validated and policy previewed exactly as a create would, nothing stored.

Used by the request assistant before it asks for confirmation, and by the MCP server's
``draft_request`` tool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpilot_core.catalog.ids import new_request_id
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_core.lifecycle.changes import validate_opt_outs
from tfpilot_core.masking import mask_keys
from tfpilot_core.models import Placement, PolicyFinding, PolicyLevel, Request
from tfpilot_core.rbac import Action

if TYPE_CHECKING:
    from tfpilot_core.lifecycle.kernel import SupportsKernel

__all__ = ["Draft", "draft_request"]


@dataclass
class Draft:
    """What a create would do: the normalised inputs (masked), the policy findings, and whether
    the actor may create it at all. ``problems`` non-empty means the inputs are invalid."""

    module: str
    environment: str
    project: str
    inputs: dict[str, Any] = field(default_factory=dict)
    findings: list[PolicyFinding] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)
    allowed: bool = False
    cost: str = "known after the first plan (tfpilot plan <id>)"
    #: The id the request gets if it is created from this draft (its resource names carry the
    #: id's suffix, so the preview shows the names the create stores): pass it to
    #: ``changes.create(request_id=...)``.
    request_id: str | None = None

    @property
    def valid(self) -> bool:
        """No validation problem."""
        return not self.problems

    @property
    def blocked(self) -> bool:
        """A blocking policy finding: a create would be refused."""
        return any(f.level is PolicyLevel.BLOCKING for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (sensitive inputs already masked)."""
        return {
            "request_id": self.request_id,
            "module": self.module,
            "environment": self.environment,
            "project": self.project,
            "inputs": self.inputs,
            "valid": self.valid,
            "problems": [
                {"field": p.field, "rule": p.rule, "message": p.message} for p in self.problems
            ],
            "policy": [f.model_dump(mode="json") for f in self.findings],
            "blocked_by_policy": self.blocked,
            "may_create": self.allowed,
            "cost": self.cost,
            "created": False,
        }


def draft_request(
    platform: SupportsKernel,
    actor: str,
    *,
    module: str,
    environment: str,
    project: str,
    inputs: Mapping[str, Any],
    opt_outs: Sequence[Mapping[str, Any]] = (),
) -> Draft:
    """Validate ``inputs`` for ``module`` and preview policy, as :meth:`Platform.create` would.

    Nothing is stored and no event is written. Unknown modules and environments raise (as a
    create would); invalid inputs and projects come back as :attr:`Draft.problems`.
    ``opt_outs`` (``{"rule_id", "justification"}`` each, as for a create) are checked by the
    create's own check (their problems name ``opt_outs[i]...``) and, when valid, the policy is
    previewed with them recorded, as the create would judge it.
    """
    from pydantic import ValidationError as PydanticValidationError

    env = platform.kernel.environment(environment)
    spec = platform.kernel.catalog.get(module)
    result = Draft(module=spec.name, environment=env.key, project=project)
    result.allowed = platform.kernel.access.may(
        actor, Action.CREATE, project=project, environment=env.key
    )
    try:
        placement = Placement(
            project=project, environment=env.key, module=spec.name, module_version=spec.version
        )
    except PydanticValidationError:
        result.problems.append(
            FieldProblem(
                "project",
                "pattern",
                "use 2-40 lowercase letters, digits and '-', starting with a letter",
            )
        )
        return result
    request_id = new_request_id(env.key, spec.name)
    result.request_id = request_id
    # The platform's own tag rule, so the preview shows the tags a create would store.
    tags = platform.kernel.server_tags(request_id, placement, actor)
    try:
        normalized = normalize_inputs(spec, dict(inputs), request_id=request_id, server_tags=tags)
    except ValidationError as exc:
        result.problems.extend(exc.problems)
        return result
    result.inputs = mask_keys(normalized, spec.sensitive_inputs)
    try:
        checked = validate_opt_outs(platform.kernel, actor, opt_outs)
    except ValidationError as exc:
        result.problems.extend(exc.problems)
        checked = []
    request = Request(
        id=request_id,
        placement=placement,
        inputs=normalized,
        created_by=actor,
        opt_outs=checked,
    )
    # The same engines and stage as a create: what is previewed is what create would judge.
    result.findings = platform.kernel.policy(request, "request")
    return result
