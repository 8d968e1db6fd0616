"""Infracost's JSON output (format version "0.2") read into tfpilot's cost model, with Decimal.

The format (``infracost breakdown --format json``, ``infracost diff --format json``; see
infracost's ``internal/output`` package): a root with ``version``, ``currency``, ``projects`` and
``totalMonthlyCost``/``pastTotalMonthlyCost``/``diffTotalMonthlyCost``; each project has a
``breakdown`` (after the change), and after a diff a ``pastBreakdown`` (before) and a ``diff``;
each breakdown has ``resources`` with ``costComponents`` and nested ``subresources``.

Money arrives as decimal strings or ``null``. It is read with :class:`~decimal.Decimal` and never
passes through ``float``: the document is decoded with ``parse_float=Decimal``, strings are turned
into ``Decimal`` directly. ``null`` money is *unknown* (a usage-based price with no usage given),
never zero, except for a resource with no cost component at all: Infracost lists free resources
that way, and they cost nothing.

A project Infracost could not price carries ``metadata.errors`` (``{code, message, data,
isError}``: module load failures, no Terraform files, the run quota exceeded...), usually with an
empty breakdown whose total is ``"0"``. Such a project is never read as free: when every project
failed the estimate failed (no money, ``error`` set); when some did, the estimate is *partial*:
the total of the others (a lower bound), and an ``error`` naming the failed projects, so that
``cost.estimate_failed`` judges it and budgets never pass on a silent zero. Anything malformed
raises :class:`InfracostOutputError` naming the JSON path; nothing
else escapes (see the hypothesis tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.models import CostComponent, CostEstimate, CostLine

SUPPORTED_VERSIONS = ("0.2",)
#: Sub-resources nest; deeper than this is not a real document (and would exhaust the stack).
MAX_DEPTH = 32
#: Largest decimal exponent accepted for money and quantities (10**18).
MAX_MAGNITUDE = 18
#: How many of the most changed (and of the unknown) resources keep their cost components.
COMPONENT_LINES = 25
_ZERO = Decimal(0)


class InfracostOutputError(ExternalToolError):
    """Infracost printed something that is not a usable version "0.2" document."""


def _fail(path: str, problem: str) -> InfracostOutputError:
    return InfracostOutputError(f"malformed Infracost output at {path}: {problem}")


@dataclass(slots=True)
class Component:
    """One cost component (``costComponents[i]``); ``None`` money is unknown."""

    name: str
    unit: str
    subresource: str
    monthly_quantity: Decimal | None
    price: Decimal | None
    monthly: Decimal | None
    usage_based: bool


@dataclass(slots=True)
class Resource:
    """One resource with its components, those of its sub-resources flattened in."""

    name: str
    resource_type: str
    monthly: Decimal | None
    components: list[Component]
    unknown: bool


@dataclass(slots=True)
class Breakdown:
    """``breakdown``, ``pastBreakdown`` or ``diff`` of one project."""

    resources: list[Resource]
    total_monthly: Decimal | None


@dataclass(frozen=True, slots=True)
class ProjectError:
    """One entry of a project's ``metadata.errors``: why Infracost could not price it."""

    code: str
    message: str


@dataclass(slots=True)
class Project:
    """One project of the output (one plan file, one directory...)."""

    name: str
    currency: str
    breakdown: Breakdown
    past: Breakdown | None = None
    diff: Breakdown | None = None
    errors: list[ProjectError] = field(default_factory=list)

    def failure(self) -> str | None:
        """The project's errors in one line, or ``None`` when it was priced."""
        if not self.errors:
            return None
        said = "; ".join(
            f"{e.message} (code {e.code})" if e.code else e.message for e in self.errors
        )
        return f"project {self.name or '(unnamed)'!r}: {said}"


@dataclass(slots=True)
class Report:
    """A whole document: projects, and the totals Infracost printed."""

    version: str
    currency: str
    projects: list[Project]
    total_monthly: Decimal | None = None
    past_total_monthly: Decimal | None = None
    diff_total_monthly: Decimal | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)
    past_totals: dict[str, Decimal] = field(default_factory=dict)


