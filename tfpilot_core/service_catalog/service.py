"""The service catalog: what each module is for, how to request it, what it typically costs.

For every module: description, category, risk and owner; its inputs (type, default, allowlist,
sensitivity, immutability); its examples with the security defaults they keep and the opt-outs
they allow; the typical monthly cost of each example; how many requests use it, by environment
and status; its version and its own ``CHANGELOG.md``.

Typical costs are not constants: each example is planned by the configured runner in a scratch
working directory (nothing is applied or stored as a request), and the plan is priced by the
configured cost estimators, as for a real request. The result is cached per module version in the
store's keyed records (namespace ``catalog_costs``), so a changed module is priced again and an
unchanged one is not. A module whose providers no plugin mirrors is not planned (that would
download providers from a registry while reading the catalog): its costs say ``unavailable``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tfpilot_core.catalog.ids import module_code
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import AlreadyExistsError, ConflictError, NotFoundError, TfpilotError
from tfpilot_core.interfaces import RunSpec
from tfpilot_core.lifecycle import changes
from tfpilot_core.log import get_logger
from tfpilot_core.masking import mask_keys
from tfpilot_core.models import Placement, Request, RequestQuery
from tfpilot_core.plan import Plan
from tfpilot_core.query.rows import readable_rows
from tfpilot_core.terraform.render import module_interface, normalize_source

from .models import (
    CatalogDocument,
    CatalogEntry,
    ExampleView,
    InputView,
    TypicalCost,
    Usage,
)

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import Example, ModuleSpec
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import Request

log = get_logger("tfpilot.service_catalog")

#: Keyed-record namespace of cached typical costs.
COSTS = "catalog_costs"
#: How long a failed cost computation is remembered before it is tried again.
FAILURE_TTL = timedelta(hours=1)
#: How many examples are planned at once when typical costs are missing.
COST_WORKERS = 4
#: Longest changelog text shown (the rest is cut, with a note).
CHANGELOG_LIMIT = 20_000
_BUILTIN_PROVIDER = "terraform.io/builtin/"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class ServiceCatalog:
    """The catalog view over a platform's modules, store and plugins.

    >>> catalog = ServiceCatalog(platform)                    # doctest: +SKIP
    >>> catalog.document("alice", category="storage")          # doctest: +SKIP
    """

    def __init__(self, platform: SupportsKernel) -> None:
        self.kernel = platform.kernel

    # -- reading ------------------------------------------------------------------------------

    def document(
        self, actor: str, *, category: str | None = None, costs: bool = True
    ) -> CatalogDocument:
        """Every module (of ``category``, when given), sorted by name."""
        specs = [
            s
            for s in self.kernel.catalog.list()
            if category is None or s.category.lower() == category.lower()
        ]
        usage = self._usage(actor, {s.name for s in specs})
        known = self._costs(specs) if costs else {}
        return CatalogDocument(
            category=category,
            modules=[
                self._entry(s, usage.get(s.name, Usage()), costs=costs, known=known) for s in specs
            ],
        )

    def entry(self, actor: str, name: str, *, costs: bool = True) -> CatalogEntry:
        """One module's catalog entry (:class:`NotFoundError` naming close modules)."""
        spec = self.kernel.catalog.get(name)
        usage = self._usage(actor, {spec.name})
        known = self._costs([spec]) if costs else {}
        return self._entry(spec, usage.get(spec.name, Usage()), costs=costs, known=known)

    def example(self, module: str, name: str | None) -> Example:
        """The example ``name`` of ``module`` (its first example when ``name`` is ``None``)."""
        spec = self.kernel.catalog.get(module)
        if not spec.examples:
            raise NotFoundError(f"module {module} has no examples")
        if name is None:
            return spec.examples[0]
        for example in spec.examples:
            if example.name == name:
                return example
        names = ", ".join(e.name for e in spec.examples)
        raise NotFoundError(f"module {module} has no example {name!r} (examples: {names})")

    def _costs(self, specs: Sequence[ModuleSpec]) -> dict[tuple[str, str], TypicalCost]:
        """The typical cost of every example of ``specs``; missing ones are computed in parallel.

        Each computation is a Terraform plan in its own working directory and process, so a
        few run at once (a cold catalog of many examples would otherwise take a plan per example
        in a row).
        """
        from concurrent.futures import ThreadPoolExecutor

        pairs = [(spec, example) for spec in specs for example in spec.examples]
        if not pairs:
            return {}
        with ThreadPoolExecutor(max_workers=min(COST_WORKERS, len(pairs))) as pool:
            results = list(pool.map(lambda pair: self.typical_cost(*pair), pairs))
        return {(spec.name, ex.name): cost for (spec, ex), cost in zip(pairs, results, strict=True)}

    def _entry(
        self,
        spec: ModuleSpec,
        usage: Usage,
        *,
        costs: bool,
        known: Mapping[tuple[str, str], TypicalCost] | None = None,
    ) -> CatalogEntry:
        return CatalogEntry(
            name=spec.name,
            description=spec.description,
            category=spec.category,
            risk=str(spec.risk),
            owner=spec.owner,
            version=spec.version,
            source=spec.source,
            changelog=_changelog(spec),
            inputs=[_input_view(item) for item in spec.inputs.values()],
            examples=[
                ExampleView(
                    name=ex.name,
                    title=ex.title,
                    description=ex.description,
                    inputs=_masked(spec, ex.inputs),
                    security_defaults=list(ex.security_defaults),
                    opt_outs=list(ex.opt_outs),
                    typical_cost=(
                        (known or {}).get((spec.name, ex.name)) or self.typical_cost(spec, ex)
                        if costs
                        else TypicalCost(status="not_computed", module_version=spec.version)
                    ),
                )
                for ex in spec.examples
            ],
            usage=usage,
        )

    def _usage(self, actor: str, modules: set[str]) -> dict[str, Usage]:
        """Counts of the requests ``actor`` may read, per module, environment and status."""

        found: dict[str, Usage] = {}
        # From the store's index rows where it keeps them: no document read (docs/store.md).
        rows = readable_rows(self.kernel, actor, modules=sorted(modules), with_status=True)
        if rows is not None:
            for row in rows:
                usage = found.setdefault(row.module, Usage())
                by_status = usage.by_environment.setdefault(row.environment, {})
                by_status[str(row.status)] = by_status.get(str(row.status), 0) + 1
                usage.total += 1
            return found
        cursor: str | None = None
        access = getattr(self.kernel, "access", None)
        while True:
            page = self.kernel.store.list_requests(RequestQuery(limit=1000, cursor=cursor))
            items = [r for r in page.items if r.placement.module in modules]
            if access is not None:
                items = access.readable(actor, items)
            for request in items:
                usage = found.setdefault(request.placement.module, Usage())
                status = self.kernel.status(request).value
                by_status = usage.by_environment.setdefault(request.placement.environment, {})
                by_status[status] = by_status.get(status, 0) + 1
                usage.total += 1
            cursor = page.next_cursor
            if cursor is None:
                return found

    # -- typical costs ------------------------------------------------------------------------

    def typical_cost(self, spec: ModuleSpec, example: Example) -> TypicalCost:
        """The example's typical monthly cost, cached per module version (computed on a miss)."""
        key = f"{spec.name}@{spec.version}/{example.name}"
        store = self.kernel.store
        cached = store.get_record(COSTS, key)
        if cached is not None:
            return TypicalCost.model_validate(cached.value)
        cost = self._compute_cost(spec, example)
        # A failure may be transient (a runner down): remembered for a while, not for good.
        expires = (
            None if cost.status in ("estimated", "no_estimate") else self.kernel.now() + FAILURE_TTL
        )
        # Another process pricing it at the same time wins the write: theirs is as good.
        with contextlib.suppress(ConflictError, AlreadyExistsError):
            store.put_record(
                COSTS,
                key,
                cost.model_dump(mode="json"),
                expected_version=None,
                expires_at=expires,
            )
        return cost

    def _compute_cost(self, spec: ModuleSpec, example: Example) -> TypicalCost:

        now = self.kernel.now()
        base = {"module_version": spec.version, "computed_at": now}
        missing = self._unmirrored_providers(spec)
        if missing:
            return TypicalCost(
                status="unavailable",
                error=(
                    f"provider {', '.join(missing)} is not mirrored by any plugin: the example "
                    "is not planned while reading the catalog (a plan would download it)"
                ),
                **base,
            )
        try:
            request = self._scratch_request(spec, example)
            runner = self.kernel.runner()
            spec_for_run = RunSpec(
                request=request,
                environment=self.kernel.environment(request.placement.environment),
                module_name=spec.name,
                module_path=spec.path,
                module_version=spec.version,
                mirrors=self.kernel.host.provider_mirrors(),
                sensitive_inputs=spec.sensitive_inputs,
            )
            result = runner.plan(spec_for_run)
            if not result.success or not result.plan_json:
                error = (result.error or "the plan failed").strip().splitlines()
                return TypicalCost(
                    status="unavailable", error=(error[-1] if error else "")[:500], **base
                )

            plan = Plan.parse(result.plan_json).masked(sensitive_inputs=spec.sensitive_inputs)
            estimate = self.kernel.host.estimate_cost(request, plan)
        except TfpilotError as exc:
            log.warning("typical_cost_failed", module=spec.name, example=example.name)
            return TypicalCost(status="unavailable", error=exc.message[:500], **base)
        if estimate is None:
            return TypicalCost(status="no_estimate", **base)
        failed = getattr(estimate, "error", None)
        return TypicalCost(
            status="unavailable" if failed else "estimated",
            monthly=estimate.monthly,
            currency=estimate.currency,
            estimator=estimate.estimator,
            error=failed,
            **base,
        )

    def _unmirrored_providers(self, spec: ModuleSpec) -> list[str]:

        mirrored = set()
        for mirror in self.kernel.host.provider_mirrors():
            try:
                mirrored.add(normalize_source(mirror.source))
            except TfpilotError:
                continue
        required = module_interface(spec.path, spec.version).providers.values()
        return sorted(
            {p for p in required if p not in mirrored and not p.startswith(_BUILTIN_PROVIDER)}
        )

    def _scratch_request(self, spec: ModuleSpec, example: Example) -> Request:
        """A request for the example that is planned but never stored.

        Its id is derived from the module and example, so each example reuses one working
        directory (and its ``init``) across module versions.
        """

        env = self.kernel.config.core.environments[0].key
        digest = hashlib.sha256(f"{spec.name}/{example.name}".encode()).digest()
        suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:6])
        request_id = f"req_{env}_{module_code(spec.name)}_{suffix}"
        placement = Placement(
            project="catalog",
            environment=env,
            module=spec.name,
            module_version=spec.version,
        )
        tags = {
            "tfpilot:request_id": request_id,
            "tfpilot:project": placement.project,
            "tfpilot:environment": env,
            "tfpilot:created_by": "catalog",
        }
        inputs = normalize_inputs(spec, example.inputs, request_id=request_id, server_tags=tags)
        return Request(id=request_id, placement=placement, inputs=inputs, created_by="catalog")

    # -- requesting ---------------------------------------------------------------------------

    def request(
        self,
        actor: str,
        module: str,
        *,
        environment: str,
        project: str,
        example: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        template_id: str | None = None,
        opt_outs: Sequence[Mapping[str, str]] = (),
        idempotency_key: str | None = None,
    ) -> Request:
        """Start a request from a catalog entry: the example's inputs, ``inputs`` over them.

        With no example given the module's first example is used (a module without examples
        starts from ``inputs`` alone). Validation, templates and policy are those of
        :meth:`Platform.create`.
        """
        spec = self.kernel.catalog.get(module)
        base: dict[str, Any] = {}
        if example is not None or spec.examples:
            base = dict(self.example(module, example).inputs)
        base.update(inputs or {})
        return changes.create(
            self.kernel,
            actor,
            module=module,
            environment=environment,
            project=project,
            inputs=base,
            template_id=template_id,
            opt_outs=opt_outs,
            idempotency_key=idempotency_key,
        )


