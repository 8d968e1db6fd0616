"""The structured diff of a plan: one renderer for the JSON API, the web page and the PR comment.

:func:`changes` turns a *masked* :class:`~tfpilot_core.plan.Plan` into plain data, one entry per
resource: the action (create, update, replace with Terraform's reason, delete, read, forget, and
the import and move operations), and the attribute leaves before and after, each marked unknown
(known only after apply), sensitive (masked by :func:`tfpilot_core.plan.masked_plan`, the one
masking) or forcing replacement. :func:`record` stores that list beside the saved plan and
:func:`load` reads it back; :func:`build` joins it with the policy findings and the cost estimate
of the plan and pages it; :func:`markdown` renders it for a PR comment. Nothing here masks on
its own: the input is always the masked plan, so a value this module prints was already fit to
leave tfpilot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import NotFoundError
from tfpilot_core.masking import MASK, covered, leaves, marked_paths

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.models import CostEstimate, PolicyFinding
    from tfpilot_core.plan import Plan, ResourceChange

#: The stored form's version (bumped if the shape of a resource entry changes).
FORMAT = 1
#: Attribute leaves kept per resource (a resource with more shows the first ones and a count).
MAX_ATTRIBUTES = 200
#: Characters of one value kept in the structure (longer values end with an ellipsis).
MAX_VALUE = 500

#: Terraform's ``action_reason`` values in words.
REASONS = {
    "replace_because_tainted": "the object is tainted",
    "replace_because_cannot_update": "an attribute that forces replacement changed",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "a replace_triggered_by reference changed",
    "delete_because_no_resource_config": "its configuration was removed",
    "delete_because_no_module": "its module was removed",
    "delete_because_wrong_repetition": "count/for_each changed how it repeats",
    "delete_because_count_index": "its count index is out of range",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "its moved target does not exist",
    "read_because_config_unknown": "its configuration is known only after apply",
    "read_because_dependency_pending": "a dependency has pending changes",
    "read_because_check_nested": "a check block reads it",
}


def artifact_name(plan_digest: str) -> str:
    """The artifact that holds the structured diff of the plan with digest ``plan_digest``."""
    return f"changes-{plan_digest}.json"


def changes(plan: Plan) -> list[dict[str, Any]]:
    """One plain entry per resource change of ``plan``, which must be the masked plan.

    No-op changes are left out unless they import or move the resource (those change the state).
    A sensitive attribute an update changes (``ResourceChange.sensitive_changed``, noted when the
    plan was masked) is listed as changed, masked on both sides.
    """
    result = []
    for change in plan.resource_changes:
        moved = change.previous_address is not None and change.previous_address != change.address
        if change.action.value == "no-op" and change.importing is None and not moved:
            continue
        result.append(_entry(change, moved))
    return result


def _entry(change: ResourceChange, moved: bool) -> dict[str, Any]:
    operations = []
    if change.importing is not None:
        operations.append("import")
    if moved:
        operations.append("move")
    replace_paths = [_dotted(p) for p in change.replace_paths if isinstance(p, list) and p]
    attributes, more = _attributes(change, set(replace_paths))
    return {
        "address": change.address,
        "type": change.type,
        "mode": change.mode,
        "action": change.action.value,
        "operations": operations,
        "previous_address": change.previous_address if moved else None,
        "reason": REASONS.get(change.action_reason or "", change.action_reason),
        "replace_paths": replace_paths,
        "attributes": attributes,
        "more_attributes": more,
    }


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[: MAX_VALUE - 1] + "…"
    return value


def _attributes(
    change: ResourceChange, replace_paths: set[str]
) -> tuple[list[dict[str, Any]], int]:
    before = leaves(change.before) if change.before is not None else {}
    after = leaves(change.after) if change.after is not None else {}
    unknown = marked_paths(change.after_unknown)
    sensitive = marked_paths(change.before_sensitive) | marked_paths(change.after_sensitive)
    for path in unknown:
        if path and path not in after:
            after[path] = None
    rows = []
    updating = change.before is not None and change.after is not None
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        is_unknown = covered(path, unknown)
        if updating and not is_unknown and old == new and path not in change.sensitive_changed:
            continue  # unchanged attributes of an update: not part of the diff
        is_sensitive = old == MASK or new == MASK or covered(path, sensitive)
        rows.append(
            {
                "path": path,
                "before": MASK if is_sensitive and old is not None else _clip(old),
                "after": None
                if is_unknown
                else (MASK if is_sensitive and new is not None else _clip(new)),
                "had_before": path in before,
                "unknown": is_unknown,
                "sensitive": is_sensitive,
                "forces_replacement": path in replace_paths
                or any(path.startswith(p + ".") for p in replace_paths),
            }
        )
    return rows[:MAX_ATTRIBUTES], max(0, len(rows) - MAX_ATTRIBUTES)


def record(store: Store, request_id: str, plan_digest: str, plan: Plan) -> str:
    """Store the structured diff of the masked ``plan`` (saved with ``plan_digest``).

    Called once per successful plan, right after the plan is masked (returns the sha256).
    """
    body = {"format": FORMAT, "resources": changes(plan)}
    data = json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()
    return store.put_artifact(request_id, artifact_name(plan_digest), data)


def load(store: Store, request_id: str, plan_digest: str) -> list[dict[str, Any]] | None:
    """The stored structured diff of a plan, or ``None`` when none was recorded."""

    try:
        data = store.get_artifact(request_id, artifact_name(plan_digest))
    except NotFoundError:
        return None
    body = json.loads(data)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return None
    resources = body.get("resources")
    return resources if isinstance(resources, list) else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _delta(monthly: Decimal | None, previous: Decimal | None) -> Decimal | None:
    if monthly is None:
        return None
    return monthly - (previous or Decimal(0))


def build(
    resources: Sequence[Mapping[str, Any]],
    *,
    findings: Iterable[PolicyFinding] = (),
    cost: CostEstimate | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """The diff document: ``resources[offset:offset+limit]`` with their findings and cost, the
    counts and the cost totals of the whole plan.

    Money is a decimal string, ``None`` where unknown (usage-based, or no estimate).
    """
    by_address: dict[str | None, list[dict[str, Any]]] = {}
    for f in findings:
        # The engine's word first; for engines that do not say, the attribute it names.
        attribute = f.attribute or _finding_attribute(f.message)
        by_address.setdefault(f.address, []).append(
            {
                "level": f.level.value,
                "rule_id": f.rule_id,
                "message": f.message,
                "attribute": attribute,
            }
        )
    lines = {line.address: line for line in cost.lines} if cost is not None else {}
    unknown = set(cost.unknown) if cost is not None else set()
    counts: dict[str, int] = {}
    for r in resources:
        for key in [r["action"], *r.get("operations", [])]:
            if key != "no-op":
                counts[key] = counts.get(key, 0) + 1
    end = len(resources) if limit is None else offset + limit
    page = []
    for r in resources[offset:end]:
        line = lines.get(r["address"])
        entry = dict(r)
        entry["findings"] = by_address.get(r["address"], [])
        if line is not None:
            delta = line.delta if line.delta is not None else _delta(line.monthly, line.previous)
            entry["cost"] = {
                "monthly": _money(line.monthly),
                "previous": _money(line.previous),
                "delta": None if line.unknown else _money(delta),
                "unknown": line.unknown or r["address"] in unknown,
            }
        else:
            entry["cost"] = None
        page.append(entry)
    total: dict[str, Any] | None = None
    if cost is not None:
        total = {
            "monthly": _money(cost.monthly),
            "previous": _money(cost.previous),
            "delta": _money(_delta(cost.monthly, cost.previous)),
            "currency": cost.currency,
            "unknown": sorted(unknown),
            "error": cost.error,
        }
    return {
        "resources": page,
        "counts": counts,
        "cost": total,
        "findings": by_address.get(None, []),
        "total": len(resources),
        "offset": offset,
        "limit": limit,
    }


def _finding_attribute(message: str) -> str | None:
    # Policy rules name the attribute they judge as `name` in backticks, e.g. "`public_access`
    # is true": the first such word is the attribute the finding is about.
    start = message.find("`")
    end = message.find("`", start + 1) if start >= 0 else -1
    if start < 0 or end <= start + 1:
        return None
    word = message[start + 1 : end]
    return word if all(c.isalnum() or c in "._[]-" for c in word) else None


def format_value(value: Any, *, unknown: bool = False, present: bool = True) -> str:
    """One value as people read it: JSON, ``(known after apply)``, or ``(none)``."""
    if unknown:
        return "(known after apply)"
    if value == MASK:
        return MASK
    if value is None:
        return "null" if present else "(none)"
    return json.dumps(value, ensure_ascii=False, default=str)


def markdown(document: Mapping[str, Any], *, max_resources: int = 50) -> str:
    """The diff as collapsible Markdown sections (``<details>`` per resource) for a PR comment.

    Text from the plan is HTML-escaped: GitHub renders HTML inside ``<details>``.
    """
    lines = []
    resources = list(document.get("resources", []))
    for r in resources[:max_resources]:
        label = r["action"] + "".join(f", {op}" for op in r.get("operations", []))
        head = f"<code>{escape(r['address'])}</code>: {escape(label)}"
        if r.get("reason"):
            head += f" ({escape(str(r['reason']))})"
        lines += ["<details>", f"<summary>{head}</summary>", ""]
        rows = r.get("attributes", [])
        if rows:
            lines += ["| attribute | before | after |", "|---|---|---|"]
            for a in rows:
                before = format_value(a["before"], present=a.get("had_before", True))
                after = format_value(a["after"], unknown=a["unknown"])
                mark = " (forces replacement)" if a.get("forces_replacement") else ""
                lines.append(f"| `{_cell(a['path'])}`{mark} | {_cell(before)} | {_cell(after)} |")
        if r.get("more_attributes"):
            lines.append(f"\n… and {r['more_attributes']} more attribute(s)")
        lines += ["", "</details>"]
    hidden = len(resources) - max_resources
    if hidden > 0:
        lines.append(f"\n… and {hidden} more resource(s)")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return escape(text).replace("|", "\\|").replace("\n", " ")[:300]