def money(value: Any, path: str) -> Decimal | None:
    """A money or quantity value: a decimal string, a JSON number (as Decimal) or ``null``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _fail(path, f"{value[:40]!r} is not a decimal number") from None
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise _fail(path, f"expected a decimal string or null, got {type(value).__name__}")
    if not number.is_finite():
        raise _fail(path, f"{value!r} is not a finite number")
    if number and number.adjusted() > MAX_MAGNITUDE:
        # Sums of such values would overflow Decimal's context; no real price is this large.
        raise _fail(path, f"{str(value)[:40]!r} is implausibly large")
    return number


def _str(doc: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", f"expected a string, got {type(value).__name__}")
    return value


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, f"expected a list, got {type(value).__name__}")
    return value


def _components(
    doc: Mapping[str, Any], path: str, prefix: str, out: list[Component], depth: int
) -> bool:
    """Append the components of ``doc`` and of its sub-resources; True if any is unknown."""
    if depth > MAX_DEPTH:
        raise _fail(path, f"sub-resources nested deeper than {MAX_DEPTH}")
    unknown = False
    for i, raw in enumerate(_list(doc.get("costComponents"), f"{path}.costComponents")):
        where = f"{path}.costComponents[{i}]"
        comp = _obj(raw, where)
        monthly = money(comp.get("monthlyCost"), f"{where}.monthlyCost")
        quantity = money(comp.get("monthlyQuantity"), f"{where}.monthlyQuantity")
        flag = comp.get("usageBased")
        if flag is not None and not isinstance(flag, bool):
            raise _fail(f"{where}.usageBased", "expected true, false or null")
        if monthly is None:
            unknown = True
        out.append(
            Component(
                name=_str(comp, "name", where),
                unit=_str(comp, "unit", where),
                subresource=prefix,
                monthly_quantity=quantity,
                price=money(comp.get("price"), f"{where}.price"),
                monthly=monthly,
                # Older versions have no flag: a null quantity is what marks usage-based prices.
                usage_based=bool(flag) or (monthly is None and quantity is None),
            )
        )
    for i, raw in enumerate(_list(doc.get("subresources"), f"{path}.subresources")):
        where = f"{path}.subresources[{i}]"
        sub = _obj(raw, where)
        name = _str(sub, "name", where)
        if _components(sub, where, f"{prefix}.{name}" if prefix else name, out, depth + 1):
            unknown = True
    return unknown


def _resource(raw: Any, path: str) -> Resource:
    doc = _obj(raw, path)
    name = _str(doc, "name", path)
    if not name:
        raise _fail(f"{path}.name", "a resource needs a name")
    components: list[Component] = []
    unknown = _components(doc, path, "", components, 0)
    monthly = money(doc.get("monthlyCost"), f"{path}.monthlyCost")
    if monthly is None and not components:
        # No cost component at all: how Infracost lists a free resource (IAM roles, VPCs...).
        monthly = _ZERO
    elif monthly is None:
        unknown = True  # components but no total: unknown, never free
    return Resource(
        name=name,
        resource_type=_str(doc, "resourceType", path),
        monthly=monthly,
        components=components,
        unknown=unknown,
    )


def _breakdown(raw: Any, path: str) -> Breakdown | None:
    if raw is None:
        return None
    doc = _obj(raw, path)
    resources = [
        _resource(r, f"{path}.resources[{i}]")
        for i, r in enumerate(_list(doc.get("resources"), f"{path}.resources"))
    ]
    total = money(doc.get("totalMonthlyCost"), f"{path}.totalMonthlyCost")
    if total is None:
        # Infracost sums only known costs: do the same when it printed no total.
        total = sum((r.monthly for r in resources if r.monthly is not None), _ZERO)
    return Breakdown(resources=resources, total_monthly=total)


def _errors(doc: Mapping[str, Any], path: str) -> list[ProjectError]:
    metadata = doc.get("metadata")
    if metadata is None:
        return []
    meta = _obj(metadata, f"{path}.metadata")
    found = []
    for i, raw in enumerate(_list(meta.get("errors"), f"{path}.metadata.errors")):
        where = f"{path}.metadata.errors[{i}]"
        entry = _obj(raw, where)
        if entry.get("isError") is False:
            continue  # a diagnostic Infracost itself does not count as an error
        code = entry.get("code")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int | str)):
            raise _fail(
                f"{where}.code", f"expected a number or a string, got {type(code).__name__}"
            )
        message = _str(entry, "message", where) or "no message"
        found.append(ProjectError("" if code is None else str(code), message[:500]))
    return found


def parse_report(document: bytes | str | Mapping[str, Any]) -> Report:
    """Parse an Infracost JSON document (bytes, text, or already decoded with Decimal)."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document, parse_float=Decimal)
        except (ValueError, RecursionError) as exc:
            raise InfracostOutputError(f"Infracost printed malformed JSON: {exc}") from None
    root = _obj(document, "$")
    version = root.get("version")
    if version is None:
        raise _fail("$.version", "missing: is this Infracost's JSON output (--format json)?")
    if version not in SUPPORTED_VERSIONS:
        raise InfracostOutputError(
            f"unsupported Infracost output version {str(version)[:20]!r} "
            f"(this plugin reads {', '.join(SUPPORTED_VERSIONS)}): use an Infracost release "
            "that writes version 0.2 (v0.10.x)"
        )
    currency = _str(root, "currency", "$", "USD") or "USD"
    projects: list[Project] = []
    totals: dict[str, Decimal] = {}
    past_totals: dict[str, Decimal] = {}
    for i, raw in enumerate(_list(root.get("projects"), "$.projects")):
        where = f"$.projects[{i}]"
        doc = _obj(raw, where)
        project_currency = _str(doc, "currency", where, currency) or currency
        breakdown = _breakdown(doc.get("breakdown"), f"{where}.breakdown") or Breakdown([], _ZERO)
        past = _breakdown(doc.get("pastBreakdown"), f"{where}.pastBreakdown")
        diff = _breakdown(doc.get("diff"), f"{where}.diff")
        project = Project(
            name=_str(doc, "name", where),
            currency=project_currency,
            breakdown=breakdown,
            past=past,
            diff=diff,
            errors=_errors(doc, where),
        )
        projects.append(project)
        if project.errors:
            continue  # its zero totals are no price: never summed (see to_estimate)
        totals[project_currency] = totals.get(project_currency, _ZERO) + (
            breakdown.total_monthly or _ZERO
        )
        if past is not None:
            past_totals[project_currency] = past_totals.get(project_currency, _ZERO) + (
                past.total_monthly or _ZERO
            )
    return Report(
        version=str(version),
        currency=currency,
        projects=projects,
        total_monthly=money(root.get("totalMonthlyCost"), "$.totalMonthlyCost"),
        past_total_monthly=money(root.get("pastTotalMonthlyCost"), "$.pastTotalMonthlyCost"),
        diff_total_monthly=money(root.get("diffTotalMonthlyCost"), "$.diffTotalMonthlyCost"),
        totals=totals,
        past_totals=past_totals,
    )