def _input_view(item: Any) -> InputView:
    return InputView(
        name=item.name,
        label=item.label or item.name,
        description=item.description,
        type=item.type_expr,
        required=item.required,
        # A sensitive input's default is never published (catalogs end up in UIs and docs).
        default=None if item.sensitive else item.default,
        allowed=item.allowed,
        sensitive=item.sensitive,
        immutable=item.immutable,
        read_only=item.read_only,
    )


def _masked(spec: ModuleSpec, values: Mapping[str, Any]) -> dict[str, Any]:

    return mask_keys(values, spec.sensitive_inputs)


def _changelog(spec: ModuleSpec) -> str | None:
    """The module's own ``CHANGELOG.md`` (case-insensitive name), or ``None``."""
    try:
        candidates = [p for p in spec.path.iterdir() if p.name.lower() == "changelog.md"]
    except OSError:
        return None
    for path in sorted(candidates):
        if path.is_file() and not path.is_symlink():
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > CHANGELOG_LIMIT:
                text = text[:CHANGELOG_LIMIT] + "\n... (cut; see the module's CHANGELOG.md)\n"
            return text
    return None


def money(value: Decimal | None) -> str:
    """A monthly amount for people: ``2.30``, or ``unknown``."""
    if value is None:
        return "unknown"
    try:
        return f"{value:.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


__all__ = ["COSTS", "ServiceCatalog", "money"]
