"""The default summariser, ``rules``: a deterministic plain-language summary of a plan.

Always available, and the fallback of every other summariser. The same plan and context always
give the same text, in this order: the counts per action; destructive changes first (deletes and
replacements, with Terraform's reason and the attributes forcing a replacement); then creations,
updates (with the names of the attributes that change), other actions; drift found while
planning; output changes; the cost; policy findings.

It never prints an attribute *value*: only addresses, resource types, attribute names, counts and
money. The plan arrives masked, but the summary does not rely on that: attribute names are taken
at the top level only (nested paths can run through user-chosen map keys) and a name whose value
is marked sensitive is flagged as such, nothing more.

The default plugin that registers it (:mod:`tfpilot_core.default_plugins.summarizer_rules`)
names this module lazily, so that discovering plugins does not import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tfpilot_core.masking import MASK, deep_equal
from tfpilot_core.models import PlanSummary, PolicyLevel
from tfpilot_core.plan import Action

if TYPE_CHECKING:
    from decimal import Decimal

    from tfpilot_core.interfaces import Summarizer, SummaryContext
    from tfpilot_core.models import CostEstimate, PolicyFinding, Request
    from tfpilot_core.plan import Plan, ResourceChange
    from tfpilot_core.registrations import PluginContext

NAME = "rules"

#: Terraform's ``action_reason`` values, in plain language.
REASONS: dict[str, str] = {
    "replace_because_tainted": "the object is tainted (a previous apply failed part-way)",
    "replace_because_cannot_update": "an attribute that cannot change in place changes",
    "replace_by_request": "a replacement was requested",
    "replace_by_triggers": "a replace_triggered_by reference changed",
    "delete_because_no_resource_config": "it is no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "its count/for_each changed shape",
    "delete_because_count_index": "its count index is out of range",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "the target of a moved block does not exist",
    "read_because_config_unknown": "its configuration is known only after apply",
    "read_because_dependency_pending": "a dependency has changes pending",
    "read_because_check_nested": "a check block reads it",
}

_VERBS = {
    "replace": "to replace",
    "delete": "to destroy",
    "create": "to create",
    "update": "to update in place",
    "forget": "to forget (removed from state, kept in the world)",
}
_ORDER = ("replace", "delete", "create", "update", "forget")
#: Operations that are not the resource's action (see :meth:`~tfpilot_core.plan.Plan.operations`).
_OPERATIONS = {
    "import": "to import into the state",
    "move": "to move to a new address",
    "deferred": "deferred to a later plan",
}


def _is_sensitive(marks: Any, key: str) -> bool:
    if marks is True:
        return True
    return isinstance(marks, dict) and _any_true(marks.get(key))


def _any_true(marks: Any) -> bool:
    # Iterative: marks mirror values, which can be nested deeper than the recursion limit.
    stack = [marks]
    while stack:
        item = stack.pop()
        if item is True:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def changed_attributes(change: ResourceChange) -> list[str]:
    """Top-level attribute names that differ (or become known only after apply), sorted.

    A name is suffixed ``(sensitive)`` when Terraform marks its value sensitive; no value is
    ever read beyond an equality test. In a masked plan both sides of a sensitive attribute read
    ``(sensitive)``, so whether it changes cannot be known: it is listed as
    ``(sensitive, value hidden)`` rather than silently left out.
    """

    before = change.before if isinstance(change.before, dict) else {}
    after = change.after if isinstance(change.after, dict) else {}
    unknown = change.after_unknown if isinstance(change.after_unknown, dict) else {}
    names: list[str] = []
    for key in sorted(set(before) | set(after) | set(unknown), key=str):
        marked = _is_sensitive(change.before_sensitive, key) or _is_sensitive(
            change.after_sensitive, key
        )
        if marked and before.get(key) == MASK and after.get(key) == MASK:
            names.append(f"{key} (sensitive, value hidden)")
            continue
        differs = not deep_equal(before.get(key), after.get(key)) or _any_true(unknown.get(key))
        if differs:
            names.append(f"{key} (sensitive)" if marked else str(key))
    return names


def replace_attributes(change: ResourceChange) -> list[str]:
    """The top-level attributes forcing a replacement (from ``replace_paths``), sorted."""
    found: set[str] = set()
    for path in change.replace_paths or []:
        steps = path if isinstance(path, list) else [path]
        if steps and isinstance(steps[0], str):
            found.add(steps[0])
    return sorted(found)


def _money(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.2f} {currency}"


def _signed(value: Decimal, currency: str) -> str:
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}{abs(value):,.2f} {currency}"


def _cost_line(cost: CostEstimate) -> str:
    estimator = f" ({cost.estimator})" if cost.estimator else ""
    if cost.error and cost.monthly is None:
        # A failure is said as one: never as usage-based prices or a zero.
        return f"the cost estimate failed{estimator}: {cost.error}"
    line = f"{_money(cost.monthly, cost.currency)} per month"
    if cost.error:
        return f"{line} at least: the estimate is incomplete{estimator}: {cost.error}"
    if cost.previous is not None:
        line += f" (was {_money(cost.previous, cost.currency)}"
        delta = cost.delta
        if delta is not None:
            line += f", {_signed(delta, cost.currency)}"
        line += ")"
    if cost.monthly is None:
        line += "; some resources are priced by usage"
    return line


# Brackets are escaped, so no link can form and parentheses stay plain; the remaining specials
# could emphasise, quote code or open HTML anywhere in a line.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def _md(text: str) -> str:
    """Escape Markdown (and the HTML GitHub would render) in free text."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def _code(text: str) -> str:
    """An inline code span that holds ``text`` whatever backticks it contains."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class _Doc:
    """Builds the text and the Markdown side by side, so they always say the same thing."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.md: list[str] = []

    def heading(self, text: str) -> None:
        self.text += ["", text]
        self.md += ["", f"#### {_md(text)}"]

    def para(self, text: str, md: str | None = None) -> None:
        self.text.append(text)
        self.md.append(md if md is not None else _md(text))

    def item(self, text: str, md: str) -> None:
        self.text.append(f"  - {text}")
        self.md.append(f"- {md}")


