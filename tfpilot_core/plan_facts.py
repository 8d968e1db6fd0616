"""Deterministic facts of a plan: what a model may be told, and what its answer is checked against.

:func:`extract_facts` turns a *masked* plan, its request and the summary context (policy findings,
cost) into :class:`SummaryFacts`: counts per action, every destructive change with its reason
(Terraform's ``action_reason`` and the attributes in ``replace_paths`` forcing a replacement),
creations, updates and drift with their changed attribute paths and before/after values
(:class:`AttributeChange`), imports, moves, exposure changes (public access, encryption:
:class:`ExposureFact`), outputs, the cost and its delta, the findings, and the rules summary.

Values are shown only where they are safe: a value Terraform or the module marks sensitive reads
:data:`SECRET_MASK` (the plan is masked before it gets here), a value known only after apply reads
:data:`UNKNOWN`, and every string goes through the scrubber, so a secret-looking value reads
:data:`SECRET_MASK` too. Long values are shortened. Each resource lists at most
``max_attributes`` paths (the rest counted in ``more``); updates and drift are listed largest
change first, so trimming keeps the changes that matter most.

Defence in depth, because facts are meant to leave tfpilot (an LLM prompt): every string is passed
through :func:`scrub_secrets` (values of sensitive inputs, and anything that looks like a key, a
token or a connection string), whatever its origin.

The same facts, and the same plan, always give the same :meth:`SummaryFacts.digest`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tfpilot_core.masking import MASK, deep_equal, sensitive_strings

# The secret scrubber lives with the masking rules (it is light: the plugin host uses it too);
# these names stay importable from here.
from tfpilot_core.masking import (
    SECRET_MASK as SECRET_MASK,
)
from tfpilot_core.masking import (
    SECRET_PATTERNS as SECRET_PATTERNS,
)
from tfpilot_core.masking import Scrubber as Scrubber
from tfpilot_core.masking import looks_secret as looks_secret
from tfpilot_core.masking import scrub_secrets as scrub_secrets
from tfpilot_core.plan import Action
from tfpilot_core.summary_rules import (
    REASONS,
    changed_attributes,
    replace_attributes,
    summarize_plan,
)

if TYPE_CHECKING:
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import Request
    from tfpilot_core.plan import Plan, ResourceChange

#: What a value known only after apply reads in the facts (Terraform's own words).
UNKNOWN = "(known after apply)"
#: Longest value shown as it is; longer strings and containers are shortened.
MAX_VALUE_CHARS = 80
#: Attribute paths listed per resource by default (the rest are counted).
MAX_ATTRIBUTES = 20


@dataclass(frozen=True)
class AttributeChange:
    """One changed attribute path with its masked before and after values."""

    path: str
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class DestructiveFact:
    """One delete or replacement, with why Terraform does it (and, for a replacement, what
    changes)."""

    address: str
    type: str
    action: str
    reason: str | None = None
    forced_by: tuple[str, ...] = ()
    changes: tuple[AttributeChange, ...] = ()
    #: Changed paths left out of ``changes`` (over the per-resource budget).
    more: int = 0


@dataclass(frozen=True)
class ChangeFact:
    """One creation, update, or drifted object: its changed attribute names (``attributes``, as
    the rules summary lists them) and paths with masked values (``changes``)."""

    address: str
    type: str
    attributes: tuple[str, ...] = ()
    changes: tuple[AttributeChange, ...] = ()
    #: Changed paths left out of ``changes`` (over the per-resource budget).
    more: int = 0


@dataclass(frozen=True)
class ExposureFact:
    """A change of exposure: public access granted or removed, encryption turned off or on.

    ``change`` is one of :data:`EXPOSURE_KINDS`; ``attribute`` is the path that shows it.
    """

    address: str
    change: str
    attribute: str


#: The exposure changes facts (and claims) can name.
EXPOSURE_KINDS = ("made_public", "made_private", "encryption_off", "encryption_on")


@dataclass
class SummaryFacts:
    """Everything a summary may say about a plan; see the module docstring."""

    request_id: str
    module: str
    environment: str
    counts: dict[str, int]
    destructive: list[DestructiveFact]
    created: list[ChangeFact]
    updated: list[ChangeFact]
    drift: list[ChangeFact]
    outputs: list[str]
    cost: dict[str, str | None] | None
    findings: list[dict[str, str | None]]
    rules_summary: str
    #: Per list, how many items were left out to keep the facts within their budget
    #: (``attributes``: changed paths left out of listed resources).
    omitted: dict[str, int] = field(default_factory=dict)
    #: Resources imported into the state: ``{"address", "id"}`` (the id scrubbed).
    imports: list[dict[str, str]] = field(default_factory=list)
    #: Resources whose address changes: ``{"address", "from"}``.
    moves: list[dict[str, str]] = field(default_factory=list)
    #: Exposure changes (never trimmed: a summary may need to mention each).
    exposure: list[ExposureFact] = field(default_factory=list)
    #: Every finding rule with its level and how many findings it made (never trimmed: a
    #: summary must mention each blocking or mandatory one, even when ``findings`` is cut).
    finding_rules: list[dict[str, str | int]] = field(default_factory=list)

    def to_dict(self, *, with_rules_summary: bool = False) -> dict[str, Any]:
        """The facts as JSON-ready data (the rules summary only on request: it repeats them)."""
        # Built by hand rather than with ``asdict`` (which deep-copies every value: 3x slower on
        # large facts); empty per-resource extras cost prompt tokens and say nothing: left out.
        data: dict[str, Any] = {
            "request_id": self.request_id,
            "module": self.module,
            "environment": self.environment,
            "counts": dict(self.counts),
            "destructive": [_fact_dict(d) for d in self.destructive],
            "created": [_fact_dict(c) for c in self.created],
            "updated": [_fact_dict(c) for c in self.updated],
            "drift": [_fact_dict(c) for c in self.drift],
            "outputs": list(self.outputs),
            "cost": None if self.cost is None else dict(self.cost),
            "findings": [dict(f) for f in self.findings],
            "omitted": dict(self.omitted),
            "imports": [dict(i) for i in self.imports],
            "moves": [dict(m) for m in self.moves],
            "exposure": [
                {"address": e.address, "change": e.change, "attribute": e.attribute}
                for e in self.exposure
            ],
            "finding_rules": [dict(r) for r in self.finding_rules],
        }
        if with_rules_summary:
            data["rules_summary"] = self.rules_summary
        return data

    def to_json(self) -> str:
        """Canonical compact JSON of :meth:`to_dict` (what a prompt carries)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)

    def digest(self) -> str:
        """sha256 of the canonical facts: equal facts, equal digest."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def addresses(self) -> set[str]:
        """Every resource address the facts name (changes, drift, findings)."""
        found = {d.address for d in self.destructive}
        for group in (self.created, self.updated, self.drift):
            found.update(c.address for c in group)
        found.update(str(f["address"]) for f in self.findings if f.get("address"))
        return found

    def numbers(self) -> set[Decimal]:
        """Every number the facts contain, in any field (counts, sizes of lists, money)."""
        found: set[Decimal] = set()
        for value in self.counts.values():
            found.add(Decimal(value))
        found.add(Decimal(sum(self.counts.values())))
        for group in (self.destructive, self.created, self.updated, self.drift, self.findings):
            found.add(Decimal(len(group)))
        found.add(Decimal(len(self.outputs)))
        found.update(Decimal(v) for v in self.omitted.values())
        found.update(numbers_in(json.dumps(self.to_dict(with_rules_summary=True), default=str)))
        return found | {abs(n) for n in found}

    def trimmed(self, max_items: int) -> SummaryFacts:
        """A copy listing at most ``max_items`` creations, updates, drifts and findings.

        Destructive changes are never trimmed: a summary must mention each of them.
        """
        omitted = dict(self.omitted)

        def cut(name: str, items: list[Any]) -> list[Any]:
            if len(items) > max_items:
                omitted[name] = omitted.get(name, 0) + len(items) - max_items
                return items[:max_items]
            return items

        return SummaryFacts(
            request_id=self.request_id,
            module=self.module,
            environment=self.environment,
            counts=self.counts,
            destructive=self.destructive,
            created=cut("created", self.created),
            updated=cut("updated", self.updated),
            drift=cut("drift", self.drift),
            outputs=cut("outputs", self.outputs),
            cost=self.cost,
            findings=cut("findings", self.findings),
            rules_summary=self.rules_summary,
            omitted=omitted,
            imports=cut("imports", self.imports),
            moves=cut("moves", self.moves),
            exposure=self.exposure,
            finding_rules=self.finding_rules,
        )


def _fact_dict(fact: DestructiveFact | ChangeFact) -> dict[str, Any]:
    data: dict[str, Any] = {"address": fact.address, "type": fact.type}
    if isinstance(fact, DestructiveFact):
        data.update(action=fact.action, reason=fact.reason, forced_by=list(fact.forced_by))
    elif fact.attributes:
        data["attributes"] = list(fact.attributes)
    if fact.changes:
        data["changes"] = [
            {"path": c.path, "before": c.before, "after": c.after} for c in fact.changes
        ]
    if fact.more:
        data["more"] = fact.more
    return data


_NUMBER = re.compile(r"(?<![\w.-])[-+]?\d[\d,]*(?:\.\d+)?")


def numbers_in(text: str) -> set[Decimal]:
    """Every number written in ``text`` (``1,234.50`` reads as 1234.50; signs dropped)."""
    found: set[Decimal] = set()
    for match in _NUMBER.findall(text):
        cleaned = match.replace(",", "").lstrip("+-")
        try:
            found.add(Decimal(cleaned).normalize())
        except ArithmeticError:
            continue
    return {n.normalize() for n in found}


def _shown(value: Any, clean: Any) -> Any:
    """``value`` as the facts show it: scalars as they are, strings scrubbed and shortened,
    containers as compact JSON when short, else described by their size."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        text = clean(value)
        if len(text) > MAX_VALUE_CHARS:
            return f"{text[: MAX_VALUE_CHARS - 20]}... ({len(text)} characters)"
        return text
    if isinstance(value, dict | list):
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        except (ValueError, RecursionError):
            text = ""
        text = clean(text) if text else ""
        if text and len(text) <= MAX_VALUE_CHARS:
            return text
        kind = "map" if isinstance(value, dict) else "list"
        return f"({kind} of {len(value)} items)"
    return clean(str(value))[:MAX_VALUE_CHARS]