def _cost_components(components: Iterable[Component]) -> list[CostComponent]:
    # model_construct: every value was checked while parsing; validating again would double the
    # cost of large documents (see bench/cost.py).
    return [
        CostComponent.model_construct(
            name=c.name,
            unit=c.unit,
            subresource=c.subresource,
            monthly_quantity=c.monthly_quantity,
            price=c.price,
            monthly=c.monthly,
            usage_based=c.usage_based,
        )
        for c in components
    ]


def _attach_components(
    lines: Mapping[str, CostLine], parts: Mapping[str, list[Component]], keep: int
) -> None:
    def change(line: CostLine) -> Decimal:
        return abs(line.delta) if line.delta is not None else _ZERO

    changed = sorted((line for line in lines.values() if line.delta), key=change, reverse=True)
    unknown = [line for line in lines.values() if line.unknown]
    for line in [*changed[:keep], *unknown[:keep]]:
        if not line.components and line.address in parts:
            line.components = _cost_components(parts[line.address])


def to_estimate(
    report: Report,
    *,
    currency: str | None = None,
    previous: CostEstimate | None = None,
    estimator: str = "infracost",
    components_for: int = COMPONENT_LINES,
) -> CostEstimate:
    """The core's estimate of a parsed report, in ``currency`` (default: the report's).

    ``previous`` is the estimate of the last applied plan: the baseline when Infracost printed no
    past breakdown (a plain ``breakdown``). Without either, nothing was applied yet and the
    previous cost is zero. Several projects are summed per currency; totals in other currencies
    are kept in ``other_currencies``. Components are kept for the ``components_for`` resources
    whose cost changed most and for as many with an unknown cost (what the renderings show), so
    that a plan of thousands of resources keeps a small stored document.
    """
    main = currency if currency and currency in report.totals else report.currency
    if report.totals and main not in report.totals:
        main = next(iter(report.totals))
    failures = [f for f in (p.failure() for p in report.projects) if f is not None]
    if failures and len(failures) == len(report.projects):
        return CostEstimate.model_construct(
            monthly=None,
            previous=None if previous is None else previous.monthly,
            currency=currency or report.currency,
            plan_digest=None,
            estimator=estimator,
            lines=[],
            error="Infracost could not price the plan: " + " | ".join(failures),
            unknown=[],
            compared_to=previous.plan_digest if previous is not None else None,
            other_currencies={},
        )
    several = len(report.projects) > 1
    lines: dict[str, CostLine] = {}
    parts: dict[str, list[Component]] = {}
    unknown: list[str] = []
    before: dict[str, Decimal | None] = {}
    deltas: dict[str, Decimal | None] = {}
    has_past = False
    for project in report.projects:
        if project.currency != main or project.errors:
            continue
        prefix = f"{project.name}:" if several and project.name else ""
        if project.past is not None:
            has_past = True
            for r in project.past.resources:
                before[prefix + r.name] = r.monthly
        if project.diff is not None:
            for r in project.diff.resources:
                deltas[prefix + r.name] = r.monthly
        for r in project.breakdown.resources:
            address = prefix + r.name
            lines[address] = CostLine.model_construct(
                address=address,
                resource_type=r.resource_type,
                monthly=r.monthly,
                previous=None,
                delta=None,
                unknown=r.unknown,
                components=[],
            )
            parts[address] = r.components
            if r.unknown:
                unknown.append(address)
    baseline: dict[str, Decimal | None] = before
    # Applied before, but at a cost nobody knows: the change is unknown too, not "all new".
    baseline_unknown = not has_past and previous is not None and previous.monthly is None
    if not has_past and previous is not None and not baseline_unknown:
        baseline = {line.address: line.monthly for line in previous.lines}
    for address, monthly in baseline.items():
        if address not in lines:
            # Gone after this plan: it costs nothing any more.
            lines[address] = CostLine.model_construct(
                address=address,
                resource_type="",
                monthly=_ZERO,
                previous=monthly,
                delta=None if monthly is None else -monthly,
                unknown=False,
                components=[],
            )
    for address, line in lines.items():
        if baseline_unknown:
            line.delta = deltas.get(address)
            continue
        if address in baseline or has_past or previous is not None:
            line.previous = baseline.get(address, _ZERO if address not in baseline else None)
        else:
            line.previous = _ZERO  # nothing applied yet
        if address in deltas:
            line.delta = deltas[address]
        elif line.monthly is not None and line.previous is not None:
            line.delta = line.monthly - line.previous
    if has_past:
        prev_total: Decimal | None = report.past_totals.get(main, _ZERO)
    elif previous is not None:
        prev_total = previous.monthly  # None when the applied plan's cost is unknown
    else:
        prev_total = _ZERO
    _attach_components(lines, parts, components_for)
    other = {k: v for k, v in report.totals.items() if k != main}
    error = None
    if failures:
        priced = len(report.projects) - len(failures)
        error = (
            f"partial estimate: Infracost could not price {len(failures)} of "
            f"{len(report.projects)} projects ({' | '.join(failures)}); the total covers the "
            f"other {priced} only"
        )
    return CostEstimate.model_construct(
        monthly=report.totals.get(main, _ZERO),
        previous=prev_total,
        currency=main,
        plan_digest=None,
        estimator=estimator,
        lines=list(lines.values()),
        error=error,
        unknown=unknown,
        compared_to=previous.plan_digest if previous is not None else None,
        other_currencies=dict(other),
    )


def parse_estimate(document: bytes | str, **kwargs: Any) -> CostEstimate:
    """:func:`parse_report` then :func:`to_estimate`."""
    return to_estimate(parse_report(document), **kwargs)