def _describe(change: ResourceChange, doc: _Doc) -> None:
    """One bullet for one change (no values)."""
    action = change.action.value
    what = f"{change.address} ({change.type})"
    md = f"{_code(change.address)} ({_md(change.type)})"
    details: list[str] = []
    if change.action_reason:
        details.append(
            "because " + REASONS.get(change.action_reason, change.action_reason.replace("_", " "))
        )
    forced = replace_attributes(change)
    if forced:
        details.append("forced by " + ", ".join(forced))
    if action == "update":
        names = changed_attributes(change)
        if names:
            details.append("changes " + ", ".join(names))
    if change.deposed:
        details.append("deposed object")
    if change.previous_address and change.previous_address != change.address:
        details.append(f"moved from {change.previous_address}")
    if change.importing is not None:
        details.append("imported")
    tail = f": {'; '.join(details)}" if details else ""
    md_tail = f": {_md('; '.join(details))}" if details else ""
    doc.item(f"{action.upper()} {what}{tail}", f"**{action}** {md}{md_tail}")


def _findings(findings: Sequence[PolicyFinding], doc: _Doc) -> None:

    order = [PolicyLevel.BLOCKING, PolicyLevel.MANDATORY, PolicyLevel.ADVISORY]
    counts = [f"{sum(1 for f in findings if f.level is lvl)} {lvl.value}" for lvl in order]
    doc.heading(f"Policy findings: {', '.join(counts)}")
    ranked = sorted(
        findings, key=lambda f: (order.index(f.level), f.rule_id, f.address or "", f.message)
    )
    for finding in ranked:
        where = f" on {finding.address}" if finding.address else ""
        md_where = f" on {_code(finding.address)}" if finding.address else ""
        doc.item(
            f"[{finding.level.value}] {finding.rule_id}{where}: {finding.message}",
            f"**{finding.level.value}** {_code(finding.rule_id)}{md_where}: {_md(finding.message)}",
        )


#: Items listed per section. A summary is for people (and PR comments, capped at 65,536
#: characters): past this, a section says how many more there are. Destructive changes get more.
MAX_ITEMS = 50
MAX_DESTRUCTIVE_ITEMS = 200


def _more(doc: _Doc, shown: int, total: int) -> None:
    if total > shown:
        doc.para(f"... and {total - shown} more", f"*... and {total - shown} more*")