def _equal(left: Any, right: Any) -> bool:

    try:
        return bool(left == right)
    except RecursionError:  # values nested deeper than Python's == can compare
        return deep_equal(left, right)


def attribute_changes(
    before: Any, after: Any, unknown: Any = None, *, create: bool = False
) -> list[tuple[str, Any, Any]]:
    """``(path, before, after)`` of every changed leaf, in path order (raw, unmasked values).

    Maps are walked key by key (``tags.team``), lists of equal length index by index
    (``ingress[0].cidr``); other lists are one value. A leaf ``after_unknown`` marks reads
    :data:`UNKNOWN` after (skipped for a creation: everything not yet known is new). Iterative, so
    values of any depth are compared without RecursionError.
    """
    found: list[tuple[str, Any, Any]] = []
    stack: list[tuple[Any, Any, Any, str]] = [(before, after, unknown, "")]
    while stack:
        old, new, unk, path = stack.pop()
        if unk is True:
            if not create:
                found.append((path, old, UNKNOWN))
            continue
        old_map = isinstance(old, dict) or (old is None and isinstance(new, dict))
        new_map = isinstance(new, dict) or (new is None and isinstance(old, dict))
        if old_map and new_map and (old is not None or new is not None):
            o = old if isinstance(old, dict) else {}
            n = new if isinstance(new, dict) else {}
            u = unk if isinstance(unk, dict) else {}
            keys = set(o) | set(n) | set(u)
            children = []
            for key in sorted(keys, key=str):
                ov, nv, uv = o.get(key), n.get(key), u.get(key)
                if (uv is None or uv is False) and (ov is nv or _equal(ov, nv)):
                    continue
                child = f"{path}.{key}" if path else str(key)
                children.append((ov, nv, uv, child))
            stack.extend(reversed(children))
            continue
        if (
            isinstance(old, list)
            and isinstance(new, list)
            and len(old) == len(new)
            and (unk is None or isinstance(unk, list))
        ):
            u_list = unk if isinstance(unk, list) else []
            children = []
            for i, (ov, nv) in enumerate(zip(old, new, strict=True)):
                uv = u_list[i] if i < len(u_list) else None
                if (uv is None or uv is False) and _equal(ov, nv):
                    continue
                children.append((ov, nv, uv, f"{path}[{i}]"))
            stack.extend(reversed(children))
            continue
        if not _equal(old, new):
            found.append((path or ".", old, new))
    return found


