"""A typed model of ``terraform show -json PLANFILE`` output.

:meth:`Plan.parse` accepts every ``format_version`` from 0.1 to 1.x, ignores keys it does not
know, and refuses an unknown major version or a malformed document with a
:class:`~tfpilot_core.errors.ValidationError` naming the field: never another exception. It
is written with plain slotted dataclasses rather than pydantic because plans can hold tens of
thousands of resources and parsing sits on the hot path (see ``bench/plan_parse.py``).
"""

from __future__ import annotations

import contextlib
import enum
import gc
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_core.masking import (
    MASK,
    changed_paths,
    map_strings,
    mask,
    scrub_text,
    sensitive_changed,
    sensitive_strings,
)

#: The plan formats this parser reads: 0.1 (Terraform 0.12 to 0.14), 0.2 (0.15 and 1.0) and every
#: 1.x (1.1 on), the range hashicorp/terraform-json reads (``>= 0.1, < 2.0``). Later formats only
#: add keys, each read when present and defaulted when absent: the sensitive marks
#: (``before_sensitive``/``after_sensitive``) and ``resource_drift`` are missing from 0.1;
#: ``previous_address``, ``action_reason``, ``relevant_attributes``, ``replace_paths``, ``checks``,
#: ``importing``, ``errored`` and ``complete`` from the older formats.
SUPPORTED_MAJOR = "1"
OLDEST_FORMAT = (0, 1)
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.[0-9]+)?")


class Action(enum.StrEnum):
    """The single action a resource change amounts to."""

    NO_OP = "no-op"
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"
    FORGET = "forget"

    @property
    def destructive(self) -> bool:
        """Whether the change removes a real object (delete, or replace)."""
        return self in (Action.DELETE, Action.REPLACE)


_ACTIONS: dict[tuple[str, ...], Action] = {
    ("no-op",): Action.NO_OP,
    ("create",): Action.CREATE,
    ("read",): Action.READ,
    ("update",): Action.UPDATE,
    ("delete",): Action.DELETE,
    ("delete", "create"): Action.REPLACE,
    ("create", "delete"): Action.REPLACE,
    ("forget",): Action.FORGET,
}


class PlanError(ValidationError):
    """A plan document that cannot be read."""


def _fail(field_path: str, rule: str, message: str) -> PlanError:
    return PlanError([FieldProblem(field_path, rule, message)], subject="plan JSON")


@dataclass(slots=True)
class ResourceChange:
    """One entry of ``resource_changes`` (or ``resource_drift``)."""

    address: str
    type: str
    name: str
    mode: str
    actions: tuple[str, ...]
    action: Action
    provider_name: str = ""
    module_address: str | None = None
    previous_address: str | None = None
    index: Any = None
    deposed: str | None = None
    action_reason: str | None = None
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    before_sensitive: Any = None
    after_sensitive: Any = None
    replace_paths: list[Any] = field(default_factory=list)
    importing: Any = None
    #: Sensitive attribute paths this change changes, noted when it was masked (masked on both
    #: sides they would look unchanged): :func:`~tfpilot_core.masking.sensitive_changed`.
    sensitive_changed: frozenset[str] = frozenset()

    @property
    def destructive(self) -> bool:
        """Whether applying this change deletes or replaces a real object."""
        return self.action.destructive

    def with_values(
        self, before: Any, after: Any, sensitive_changed: frozenset[str] | None = None
    ) -> ResourceChange:
        """A copy with other ``before``/``after`` values (``dataclasses.replace`` is 5x slower)."""
        return ResourceChange(
            self.address,
            self.type,
            self.name,
            self.mode,
            self.actions,
            self.action,
            self.provider_name,
            self.module_address,
            self.previous_address,
            self.index,
            self.deposed,
            self.action_reason,
            before,
            after,
            self.after_unknown,
            self.before_sensitive,
            self.after_sensitive,
            self.replace_paths,
            self.importing,
            self.sensitive_changed if sensitive_changed is None else sensitive_changed,
        )


@dataclass(slots=True)
class OutputChange:
    """One entry of ``output_changes``."""

    name: str
    actions: tuple[str, ...]
    action: Action
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    sensitive: bool = False