def summarize_plan(request: Request, plan: Plan, context: SummaryContext) -> tuple[str, str]:
    """The summary of ``plan`` as (text, markdown)."""

    doc = _Doc()
    placement = request.placement
    counts = plan.counts()
    title = f"Plan for {request.id} ({placement.module} in {placement.environment})"
    doc.text.append(title)
    doc.md.append(
        f"### Plan for {_code(request.id)} ({_md(placement.module)} in "
        f"{_md(placement.environment)})"
    )
    incomplete = plan.incomplete()
    if incomplete is not None:
        doc.para("", "")
        doc.para(f"WARNING: {incomplete}.", f"**Warning:** {_md(incomplete)}.")
    parts = [f"{counts[Action(a)]} {_VERBS[a]}" for a in _ORDER if counts.get(Action(a))]
    operations = plan.operations()
    # A forget is an action too (counted above); imports, moves and deferrals are not.
    parts += [
        f"{operations[o]} {_OPERATIONS[o]}"
        for o in ("import", "move", "deferred")
        if o in operations
    ]
    if parts:
        doc.para("", "")
        doc.para(
            "Summary: " + ", ".join(parts) + ".", "**Summary:** " + _md(", ".join(parts)) + "."
        )
    else:
        doc.para("", "")
        doc.para("No changes to infrastructure.", "**No changes to infrastructure.**")

    # The managed changes by action, in one pass (plans can hold tens of thousands).
    by_action: dict[Action, list[ResourceChange]] = {}
    for c in plan.resource_changes:
        if c.mode == "managed":
            by_action.setdefault(c.action, []).append(c)
    destructive = [c for a, found in by_action.items() if a.destructive for c in found]
    if destructive:
        doc.heading(f"Destructive changes ({len(destructive)}): review these first")
        ordered = sorted(destructive, key=lambda c: (c.action is not Action.DELETE, c.address))
        for change in ordered[:MAX_DESTRUCTIVE_ITEMS]:
            _describe(change, doc)
        _more(doc, MAX_DESTRUCTIVE_ITEMS, len(ordered))
    sections: Iterable[tuple[Action, str]] = (
        (Action.CREATE, "To create"),
        (Action.UPDATE, "To update in place"),
        (Action.FORGET, "To forget"),
    )
    for action, label in sections:
        selected = sorted(by_action.get(action, ()), key=lambda c: c.address)
        if selected:
            doc.heading(f"{label} ({len(selected)})")
            for change in selected[:MAX_ITEMS]:
                _describe(change, doc)
            _more(doc, MAX_ITEMS, len(selected))

    for label, selected in (
        ("To import into the state", plan.imports()),
        ("Moved to a new address", plan.moves()),
    ):
        if selected:
            doc.heading(f"{label} ({len(selected)})")
            for change in sorted(selected, key=lambda c: c.address)[:MAX_ITEMS]:
                _describe(change, doc)
            _more(doc, MAX_ITEMS, len(selected))
    if plan.deferred_changes:
        deferred = sorted(plan.deferred_changes, key=lambda d: d.change.address)
        doc.heading(f"Deferred to a later plan ({len(deferred)})")
        for item in deferred[:MAX_ITEMS]:
            reason = item.reason.replace("_", " ")
            doc.item(
                f"{item.change.address} ({item.change.type}): {reason}",
                f"{_code(item.change.address)} ({_md(item.change.type)}): {_md(reason)}",
            )
        _more(doc, MAX_ITEMS, len(deferred))

    if plan.resource_drift:
        doc.heading(f"Changed outside Terraform ({len(plan.resource_drift)})")
        drifted = sorted(plan.resource_drift, key=lambda c: c.address)
        for change in drifted[:MAX_ITEMS]:
            names = changed_attributes(change)
            tail = f": {', '.join(names)}" if names else ""
            doc.item(f"{change.address}{tail}", f"{_code(change.address)}{_md(tail)}")
        _more(doc, MAX_ITEMS, len(drifted))

    outputs = sorted(o.name for o in plan.output_changes if o.action is not Action.NO_OP)
    if outputs:
        doc.heading(f"Outputs changing ({len(outputs)})")
        doc.para(", ".join(outputs), ", ".join(_code(o) for o in outputs))

    if context.cost is not None:
        doc.heading("Cost")
        doc.para(_cost_line(context.cost))
    if context.findings:
        _findings(context.findings, doc)
    return "\n".join(doc.text).strip() + "\n", "\n".join(doc.md).strip() + "\n"


class RulesSummarizer:
    """The ``rules`` summariser (see the module docstring)."""

    def summarize(self, request: Request, plan: Plan, context: SummaryContext) -> PlanSummary:
        """A deterministic plain-language summary of ``plan``."""

        text, markdown = summarize_plan(request, plan, context)
        return PlanSummary(text=text, markdown=markdown, summarizer=NAME)


def build_summarizer(settings: object, context: PluginContext) -> Summarizer:
    """The factory."""
    return RulesSummarizer()