#: Attribute names that grant or remove public access when true (``block_public_*`` inverts).
_PUBLIC_WORDS = ("public", "internet_facing")
_PUBLIC_VALUES = ("public", "public-read", "public-read-write", "0.0.0.0/0", "::/0", "*")
_OFF_VALUES = ("", "none", "disabled", "off", "false")


_EXPOSURE_NAME = re.compile(
    r"public|internet_facing|encrypt|^acl$|^cidr_blocks?$|^ipv6_cidr_blocks$|^source_ranges$", re.I
)
_ABOUT_EXPOSURE: dict[Any, bool] = {}


def _about_exposure(name: Any) -> bool:
    """Whether attribute ``name`` can show an exposure change (cached: names repeat a lot)."""
    known = _ABOUT_EXPOSURE.get(name)
    if known is None:
        known = bool(_EXPOSURE_NAME.search(str(name)))
        if len(_ABOUT_EXPOSURE) < 10_000:
            _ABOUT_EXPOSURE[name] = known
    return known


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _OFF_VALUES
    if isinstance(value, list | dict):
        return bool(value)
    return bool(value)


def _public(name: str, value: Any) -> bool | None:
    """Whether ``value`` of attribute ``name`` means public access (None: not an exposure)."""

    lowered = name.lower()
    if value in (MASK, UNKNOWN):
        return None
    if lowered.startswith(("block_public", "restrict_public", "ignore_public")):
        return None if value is None else not _truthy(value)
    if any(word in lowered for word in _PUBLIC_WORDS):
        if isinstance(value, str):
            return value.strip().lower() in _PUBLIC_VALUES or value.strip().lower() == "true"
        return None if value is None else _truthy(value)
    if lowered in ("acl", "cidr_blocks", "cidr_block", "source_ranges", "ipv6_cidr_blocks"):
        values = value if isinstance(value, list) else [value]
        return any(isinstance(v, str) and v.strip().lower() in _PUBLIC_VALUES for v in values)
    return None