@dataclass(slots=True)
class DeferredChange:
    """One entry of ``deferred_changes`` (Terraform 1.9 on): a change Terraform could not plan
    yet (e.g. ``for_each`` over values known only after apply), and why."""

    reason: str
    change: ResourceChange


#: The operations a plan carries besides the per-resource action, in the order they are reported.
OPERATIONS = ("import", "move", "forget", "deferred")


@dataclass(slots=True)
class Plan:
    """A parsed plan. ``raw`` keeps the original document (unmasked: never log it)."""

    format_version: str
    terraform_version: str
    resource_changes: list[ResourceChange]
    resource_drift: list[ResourceChange]
    output_changes: list[OutputChange]
    relevant_attributes: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    configuration: dict[str, Any]
    variables: dict[str, Any]
    prior_state: dict[str, Any] | None
    applyable: bool | None
    complete: bool | None
    errored: bool
    raw: Mapping[str, Any] = field(repr=False)
    deferred_changes: list[DeferredChange] = field(default_factory=list)
    #: Set when the document was the output of ``hashicorp/setup-terraform``'s wrapper and its
    #: ``[command]``/``::`` lines were stripped before parsing.
    from_wrapper: bool = False

    @classmethod
    def parse(
        cls,
        document: Mapping[str, Any] | bytes | str,
        *,
        masked: bool = False,
        sensitive_inputs: Sequence[str] = (),
    ) -> Plan:
        """Parse a ``show -json`` document (bytes, text, or already-decoded JSON).

        ``masked=True`` returns what ``Plan.parse(document).masked(sensitive_inputs=...)``
        returns, in one pass: each change is masked as it is read, so no unmasked copy of the
        changes is built (half the objects, on plans of tens of thousands of resources). The
        plan's counts and operations do not depend on values: a masked plan answers them too.
        """
        with bulk_building():
            return cls._parse(document, masked, sensitive_inputs)

    @classmethod
    def _parse(
        cls,
        document: Mapping[str, Any] | bytes | str,
        masked: bool,
        sensitive_inputs: Sequence[str],
    ) -> Plan:
        from_wrapper = False
        if isinstance(document, bytes | str):
            document, from_wrapper = _decode(document)
        if not isinstance(document, Mapping):
            raise _fail("$", "type", "a plan must be a JSON object")
        version = document.get("format_version")
        if not isinstance(version, str) or not version:
            raise _fail("format_version", "required", "missing or not a string")
        _check_version(version)
        variables = _dict(document.get("variables"), "variables")
        masker = _Masker(variables, sensitive_inputs) if masked else None
        plan = cls(
            format_version=version,
            terraform_version=_opt_str(document, "terraform_version", "terraform_version"),
            resource_changes=_changes(document.get("resource_changes"), "resource_changes", masker),
            resource_drift=_changes(document.get("resource_drift"), "resource_drift", masker),
            output_changes=_outputs(document.get("output_changes"), _sensitive_outputs(document)),
            relevant_attributes=_list_of_dicts(
                document.get("relevant_attributes"), "relevant_attributes"
            ),
            checks=_list_of_dicts(document.get("checks"), "checks"),
            configuration=_dict(document.get("configuration"), "configuration"),
            variables=variables,
            prior_state=_dict(document["prior_state"], "prior_state")
            if document.get("prior_state") is not None
            else None,
            applyable=_opt_bool(document, "applyable"),
            complete=_opt_bool(document, "complete"),
            errored=bool(_opt_bool(document, "errored")),
            raw=document,
            deferred_changes=_deferred(document.get("deferred_changes"), masker),
            from_wrapper=from_wrapper,
        )
        if masker is None:
            return plan
        # The changes are masked already; the rest is small and masked as masked_plan does.
        plan.output_changes = [masker.output(o) for o in plan.output_changes]
        plan.variables = masker.variables(variables)
        plan.prior_state = None
        plan.configuration = masker.clean(mask(plan.configuration, None))
        plan.raw = masker.raw(document, plan.variables)
        return plan

    def counts(self) -> dict[Action, int]:
        """How many managed resources each action touches (no-op and read excluded)."""
        # Counted in C (Counter), then the two actions that change nothing dropped: a Python loop
        # doing the same was the summary's largest cost on plans of tens of thousands.
        counted = Counter(c.action for c in self.resource_changes if c.mode == "managed")
        counted.pop(Action.NO_OP, None)
        counted.pop(Action.READ, None)
        return dict(counted)

    def imports(self) -> list[ResourceChange]:
        """Managed resources the plan imports into the state (``change.importing``)."""
        return [c for c in self.resource_changes if c.importing is not None]

    def moves(self) -> list[ResourceChange]:
        """Managed resources whose address changes (``moved`` blocks): ``previous_address``."""
        return [
            c
            for c in self.resource_changes
            if c.previous_address is not None and c.previous_address != c.address
        ]

    def forgets(self) -> list[ResourceChange]:
        """Managed resources removed from the state but kept in the world (``removed`` blocks)."""
        return [c for c in self.resource_changes if c.action is Action.FORGET]

    def operations(self) -> dict[str, int]:
        """How many imports, moves, forgets and deferred changes the plan holds (zeros left out).

        These are invisible in :meth:`counts` (an import is usually a ``no-op`` action, a move
        too), yet each changes the state: a plan holding only imports is not "no changes".
        """
        found = {
            "import": len(self.imports()),
            "move": len(self.moves()),
            "forget": len(self.forgets()),
            "deferred": len(self.deferred_changes),
        }
        return {name: n for name, n in found.items() if n}

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would change any managed resource, output or the state
        (imports, moves, forgets), or Terraform deferred changes to a later plan."""
        return (
            bool(self.counts())
            or bool(self.operations())
            or any(o.action is not Action.NO_OP for o in self.output_changes)
        )

    def incomplete(self) -> str | None:
        """Why this plan cannot be trusted as the whole change, or ``None`` when it can.

        Terraform writes a plan file even when planning fails: such a document says
        ``errored: true`` (and ``complete: false``, ``applyable: false``) and holds only what was
        planned before the error, so judging it as if it were whole would miss what the failed
        part changes. ``complete: false`` alone means Terraform deferred changes to a later plan.
        (``applyable: false`` alone is normal: Terraform says so of a plan without changes.)
        """
        if self.errored:
            return (
                "Terraform reported errors while planning (errored: true): the plan is "
                "incomplete and cannot be applied; fix the errors and plan again"
            )
        if self.complete is False:
            deferred = len(self.deferred_changes)
            detail = f" ({deferred} deferred change(s))" if deferred else ""
            return (
                f"the plan is incomplete (complete: false){detail}: applying it leaves changes "
                "for a later plan"
            )
        return None

    @property
    def drifted_addresses(self) -> list[str]:
        """Addresses whose real object differs from the state (from ``resource_drift``)."""
        return [c.address for c in self.resource_drift]

    def masked(self, *, sensitive_inputs: Sequence[str] = ()) -> Plan:
        """This plan with sensitive values masked (see :func:`masked_plan`)."""
        return masked_plan(self, sensitive_inputs)

    def drifted_paths(self) -> dict[str, list[str]]:
        """Attribute paths that changed out of band, per drifted address."""

        return {c.address: changed_paths(c.before, c.after) for c in self.resource_drift}


#: What ``hashicorp/setup-terraform``'s wrapper adds around Terraform's output: the command line
#: (``[command]/.../terraform-bin show -json tfplan``) and workflow commands (``::debug::``,
#: ``::set-output``, ``::error::``...) that it prints after it.
_WRAPPER_LINE = re.compile(r"^(?:\[command\]|::[a-z-]+(?: [^:]*)?::)")
WRAPPER_FIX = (
    "this looks like the output of hashicorp/setup-terraform's wrapper; set "
    "`terraform_wrapper: false` on that step (or write the plan with `terraform show -json "
    "tfplan > plan.json` from a step without the wrapper)"
)


@contextlib.contextmanager
def bulk_building() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a plan's objects are built.

    A plan is a tree (JSON values, changes referring to them): nothing in it can form a
    reference cycle, and reference counting frees all of it. Yet building it allocates hundreds
    of thousands of containers, and each allocation burst makes the collector walk every live
    container again, the whole document included: measured on a 10,000-resource plan, two thirds
    of ``json.loads``'s own time and more than the parsing itself (``bench/plan_parse.py``).
    The collector is resumed afterwards only if it was running (an application that turned it
    off keeps it off); no memory is held longer, since trees are freed by reference counts.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def strip_wrapper(text: str) -> str | None:
    """``text`` without the lines ``hashicorp/setup-terraform``'s wrapper adds, or ``None`` when
    it has none of them."""
    lines = text.splitlines()
    kept = [line for line in lines if not _WRAPPER_LINE.match(line)]
    return None if len(kept) == len(lines) else "\n".join(kept)


def _decode(document: bytes | str) -> tuple[Any, bool]:
    import json

    try:
        return json.loads(document), False
    except (ValueError, RecursionError) as exc:
        error = exc
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    stripped = strip_wrapper(text)
    if stripped is None:
        raise _fail("$", "json", f"not valid JSON: {error}") from None
    try:
        return json.loads(stripped), True
    except (ValueError, RecursionError) as exc:
        raise _fail(
            "$", "json", f"not valid JSON even without the wrapper's lines: {exc}; {WRAPPER_FIX}"
        ) from None


def _deferred(value: Any, masker: _Masker | None = None) -> list[DeferredChange]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("deferred_changes", "type", "must be an array")
    result = []
    for i, item in enumerate(value):
        where = f"deferred_changes[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, "type", "must be an object")
        reason = item.get("reason") or "unknown"
        if not isinstance(reason, str):
            raise _fail(f"{where}.reason", "type", "must be a string")
        change = _change(item.get("resource_change"), f"{where}.resource_change", None, masker)
        result.append(DeferredChange(reason, change))
    return result


def _check_version(version: str) -> None:
    match = _VERSION.fullmatch(version)
    if match is None:
        raise _fail("format_version", "format", f"{version!r} is not a version such as '1.2'")
    major, minor = int(match.group(1)), int(match.group(2))
    if major > int(SUPPORTED_MAJOR):
        raise _fail(
            "format_version",
            "unsupported_version",
            f"format {version!r} is not supported: a newer major version than this tfpilot "
            "reads (0.1 to 1.x); upgrade tfpilot",
        )
    if (major, minor) < OLDEST_FORMAT:
        raise _fail(
            "format_version",
            "unsupported_version",
            f"format {version!r} is not supported (older than 0.1)",
        )


def _opt_str(doc: Mapping[str, Any], key: str, path: str) -> str:
    value = doc.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(path, "type", "must be a string")
    return value


def _opt_bool(doc: Mapping[str, Any], key: str) -> bool | None:
    value = doc.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _fail(key, "type", "must be true or false")


def _dict(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "type", "must be an object")
    return value


def _list_of_dicts(value: Any, path: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "type", "must be an array")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _fail(f"{path}[{i}]", "type", "must be an object")
    return value


def _actions(value: Any, path: str) -> tuple[tuple[str, ...], Action]:
    # Every valid combination is a key of _ACTIONS, so one lookup validates types and values.
    if isinstance(value, list):
        actions = tuple(value)
        try:
            action = _ACTIONS.get(actions)
        except TypeError:  # unhashable items, e.g. nested arrays
            action = None
        if action is not None:
            return actions, action
        if all(isinstance(a, str) for a in value):
            raise _fail(path, "unknown_action", f"unknown action combination {list(actions)!r}")
    raise _fail(path, "type", "must be an array of strings")


_STR_FIELDS = ("provider_name", "module_address", "previous_address", "deposed", "action_reason")


def _changes(value: Any, path: str, masker: _Masker | None = None) -> list[ResourceChange]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "type", "must be an array")
    # The hot path of parsing (one call per resource): the item's path is built only for an
    # error message, never for an item that is fine.
    change = _change
    return [change(item, path, i, masker) for i, item in enumerate(value)]


def _change(
    item: Any, path: str, index: int | None = None, masker: _Masker | None = None
) -> ResourceChange:
    """One resource change (masked by ``masker``, when given); ``path[index]`` (or ``path``
    alone) names it in errors."""
    if not isinstance(item, dict):
        raise _fail(_where(path, index), "type", "must be an object")
    get = item.get
    change = get("change")
    if not isinstance(change, dict):
        raise _fail(f"{_where(path, index)}.change", "required", "missing or not an object")
    address, rtype, name = get("address"), get("type"), get("name")
    if not isinstance(address, str) or not address:
        raise _fail(f"{_where(path, index)}.address", "required", "missing or not a string")
    if not isinstance(rtype, str) or not isinstance(name, str):
        raise _fail(f"{_where(path, index)}.type", "required", "type and name must be strings")
    mode = get("mode", "managed")
    if mode != "managed" and mode != "data":
        raise _fail(f"{_where(path, index)}.mode", "enum", "must be 'managed' or 'data'")
    provider_name = get("provider_name")
    module_address = get("module_address")
    previous_address = get("previous_address")
    deposed = get("deposed")
    action_reason = get("action_reason")
    for found in (provider_name, module_address, previous_address, deposed, action_reason):
        if found is not None and not isinstance(found, str):
            key = next(k for k in _STR_FIELDS if get(k) is found)
            raise _fail(f"{_where(path, index)}.{key}", "type", "must be a string")
    change_get = change.get
    actions = change_get("actions")
    # Every valid combination is a key of _ACTIONS: one lookup validates types and values.
    action: Action | None = None
    if isinstance(actions, list):
        combination: tuple[str, ...] = tuple(actions)
        try:
            action = _ACTIONS.get(combination)
        except TypeError:  # unhashable items, e.g. nested arrays
            action = None
    if action is None:
        # Raises, naming the rule (a bad type, or an unknown combination).
        combination, action = _actions(actions, f"{_where(path, index)}.change.actions")
    replace_paths = change_get("replace_paths") or []
    if not isinstance(replace_paths, list):
        raise _fail(f"{_where(path, index)}.change.replace_paths", "type", "must be an array")
    before, after = change_get("before"), change_get("after")
    before_sensitive, after_sensitive = (
        change_get("before_sensitive"),
        change_get("after_sensitive"),
    )
    changed: frozenset[str] = frozenset()
    if masker is not None:
        changed = sensitive_changed(before, after, before_sensitive, after_sensitive)
        before, after = masker.values(before, before_sensitive, after, after_sensitive)
    return ResourceChange(
        address,
        rtype,
        name,
        mode,
        combination,
        action,
        provider_name or "",
        module_address,
        previous_address,
        get("index"),
        deposed,
        action_reason,
        before,
        after,
        change_get("after_unknown"),
        before_sensitive,
        after_sensitive,
        replace_paths,
        change_get("importing"),
        changed,
    )


def _where(path: str, index: int | None) -> str:
    return path if index is None else f"{path}[{index}]"


def _sensitive_outputs(document: Mapping[str, Any]) -> frozenset[str]:
    # Format 0.1 has no sensitive marks in output_changes: only planned_values says which outputs
    # are sensitive, and masking must not lose that (it drops planned_values).
    planned = document.get("planned_values")
    outputs = planned.get("outputs") if isinstance(planned, dict) else None
    if not isinstance(outputs, dict):
        return frozenset()
    return frozenset(
        name for name, out in outputs.items() if isinstance(out, dict) and out.get("sensitive")
    )


def _outputs(value: Any, sensitive_names: frozenset[str] = frozenset()) -> list[OutputChange]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _fail("output_changes", "type", "must be an object")
    result = []
    for name, change in value.items():
        where = f"output_changes.{name}"
        if not isinstance(change, dict):
            raise _fail(where, "type", "must be an object")
        actions, action = _actions(change.get("actions"), f"{where}.actions")
        sensitive = (
            change.get("after_sensitive") is True
            or change.get("before_sensitive") is True
            or name in sensitive_names
        )
        result.append(
            OutputChange(
                name=name,
                actions=actions,
                action=action,
                before=change.get("before"),
                after=change.get("after"),
                after_unknown=change.get("after_unknown"),
                sensitive=sensitive,
            )
        )
    return result


class _Masker:
    """The masking rule of :func:`masked_plan`, built once per plan and applied per part, so that
    :meth:`Plan.parse` can mask each change as it reads it (one pass, no unmasked copy kept)."""

    __slots__ = ("hidden", "secrets")

    def __init__(self, variables: Mapping[str, Any], sensitive_inputs: Sequence[str]) -> None:
        self.hidden = frozenset(sensitive_inputs)
        # Values Terraform marks are masked structurally. The values of sensitive module inputs
        # are also scrubbed from every string, because a module can copy them into attributes
        # that Terraform does not mark (e.g. a password interpolated into a connection string).
        secrets: list[str] = []
        for name in self.hidden:
            variable = variables.get(name)
            value = variable.get("value") if isinstance(variable, dict) else None
            if value is not None:
                secrets += sensitive_strings(value, True)
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def clean(self, value: Any) -> Any:
        """``value`` with the sensitive inputs' values scrubbed from its strings."""
        if not self.secrets:
            return value
        secrets = self.secrets
        return map_strings(value, lambda text: scrub_text(text, secrets))

    def values(
        self, before: Any, before_sensitive: Any, after: Any, after_sensitive: Any
    ) -> tuple[Any, Any]:
        """A change's ``before`` and ``after`` masked (the same objects when nothing is hidden)."""
        before = mask(before, before_sensitive)
        after = mask(after, after_sensitive)
        if self.secrets:
            return self.clean(before), self.clean(after)
        return before, after

    def change(self, change: ResourceChange) -> ResourceChange:
        """``change`` masked; itself when nothing is hidden (changes are never mutated)."""
        # values() inlined: this runs once per change of plans of tens of thousands.
        before = mask(change.before, change.before_sensitive)
        after = mask(change.after, change.after_sensitive)
        if self.secrets:
            before, after = self.clean(before), self.clean(after)
        if before is change.before and after is change.after:
            return change
        changed = sensitive_changed(
            change.before, change.after, change.before_sensitive, change.after_sensitive
        )
        return change.with_values(before, after, changed)

    def output(self, output: OutputChange) -> OutputChange:
        """``output`` masked: wholly when sensitive, else scrubbed."""
        from dataclasses import replace

        return replace(
            output,
            before=MASK if output.sensitive else self.clean(output.before),
            after=MASK if output.sensitive else self.clean(output.after),
        )

    def variables(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The plan's variables, the sensitive inputs' values masked."""
        hidden = self.hidden
        return {
            k: ({"value": MASK} if k in hidden else self.clean(v)) for k, v in variables.items()
        }

    def raw(self, raw: Mapping[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
        """The document, without the parts that hold values (read from the plan's fields)."""
        kept = dict(raw)
        kept["variables"] = variables
        for key in _VALUE_KEYS:
            kept.pop(key, None)
        return kept


#: Parts of the document that hold values, dropped from a masked plan's ``raw``.
_VALUE_KEYS = (
    "prior_state",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "planned_values",
    "deferred_changes",
)


def masked_plan(plan: Plan, sensitive_inputs: Sequence[str] = ()) -> Plan:
    """A copy of ``plan`` fit to leave tfpilot: sensitive values replaced by a mask.

    Masks what Terraform marks sensitive (``*_sensitive``), sensitive outputs, and the values of
    the module inputs marked sensitive wherever they appear as strings in the plan. ``raw`` of the
    copy is the masked document too, so nothing downstream can reach the clear values.
    ``Plan.parse(document, masked=True)`` gives the same plan in one pass.
    """

    with bulk_building():
        return _masked_plan(plan, sensitive_inputs)


def _masked_plan(plan: Plan, sensitive_inputs: Sequence[str]) -> Plan:
    from dataclasses import replace

    masker = _Masker(plan.variables, sensitive_inputs)
    change = masker.change
    variables = masker.variables(plan.variables)
    return replace(
        plan,
        resource_changes=[change(c) for c in plan.resource_changes],
        deferred_changes=[
            DeferredChange(d.reason, change(d.change)) for d in plan.deferred_changes
        ],
        resource_drift=[change(c) for c in plan.resource_drift],
        output_changes=[masker.output(o) for o in plan.output_changes],
        variables=variables,
        prior_state=None,
        configuration=masker.clean(mask(plan.configuration, None)),
        raw=masker.raw(plan.raw, variables),
    )
