"""What a suggestion is: a proposed patch on a request's inputs, and its checked effect."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.models import CostEstimate, Environment, PolicyFinding, Request

#: Why a suggestion is worth taking.
KINDS = ("safer", "cheaper")


@dataclass(frozen=True)
class Proposal:
    """What a suggester proposes, before tfpilot checks it.

    ``patch`` holds input values, merged over the request's inputs like an update. The core
    validates it against the module's schema and works out its effect; a suggester never claims
    an effect itself.
    """

    title: str
    rationale: str
    kind: str
    patch: Mapping[str, Any]


@dataclass(frozen=True)
class SuggestionContext:
    """What a suggester sees: the request, its module, its environment and what is known."""

    request: Request
    module: ModuleSpec
    environment: Environment
    #: The findings of the request as stored (request stage, and plan stage after a plan).
    findings: tuple[PolicyFinding, ...] = ()
    cost: CostEstimate | None = None

    @property
    def inputs(self) -> Mapping[str, Any]:
        """The request's current inputs."""
        return self.request.inputs


@runtime_checkable
class Suggester(Protocol):
    """Proposes patches for requests (built-in rules, plugins, a model). Errors are isolated."""

    @property
    def id(self) -> str:
        """Stable identifier: the suggestion id, unique across every suggester."""
        ...

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        """Proposals for ``ctx`` (none when nothing applies)."""
        ...


@dataclass(frozen=True)
class FindingRef:
    """One policy finding, as a suggestion's effect names it."""

    rule_id: str
    level: str
    address: str | None
    stage: str

    @classmethod
    def of(cls, finding: PolicyFinding) -> FindingRef:
        """The reference of ``finding``."""
        return cls(finding.rule_id, finding.level.value, finding.address, finding.stage)

    @property
    def key(self) -> tuple[str, str | None, str]:
        """What identifies the finding across evaluations (not its level: opt-outs change it)."""
        return (self.rule_id, self.address, self.stage)


@dataclass(frozen=True)
class CostEffect:
    """The monthly cost before and with the patch (a what-if plan priced by the estimator)."""

    currency: str
    before: Decimal | None
    after: Decimal | None
    estimator: str = ""

    @property
    def delta(self) -> Decimal | None:
        """The monthly change; ``None`` when either side is unknown."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass
class Suggestion:
    """A checked proposal: valid against the module schema, with its effect measured.

    ``clears`` are findings present now and absent with the patch (re-evaluated by the platform's
    policy engines on the patched inputs, and on a what-if plan of them after a plan);
    ``introduces`` are findings the patch would add. ``cost`` is set after a plan when the
    estimator could price the what-if plan; ``cost_note`` says why not otherwise.
    """

    id: str
    title: str
    rationale: str
    kind: str
    source: str
    patch: dict[str, Any]
    clears: list[FindingRef] = field(default_factory=list)
    introduces: list[FindingRef] = field(default_factory=list)
    cost: CostEffect | None = None
    cost_note: str = ""
    #: Opt-outs of the request that no finding would need any more with the patch.
    unused_opt_outs: list[str] = field(default_factory=list)

    def to_dict(self, *, masked_patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """JSON-ready form (``tfpilot suggest --json``)."""
        cost = None
        if self.cost is not None:
            delta = self.cost.delta
            cost = {
                "currency": self.cost.currency,
                "before": None if self.cost.before is None else str(self.cost.before),
                "after": None if self.cost.after is None else str(self.cost.after),
                "delta": None if delta is None else str(delta),
                "estimator": self.cost.estimator,
            }
        return {
            "id": self.id,
            "title": self.title,
            "rationale": self.rationale,
            "kind": self.kind,
            "source": self.source,
            "patch": dict(masked_patch if masked_patch is not None else self.patch),
            "clears": [vars(f) for f in self.clears],
            "introduces": [vars(f) for f in self.introduces],
            "cost": cost,
            "cost_note": self.cost_note,
            "unused_opt_outs": list(self.unused_opt_outs),
        }