def _encrypted(name: str, value: Any) -> bool | None:
    """Whether ``value`` of attribute ``name`` means encryption on (None: not about it)."""

    lowered = name.lower()
    if "encrypt" not in lowered or value in (MASK, UNKNOWN):
        return None
    if "key" in lowered or "kms" in lowered:
        return None  # which key, not whether
    return _truthy(value)


def exposure_changes(
    address: str, before: Any, after: Any, *, create: bool = False
) -> list[ExposureFact]:
    """The exposure changes between top-level ``before`` and ``after`` values of one resource.

    Public access turned on (``public_access`` true, ``block_public_*`` false, an ACL or CIDR
    open to everyone) or off; encryption turned off (``encryption`` false) or on. A creation
    counts as public or unencrypted when it is created so; otherwise only a change counts.
    """
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    found: list[ExposureFact] = []
    names = [n for n in new if _about_exposure(n)]
    names += [n for n in old if n not in new and _about_exposure(n)]
    if not names:
        return found
    for name in sorted(names, key=str):
        key = str(name)
        was, now = old.get(name), new.get(name)
        for judge, on, off in (
            (_public, "made_public", "made_private"),
            (_encrypted, "encryption_on", "encryption_off"),
        ):
            then_, later = judge(key, was), judge(key, now)
            if later is None:
                continue
            if create:
                if (later and on == "made_public") or (not later and off == "encryption_off"):
                    found.append(ExposureFact(address, on if later else off, key))
            elif then_ is not None and then_ != later:
                found.append(ExposureFact(address, on if later else off, key))
    return found


def _sensitive_input_values(request: Request, plan: Plan) -> list[str]:
    """Values of the request's inputs that the masked plan shows as masked (sensitive inputs)."""

    found: list[str] = []
    for name, variable in plan.variables.items():
        if isinstance(variable, dict) and variable.get("value") == MASK and name in request.inputs:
            found += sensitive_strings(request.inputs[name], True)
    return found


def extract_facts(
    request: Request,
    plan: Plan,
    context: SummaryContext,
    *,
    secrets: Sequence[str] = (),
    max_items: int | None = None,
) -> SummaryFacts:
    """The facts of a masked ``plan`` (see the module docstring and :class:`FactsExtractor`)."""
    return FactsExtractor(request, plan, context, secrets=secrets).facts(max_items)


