"""Computing, checking and applying suggestions (``platform.suggestions``).

Every proposal, from the built-in rules, a plugin or a model, passes the same checks before it
is shown:

1. **schema**: the patch is validated with
   :func:`~tfpilot_core.catalog.validation.normalize_inputs` over the current inputs, as an update
   would be (unknown keys, types, allowlists, read-only and immutable inputs); sensitive inputs
   are never patched (no suggester sees their values); a patch that changes nothing is dropped;
2. **policy**: the platform's policy engines judge the patched inputs; ``clears`` and
   ``introduces`` compare them with the current inputs, judged the same way now. A proposal that
   leaves a finding on an input it patches (it claims to fix it, and does not) or that introduces
   a blocking finding is rejected, with the reason;
3. **cost and plan-stage policy, after a plan**: with the local runner, the current and the
   patched inputs are planned *what-if* in scratch working directories (never the request's own,
   no state, nothing stored), masked, priced by the configured estimators and judged by the
   plan-stage policy. Both sides are planned the same way, so the difference is the patch's.

Nothing is applied without a person: :meth:`Suggestions.apply` is an ordinary update (a new
revision, re-validated, earlier plans and approvals voided), then a plan if the request had one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpilot_core.catalog.ids import new_request_id
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import NotFoundError, PluginError, TfpilotError, ValidationError
from tfpilot_core.interfaces import PolicyInput, RunSpec
from tfpilot_core.lifecycle import changes, planning, reads
from tfpilot_core.log import get_logger
from tfpilot_core.masking import scrub_text, sensitive_strings
from tfpilot_core.models import RunKind
from tfpilot_core.plan import Plan
from tfpilot_core.rbac import Action
from tfpilot_core.suggestions.model import (
    KINDS,
    CostEffect,
    FindingRef,
    Proposal,
    Suggester,
    Suggestion,
    SuggestionContext,
)
from tfpilot_core.suggestions.rules import builtin_suggesters

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import ModuleSpec
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import CostEstimate, Environment, PolicyFinding, Request
    from tfpilot_core.plugins import PluginHost

log = get_logger("tfpilot.suggestions")


@dataclass
class Rejected:
    """A proposal that failed a check, and which."""

    id: str
    source: str
    reason: str


@dataclass
class SuggestionReport:
    """The suggestions for one revision of a request, and the proposals that were refused."""

    request_id: str
    revision: int
    suggestions: list[Suggestion] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    #: Opt-outs of the request that no current finding needs.
    unused_opt_outs: list[str] = field(default_factory=list)
    #: Whether plan-stage policy and cost were measured with what-if plans (and if not, why).
    what_if: bool = False
    what_if_note: str = ""

    def get(self, suggestion_id: str) -> Suggestion:
        """The suggestion with this id; :class:`NotFoundError` naming the ids there are."""
        for suggestion in self.suggestions:
            if suggestion.id == suggestion_id:
                return suggestion
        known = ", ".join(s.id for s in self.suggestions) or "none"
        raise NotFoundError(
            f"no suggestion {suggestion_id!r} for {self.request_id} revision {self.revision} "
            f"(suggestions: {known})"
        )


def collect(host: PluginHost) -> list[tuple[str, Suggester]]:
    """Every suggester: the built-in rules, then those of ``tfpilot_register_suggesters``.

    :raises PluginError: two suggesters with one id (naming both plugins).
    """

    found: list[tuple[str, Suggester]] = [("core", s) for s in builtin_suggesters()]
    found += [
        (plugin, s) for plugin, s in host.suggesters() if isinstance(getattr(s, "id", None), str)
    ]
    owners: dict[str, str] = {}
    for plugin, suggester in found:
        if suggester.id in owners:
            raise PluginError(
                f"suggester {suggester.id!r} is registered by both {owners[suggester.id]!r} "
                f"and {plugin!r}",
                plugin=plugin,
            )
        owners[suggester.id] = plugin
    return found


class Suggestions:
    """Suggestions for requests, computed and checked by the core (see the module docstring)."""

    def __init__(self, platform: SupportsKernel) -> None:
        self._platform = platform

    # -- computing ---------------------------------------------------------------------------

    def for_request(
        self, actor: str, request_id: str, *, what_if: bool | None = None
    ) -> SuggestionReport:
        """Checked suggestions for the request's current revision (``actor`` must read it).

        ``what_if``: plan what-if for cost and plan-stage policy; ``None`` does so when the
        request has been planned and the runner is local.
        """
        platform = self._platform
        request = reads.read(platform.kernel, actor, request_id)
        spec = platform.kernel.catalog.get(request.placement.module)
        env = platform.kernel.environment(request.placement.environment)
        report = SuggestionReport(request_id=request.id, revision=request.revision)
        ctx = SuggestionContext(
            request=request,
            module=spec,
            environment=env,
            findings=tuple(request.policy_findings),
            cost=request.cost,
        )
        before = self._request_findings(request, env, spec, request.inputs)

        # What-if plans run Terraform: only for someone who may plan this request.
        may_plan = platform.kernel.access.may(actor, Action.PLAN, request)
        if what_if is None:
            planned = any(a.plan_digest for a in request.attempts(_plan_kind()))
            what_if = planned and platform.kernel.config.core.runner == "local" and may_plan
            if not planned:
                report.what_if_note = "not planned yet: cost effects are known after a plan"
            elif not what_if:
                report.what_if_note = (
                    "what-if plans need the local runner"
                    if may_plan
                    else f"what-if plans need the right to plan {request.id}"
                )
        elif what_if and not may_plan:
            platform.kernel.access.check(actor, Action.PLAN, request)  # raises, naming the rule
        baseline: tuple[list[PolicyFinding], CostEstimate | None] | None = None
        if what_if:
            outcome = self._what_if(request, env, spec, request.inputs)
            if isinstance(outcome, str):
                report.what_if_note = outcome
            else:
                baseline = outcome
                report.what_if = True
                before = before + baseline[0]
        report.unused_opt_outs = _unused_opt_outs(request, before)
        ids: set[str] = set()
        for plugin, suggester in collect(platform.kernel.host):
            source = "rules" if plugin == "core" else plugin
            for index, proposal in enumerate(self._proposals(plugin, suggester, ctx)):
                sid = suggester.id if index == 0 else f"{suggester.id}-{index + 1}"
                if sid in ids:
                    continue
                ids.add(sid)
                checked = self._check(
                    sid, source, proposal, request, env, spec, before, baseline, report
                )
                if checked is not None:
                    report.suggestions.append(checked)
        return report

    def _proposals(
        self, plugin: str, suggester: Suggester, ctx: SuggestionContext
    ) -> list[Proposal]:
        # Suggestions are advice: a broken suggester is logged and skipped, never fatal.
        try:
            return [p for p in suggester.suggest(ctx) if isinstance(p, Proposal)]
        except Exception as exc:
            log.warning(
                "suggester_failed",
                plugin=plugin,
                suggester=suggester.id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return []

    def _check(
        self,
        sid: str,
        source: str,
        proposal: Proposal,
        request: Request,
        env: Environment,
        spec: ModuleSpec,
        before: list[PolicyFinding],
        baseline: tuple[list[PolicyFinding], CostEstimate | None] | None,
        report: SuggestionReport,
    ) -> Suggestion | None:

        def reject(reason: str) -> None:
            report.rejected.append(Rejected(sid, source, reason))
            log.info("suggestion_rejected", suggestion=sid, source=source, reason=reason)

        if proposal.kind not in KINDS:
            reject(f"kind {proposal.kind!r} is not one of {', '.join(KINDS)}")
            return None
        patch = dict(proposal.patch)
        hidden = sorted(k for k in patch if k in spec.sensitive_inputs)
        if not patch or hidden:
            reject("an empty patch" if not patch else f"patches sensitive inputs {hidden}")
            return None
        platform = self._platform
        try:
            patched = normalize_inputs(
                spec,
                patch,
                previous=request.inputs,
                request_id=request.id,
                server_tags=platform.kernel.server_tags(
                    request.id, request.placement, request.created_by
                ),
            )
        except ValidationError as exc:
            reject(f"invalid against the module schema: {exc.message}")
            return None
        changed = sorted(k for k in patched if patched.get(k) != request.inputs.get(k))
        if not changed:
            reject("the patch changes nothing")
            return None
        after = self._request_findings(request, env, spec, patched)
        cost: CostEffect | None = None
        cost_note = report.what_if_note
        if baseline is not None:
            outcome = self._what_if(request, env, spec, patched)
            if isinstance(outcome, str):
                cost_note = outcome
            else:
                after = after + outcome[0]
                cost, cost_note = _cost_effect(baseline[1], outcome[1])
        delta = cost.delta if cost is not None else None
        if proposal.kind == "cheaper" and cost is not None and delta is not None and delta >= 0:
            # Priced and not cheaper: offering it as cheaper would be a false claim.
            reject(f"offered as cheaper, but its cost effect is {delta:+.2f} {cost.currency}/month")
            return None
        before_keys = {FindingRef.of(f).key: FindingRef.of(f) for f in before}
        after_keys = {FindingRef.of(f).key: FindingRef.of(f) for f in after}
        clears = [ref for key, ref in before_keys.items() if key not in after_keys]
        introduces = [ref for key, ref in after_keys.items() if key not in before_keys]
        claimed = [
            ref
            for ref in before_keys.values()
            if ref.stage == "request" and ref.address in {f"inputs.{k}" for k in changed}
        ]
        left = [ref for ref in claimed if ref.key in after_keys]
        if left:
            reject(
                "leaves findings on the inputs it patches: "
                + ", ".join(f"{r.rule_id} on {r.address}" for r in left)
            )
            return None
        blocking = [r for r in introduces if r.level == "blocking"]
        if blocking:
            reject(
                "introduces blocking findings: "
                + ", ".join(f"{r.rule_id} on {r.address}" for r in blocking)
            )
            return None
        return Suggestion(
            id=sid,
            title=proposal.title,
            rationale=proposal.rationale,
            kind=proposal.kind,
            source=source,
            patch={k: patched[k] for k in changed},
            clears=clears,
            introduces=introduces,
            cost=cost,
            cost_note=cost_note,
            unused_opt_outs=[
                o
                for o in _unused_opt_outs(request, after)
                if o not in _unused_opt_outs(request, before)
            ],
        )

    def _request_findings(
        self,
        request: Request,
        env: Environment,
        spec: ModuleSpec,
        inputs: Mapping[str, Any],
    ) -> list[PolicyFinding]:

        subject = PolicyInput(
            request=request.model_copy(update={"inputs": dict(inputs)}),
            environment=env,
            stage="request",
            module=spec,
        )
        found = self._platform.kernel.host.evaluate_policy(subject)
        return [f.model_copy(update={"stage": "request"}) for f in found]

    def _what_if(
        self,
        request: Request,
        env: Environment,
        spec: ModuleSpec,
        inputs: Mapping[str, Any],
    ) -> tuple[list[PolicyFinding], CostEstimate | None] | str:
        """Plan ``inputs`` in a scratch directory: (plan-stage findings, cost) or why not."""

        platform = self._platform
        # A scratch id: its own working directory and no state, so the request's own directory,
        # lock and saved plan are never touched.
        scratch = request.model_copy(
            update={
                "id": new_request_id(env.key, request.placement.module),
                "inputs": dict(inputs),
                "runs": {},
                "approvals": [],
            }
        )
        # The runner itself: a scratch plan has no attempt whose log could be captured.
        runner = platform.kernel.host.runner()
        run = RunSpec(
            request=scratch,
            environment=env,
            module_name=spec.name,
            module_path=spec.path,
            module_version=spec.version,
            mirrors=platform.kernel.host.provider_mirrors(),
            sensitive_inputs=spec.sensitive_inputs,
        )
        try:
            result = runner.plan(run)
        except TfpilotError as exc:
            return f"what-if plan failed: {exc.message[:300]}"
        finally:
            _remove_workdir(runner, scratch.id)
        if not result.success or not result.plan_json:
            secrets = [
                s for k in spec.sensitive_inputs for s in sensitive_strings(inputs.get(k), True)
            ]
            error = scrub_text((result.error or result.log or "failed").strip(), secrets)
            return f"what-if plan failed: {error[-300:]}"
        plan = Plan.parse(result.plan_json).masked(sensitive_inputs=spec.sensitive_inputs)
        patched = request.model_copy(update={"inputs": dict(inputs)})
        subject = PolicyInput(
            request=patched, environment=env, stage="plan", plan=plan, module=spec
        )
        findings = [
            f.model_copy(update={"stage": "plan"})
            for f in platform.kernel.host.evaluate_policy(subject)
            if f.rule_id != "destroy.protected"  # a what-if plan destroys nothing
        ]
        return findings, platform.kernel.host.estimate_cost(patched, plan)

    # -- applying -----------------------------------------------------------------------------

    def apply(
        self, actor: str, request_id: str, suggestion_id: str, *, plan: bool = True
    ) -> Request:
        """Apply one suggestion as an update by ``actor`` (a new revision), then plan again if
        the request had been planned and ``plan`` is true.

        The suggestion is recomputed for the current revision first, so a stale id (the
        inputs changed since it was shown) is refused rather than applied blindly.
        """
        platform = self._platform
        report = self.for_request(actor, request_id, what_if=False)
        suggestion = report.get(suggestion_id)
        current = reads.read(platform.kernel, actor, request_id)
        planned = any(a.plan_digest for a in current.attempts(_plan_kind()))
        updated = changes.update(platform.kernel, actor, request_id, suggestion.patch)
        platform.kernel.emit(
            updated,
            "suggestion_applied",
            actor,
            {
                "suggestion": suggestion.id,
                "source": suggestion.source,
                "changed": sorted(suggestion.patch),
                "revision": updated.revision,
            },
        )
        if plan and planned:
            updated = planning.plan(platform.kernel, actor, request_id)
        return updated


def _plan_kind() -> Any:

    return RunKind.PLAN


def _cost_effect(
    before: CostEstimate | None, after: CostEstimate | None
) -> tuple[CostEffect | None, str]:
    if before is None or after is None:
        return None, "no estimator could price this module"
    effect = CostEffect(
        currency=after.currency,
        before=before.monthly,
        after=after.monthly,
        estimator=after.estimator,
    )
    if effect.delta is None:
        return effect, "part of the cost is usage based: the change cannot be priced"
    return effect, ""


def _unused_opt_outs(request: Request, findings: Iterable[PolicyFinding]) -> list[str]:
    needed = {f.rule_id for f in findings}
    return sorted({o.rule_id for o in request.opt_outs if o.rule_id not in needed})


def _remove_workdir(runner: Any, request_id: str) -> None:
    # Only the local runner has working directories here; others have nothing to clean.
    workdir = getattr(runner, "workdir", None)
    if not callable(workdir):
        return
    try:
        directory = workdir(request_id)
    except Exception:
        return
    if isinstance(directory, Path) and directory.exists():
        shutil.rmtree(directory, ignore_errors=True)


__all__ = ["Rejected", "SuggestionReport", "Suggestions", "collect"]
