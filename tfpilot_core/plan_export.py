"""A request's plan as a masked ``terraform show -json`` document, for other scanners.

Scanners of Terraform plans (Checkov, Trivy, OPA/conftest, ...) read the ``show -json`` document:
``resource_changes`` and ``planned_values`` above all. tfpilot never keeps the clear document:
:func:`record` stores, once per successful plan (``lifecycle.planning.judge_plan``, local and job
plans alike), the document rebuilt from the *masked* plan (:func:`tfpilot_core.plan.masked_plan`),
so every value Terraform marks sensitive, every sensitive output and every sensitive module
input is the mask. It is the artifact ``plan-<plan digest>.json`` of the request; the plan digest
is the one approvals bind to. ``tfpilot plan export REQ`` reads it back through an authorized read
(:func:`tfpilot_core.lifecycle.reads.export_plan`).

What the document holds: ``format_version``, ``terraform_version``, ``variables`` (sensitive
inputs masked), ``configuration``, ``resource_changes``, ``resource_drift``, ``output_changes``,
``deferred_changes``, ``planned_values`` (rebuilt from each change's ``after``), ``checks``,
``relevant_attributes``, ``applyable``/``complete``/``errored``, and a ``tfpilot`` object naming
the request, revision, attempt and plan digest. ``prior_state`` is left out (it is the state's
values, which the plan's changes already describe).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import NotFoundError

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store
    from tfpilot_core.plan import Plan, ResourceChange

__all__ = ["artifact_name", "document", "load", "record"]


def artifact_name(plan_digest: str) -> str:
    """The artifact holding the exportable (masked) document of the plan ``plan_digest``."""
    return f"plan-{plan_digest}.json"


def _change(change: ResourceChange) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "address": change.address,
        "mode": change.mode,
        "type": change.type,
        "name": change.name,
        "provider_name": change.provider_name,
        "change": {
            "actions": list(change.actions),
            "before": change.before,
            "after": change.after,
            "after_unknown": change.after_unknown,
            "before_sensitive": change.before_sensitive,
            "after_sensitive": change.after_sensitive,
        },
    }
    optional = {
        "module_address": change.module_address,
        "previous_address": change.previous_address,
        "index": change.index,
        "deposed": change.deposed,
        "action_reason": change.action_reason,
    }
    entry.update({k: v for k, v in optional.items() if v is not None})
    if change.replace_paths:
        entry["change"]["replace_paths"] = change.replace_paths
    if change.importing is not None:
        entry["change"]["importing"] = change.importing
    return entry


def _planned_values(plan: Plan) -> dict[str, Any]:
    """``planned_values``: each resource's value after apply, nested by module as Terraform does."""
    root: dict[str, Any] = {"resources": [], "child_modules": []}
    modules: dict[str, dict[str, Any]] = {"": root}

    def module(address: str) -> dict[str, Any]:
        if address not in modules:
            # "module.a.module.b" lives under "module.a".
            parent_address = address.rsplit(".module.", 1)[0] if ".module." in address else ""
            found: dict[str, Any] = {"address": address, "resources": [], "child_modules": []}
            module(parent_address)["child_modules"].append(found)
            modules[address] = found
        return modules[address]

    for change in plan.resource_changes:
        if change.action.value == "delete" or change.deposed:
            continue
        resource: dict[str, Any] = {
            "address": change.address,
            "mode": change.mode,
            "type": change.type,
            "name": change.name,
            "provider_name": change.provider_name,
            "values": change.after if isinstance(change.after, dict) else {},
            "sensitive_values": change.after_sensitive
            if isinstance(change.after_sensitive, dict)
            else {},
        }
        if change.index is not None:
            resource["index"] = change.index
        module(change.module_address or "")["resources"].append(resource)
    for found in modules.values():
        if not found["child_modules"]:
            del found["child_modules"]
    outputs = {
        o.name: {"sensitive": o.sensitive, "value": o.after}
        for o in plan.output_changes
        if o.action.value != "delete"
    }
    return {"outputs": outputs, "root_module": root}


def document(masked: Plan, about: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``show -json`` document of ``masked`` (a plan masked by ``Plan.masked``).

    Only the masked plan's fields are read (``raw`` of a masked plan holds no values); ``about``
    becomes the ``tfpilot`` object (request, revision, attempt, plan digest).
    """
    found = dict(masked.raw)
    found.update(
        {
            "format_version": masked.format_version,
            "terraform_version": masked.terraform_version,
            "variables": masked.variables,
            "configuration": masked.configuration,
            "planned_values": _planned_values(masked),
            "resource_changes": [_change(c) for c in masked.resource_changes],
            "resource_drift": [_change(c) for c in masked.resource_drift],
            "output_changes": {
                o.name: {
                    "actions": list(o.actions),
                    "before": o.before,
                    "after": o.after,
                    "after_unknown": o.after_unknown,
                    "before_sensitive": o.sensitive,
                    "after_sensitive": o.sensitive,
                }
                for o in masked.output_changes
            },
            "checks": masked.checks,
            "relevant_attributes": masked.relevant_attributes,
            "applyable": masked.applyable,
            "complete": masked.complete,
            "errored": masked.errored,
        }
    )
    if masked.deferred_changes:
        found["deferred_changes"] = [
            {"reason": d.reason, "resource_change": _change(d.change)}
            for d in masked.deferred_changes
        ]
    found.pop("prior_state", None)
    if about:
        found["tfpilot"] = about
    return found


def record(
    store: Store, request_id: str, plan_digest: str, masked: Plan, about: dict[str, Any]
) -> str:
    """Store the exportable document of the masked plan saved with ``plan_digest``; its sha256."""
    body = document(masked, {**about, "request_id": request_id, "plan_digest": plan_digest})
    data = json.dumps(body, indent=2, sort_keys=True, default=str).encode()
    return store.put_artifact(request_id, artifact_name(plan_digest), data)


def load(store: Store, request_id: str, plan_digest: str) -> bytes | None:
    """The stored document of a plan (JSON bytes), or ``None`` when none was recorded."""
    try:
        return store.get_artifact(request_id, artifact_name(plan_digest))
    except NotFoundError:
        return None