class FactsExtractor:
    """Extracts the facts of one masked plan, as often as needed with different list lengths.

    What every extraction shares (sorted changes, counts, the rules summary, the scrubber) is
    computed once, so trying several budgets on a large plan costs little more than one.
    ``secrets`` are extra strings to scrub (e.g. resolved credentials); the values of inputs the
    plan shows masked are scrubbed in any case.
    """

    def __init__(
        self,
        request: Request,
        plan: Plan,
        context: SummaryContext,
        *,
        secrets: Sequence[str] = (),
    ) -> None:

        self.request = request
        self.plan = plan
        self.context = context
        self.scrubber = Scrubber([*secrets, *_sensitive_input_values(request, plan)])
        managed = sorted(
            (c for c in plan.resource_changes if c.mode == "managed"), key=lambda c: c.address
        )
        self.counts = plan.counts()
        create, update, delete, replace, no_op = (
            Action.CREATE,
            Action.UPDATE,
            Action.DELETE,
            Action.REPLACE,
            Action.NO_OP,
        )
        clean = self.scrubber.text
        self._destructive: list[ResourceChange] = []
        self._created: list[ResourceChange] = []
        updated: list[ResourceChange] = []
        self.exposure: list[ExposureFact] = []
        #: Every managed address with its action (and every drifted address, ``drifted``):
        #: what claims about actions are checked against, listed or not. Not scrubbed: they
        #: never leave tfpilot, and a claim naming a scrubbed address matches none of them and
        #: is refused, which fails safe.
        self.actions: dict[str, str] = {}
        # One pass over a plan that can hold tens of thousands of changes.
        for c in managed:
            action = c.action
            if action is no_op:
                continue
            self.actions[c.address] = action  # a StrEnum: equal to its value
            if action is create:
                self._created.append(c)
            elif action is update:
                updated.append(c)
            elif action is delete or action is replace:
                self._destructive.append(c)
            if action is create or action is update or action is replace:
                found = exposure_changes(c.address, c.before, c.after, create=action is create)
                self.exposure += [
                    ExposureFact(clean(e.address), e.change, clean(e.attribute)) for e in found
                ]
        # Updates and drift are listed largest change first (then by address), so that a
        # trimmed list keeps the changes that say most. The size is the number of changed
        # top-level attributes: a cheap measure (paths are computed only for listed changes).
        self._diffs: dict[int, list[tuple[str, Any, Any]]] = {}
        self._updated = sorted(updated, key=_size)
        drift = sorted(plan.resource_drift, key=lambda c: c.address)
        self._drift = sorted(drift, key=_size)
        self._imports = [
            {"address": clean(c.address), "id": clean(str(_import_id(c.importing)))}
            for c in sorted(plan.imports(), key=lambda c: c.address)
            if c.mode == "managed"
        ]
        self._moves = [
            {"address": clean(c.address), "from": clean(str(c.previous_address))}
            for c in sorted(plan.moves(), key=lambda c: c.address)
            if c.mode == "managed"
        ]
        self.drifted: set[str] = {c.address for c in drift}
        self._outputs = sorted(o.name for o in plan.output_changes if o.action is not Action.NO_OP)
        self._findings = sorted(
            context.findings, key=lambda f: (f.rule_id, f.address or "", f.message)
        )
        rules: dict[tuple[str, str], int] = {}
        for f in self._findings:
            rules[(f.rule_id, f.level.value)] = rules.get((f.rule_id, f.level.value), 0) + 1
        #: Each finding rule and level with its number of findings (see SummaryFacts).
        self.finding_rules: list[dict[str, str | int]] = [
            {"rule_id": rule, "level": level, "count": n}
            for (rule, level), n in sorted(rules.items())
        ]
        text, markdown = summarize_plan(request, plan, context)
        #: The rules summary (text, Markdown): the fallback, and part of every facts' record.
        self.rules_text = text
        self.rules_markdown = markdown
        self._rules_clean = self.scrubber.text(text)

    def listed(self, max_items: int | None) -> int:
        """How many items :meth:`facts` lists with ``max_items`` (to skip hopeless budgets)."""
        lists = (
            self._created,
            self._updated,
            self._drift,
            self._outputs,
            self._findings,
            self._imports,
            self._moves,
        )
        sizes = [len(items) for items in lists]
        if max_items is not None:
            sizes = [min(n, max_items) for n in sizes]
        return len(self._destructive) + len(self.exposure) + sum(sizes)

    def _changes(
        self, change: ResourceChange, max_attributes: int, omitted: dict[str, int]
    ) -> tuple[tuple[AttributeChange, ...], int]:

        # Kept: fitting a prompt builds the facts of the same changes several times.
        diff = self._diffs.get(id(change))
        if diff is None:
            diff = attribute_changes(
                change.before,
                change.after,
                change.after_unknown,
                create=change.action is Action.CREATE,
            )
            self._diffs[id(change)] = diff
        clean = self.scrubber.text
        listed = tuple(
            AttributeChange(clean(path), _shown(old, clean), _shown(new, clean))
            for path, old, new in diff[:max_attributes]
        )
        more = len(diff) - len(listed)
        if more:
            omitted["attributes"] = omitted.get("attributes", 0) + more
        return listed, more

    def facts(
        self, max_items: int | None = None, max_attributes: int = MAX_ATTRIBUTES
    ) -> SummaryFacts:
        """The facts, listing at most ``max_items`` creations, updates, drifted objects, outputs,
        findings, imports and moves each (every destructive change and exposure change always)
        and at most ``max_attributes`` changed paths per resource, the rest counted in
        ``omitted``. Only listed items are built and scrubbed."""

        clean = self.scrubber.text
        omitted: dict[str, int] = {}

        def keep(name: str, items: list[Any]) -> list[Any]:
            if max_items is not None and len(items) > max_items:
                omitted[name] = len(items) - max_items
                return items[:max_items]
            return items

        destructive = [
            DestructiveFact(
                address=clean(c.address),
                type=c.type,
                action=c.action.value,
                reason=clean(REASONS.get(c.action_reason, c.action_reason.replace("_", " ")))
                if c.action_reason
                else None,
                forced_by=tuple(clean(a) for a in replace_attributes(c)),
                changes=changes,
                more=more,
            )
            for c in self._destructive
            for changes, more in [
                self._changes(c, max_attributes, omitted) if c.action is Action.REPLACE else ((), 0)
            ]
        ]

        def change_fact(c: ResourceChange, names: bool) -> ChangeFact:
            changes, more = self._changes(c, max_attributes, omitted)
            attributes = tuple(clean(a) for a in changed_attributes(c)) if names else ()
            return ChangeFact(clean(c.address), c.type, attributes, changes, more)

        created = [change_fact(c, False) for c in keep("created", self._created)]
        updated = [change_fact(c, True) for c in keep("updated", self._updated)]
        drift = [change_fact(c, True) for c in keep("drift", self._drift)]
        outputs = [clean(name) for name in keep("outputs", self._outputs)]
        cost: dict[str, str | None] | None = None
        if self.context.cost is not None:
            estimate = self.context.cost
            delta = estimate.delta
            cost = {
                "currency": estimate.currency,
                "monthly": None if estimate.monthly is None else f"{estimate.monthly:.2f}",
                "previous": None if estimate.previous is None else f"{estimate.previous:.2f}",
                "delta": None if delta is None else f"{delta:+.2f}",
            }
        findings: list[dict[str, str | None]] = [
            {
                "rule_id": f.rule_id,
                "level": f.level.value,
                "address": clean(f.address) if f.address else None,
                "message": clean(f.message),
            }
            for f in keep("findings", self._findings)
        ]
        placement = self.request.placement
        return SummaryFacts(
            request_id=self.request.id,
            module=placement.module,
            environment=placement.environment,
            counts={a.value: n for a, n in sorted(self.counts.items(), key=lambda i: i[0].value)},
            destructive=destructive,
            created=created,
            updated=updated,
            drift=drift,
            outputs=outputs,
            cost=cost,
            findings=findings,
            rules_summary=self._rules_clean,
            omitted=omitted,
            imports=keep("imports", self._imports),
            moves=keep("moves", self._moves),
            exposure=list(self.exposure),
            finding_rules=[dict(r) for r in self.finding_rules],
        )


def _size(change: ResourceChange) -> int:
    """Minus the number of changed top-level attributes of ``change`` (a sort key)."""
    before, after, unknown = change.before, change.after, change.after_unknown
    if not isinstance(before, dict) or not isinstance(after, dict):
        return 0
    get = before.get
    try:
        changed = sum(1 for key, value in after.items() if value != get(key))
    except RecursionError:  # values deeper than == compares: size unknown, listed last
        return 0
    changed += sum(1 for key in before if key not in after)
    if isinstance(unknown, dict):
        changed += sum(1 for key, mark in unknown.items() if mark is True and key not in after)
    return -changed


def _import_id(importing: Any) -> Any:
    # ``importing`` is ``{"id": ...}`` (or ``{"identity": {...}}`` from Terraform 1.12 on).
    if isinstance(importing, dict):
        return importing.get("id") or importing.get("identity") or ""
    return importing
