"""The ``infracost`` cost estimator: runs Infracost on the plan and reads its JSON.

For the first plan of a request (nothing applied yet) it runs
``infracost breakdown --path plan.json --format json``; once a plan was applied it runs
``infracost diff --path plan.json --compare-to prior.json --format json``, where ``prior.json``
is the estimate of the last applied plan in Infracost's own format, so the delta is the change
against what is deployed as approved.

Failures (no binary, a rejected key, a timeout, malformed output, an unsupported version) do not
raise: the estimate comes back with ``error`` set and no money, so the request records why, the
plan still succeeds, and the ``cost.estimate_failed`` policy rule decides per environment whether
that blocks (see the README).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.models import (
    Conclusion,
    CostEstimate,
    RunKind,
)
from tfpilot_cost_infracost.parse import parse_estimate

if TYPE_CHECKING:
    from tfpilot_core.models import Request
    from tfpilot_core.plan import Plan, ResourceChange
    from tfpilot_cost_infracost.settings import InfracostSettings

log = structlog.get_logger("tfpilot.cost_infracost")

NAME = "infracost"
#: Infracost's own words for a key its pricing API refused.
_BAD_KEY_MARKERS = ("invalid api key", "api key is invalid", "no infracost_api_key")
#: Environment variables of the parent that Infracost must not inherit: ours win, and a stray
#: key of the caller's shell must not be used instead of the configured one.
_OWN_PREFIX = "INFRACOST_"


def previous_estimate(request: Request) -> CostEstimate | None:
    """The estimate of the plan last applied to ``request`` (``None``: nothing deployed).

    Read from the request's facts: the latest successful apply names its plan digest, and the
    plan attempt with that digest kept its estimate in ``details["cost"]``. A successful destroy
    after that apply means nothing is deployed any more.
    """
    applies = [a for a in request.attempts(RunKind.APPLY) if a.conclusion is Conclusion.SUCCESS]
    if not applies:
        return None
    applied = max(applies, key=lambda a: a.completed_at or a.created_at)
    destroys = [d for d in request.attempts(RunKind.DESTROY) if d.conclusion is Conclusion.SUCCESS]
    if any(
        (d.completed_at or d.created_at) > (applied.completed_at or applied.created_at)
        for d in destroys
    ):
        return None
    for plan in reversed(request.attempts(RunKind.PLAN)):
        if plan.plan_digest and plan.plan_digest == applied.plan_digest:
            raw = plan.details.get("cost")
            if isinstance(raw, dict):
                estimate = CostEstimate.model_validate(raw)
                if estimate.error is None:
                    return estimate.model_copy(update={"plan_digest": plan.plan_digest})
            break
    # Applied, but its cost is not known: the baseline is unknown, not zero.
    return CostEstimate(monthly=None, plan_digest=applied.plan_digest, estimator="unknown")


def plan_document(plan: Plan) -> dict[str, Any]:
    """A ``show -json`` document Infracost reads, rebuilt from the (masked) parsed plan.

    The masked plan keeps ``resource_changes`` but not ``planned_values`` and ``prior_state``,
    which Infracost prices from: both are rebuilt from each change's after and before values.
    """
    planned: list[tuple[ResourceChange, Any]] = []
    prior: list[tuple[ResourceChange, Any]] = []
    changes = []
    for change in plan.resource_changes:
        changes.append(
            {
                "address": change.address,
                "module_address": change.module_address,
                "mode": change.mode,
                "type": change.type,
                "name": change.name,
                "index": change.index,
                "provider_name": change.provider_name,
                "change": {
                    "actions": list(change.actions),
                    "before": change.before,
                    "after": change.after,
                    "after_unknown": change.after_unknown,
                },
            }
        )
        if change.mode != "managed":
            continue
        if change.after is not None:
            planned.append((change, change.after))
        if change.before is not None:
            prior.append((change, change.before))
    doc: dict[str, Any] = {
        "format_version": plan.format_version,
        "terraform_version": plan.terraform_version,
        "variables": plan.variables,
        "planned_values": {"root_module": _module_tree(planned)},
        "resource_changes": changes,
        "configuration": plan.configuration,
    }
    if prior:
        doc["prior_state"] = {
            "format_version": plan.format_version,
            "terraform_version": plan.terraform_version,
            "values": {"root_module": _module_tree(prior)},
        }
    return doc


def _module_tree(resources: list[tuple[ResourceChange, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {"resources": [], "child_modules": []}
    modules: dict[str, dict[str, Any]] = {"": root}

    def module(address: str) -> dict[str, Any]:
        if address in modules:
            return modules[address]
        # module.a.module.b -> parent module.a
        parts = address.split(".module.")
        parent = module(".module.".join(parts[:-1]) if len(parts) > 1 else "")
        node: dict[str, Any] = {"address": address, "resources": [], "child_modules": []}
        parent["child_modules"].append(node)
        modules[address] = node
        return node

    for change, values in resources:
        entry = {
            "address": change.address,
            "mode": change.mode,
            "type": change.type,
            "name": change.name,
            "provider_name": change.provider_name,
            "values": values,
        }
        if change.index is not None:
            entry["index"] = change.index
        module(change.module_address or "")["resources"].append(entry)
    return root


def prior_document(previous: CostEstimate, path: str) -> dict[str, Any]:
    """``previous`` in Infracost's 0.2 format, for ``--compare-to``."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    resources: list[dict[str, Any]] = []
    for line in previous.lines:
        resources.append(
            {
                "name": line.address,
                "resourceType": line.resource_type,
                "metadata": {},
                "monthlyCost": text(line.monthly),
                "costComponents": [
                    {
                        "name": c.name if not c.subresource else f"{c.subresource}: {c.name}",
                        "unit": c.unit,
                        "monthlyQuantity": text(c.monthly_quantity),
                        "price": text(c.price),
                        "monthlyCost": text(c.monthly),
                    }
                    for c in line.components
                ],
            }
        )
    total = text(previous.monthly)
    return {
        "version": "0.2",
        "currency": previous.currency,
        "projects": [
            {
                "name": path,
                "metadata": {"path": path, "type": "terraform_plan_json"},
                "breakdown": {"resources": resources, "totalMonthlyCost": total},
            }
        ],
        "totalMonthlyCost": total,
    }


class InfracostEstimator:
    """A :class:`~tfpilot_core.interfaces.CostEstimator` running the Infracost CLI."""

    name = NAME

    def __init__(self, settings: InfracostSettings, *, base_dir: Path | None = None) -> None:
        self.settings = settings
        usage = settings.usage_file
        if usage is not None and not usage.is_absolute() and base_dir is not None:
            usage = base_dir / usage
        self.usage_file = usage

    def estimate(self, request: Request, plan: Plan) -> CostEstimate | None:
        """The plan's estimate; on failure an estimate with ``error`` and no money."""
        previous = previous_estimate(request)
        try:
            return self._estimate(plan, previous)
        except ExternalToolError as exc:
            message = self._scrub(exc.message)
            log.warning("cost_failed", estimator=NAME, request_id=request.id, error=message)
            return CostEstimate(
                monthly=None,
                previous=None if previous is None else previous.monthly,
                currency=self.settings.currency,
                estimator=NAME,
                error=message,
                compared_to=None if previous is None else previous.plan_digest,
            )

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return text.replace(key, "(sensitive)") if len(key) >= 4 else text

    def binary(self) -> str:
        """The executable's path; a clear error when there is none."""
        found = shutil.which(self.settings.binary)
        if found is None:
            raise ExternalToolError(
                f"the Infracost binary {self.settings.binary!r} was not found (on PATH or as a "
                "path): install Infracost (see the tfpilot-cost-infracost README) or set "
                "[plugins.cost_infracost] binary"
            )
        return found

    def environment(self) -> dict[str, str]:
        """The child's environment: the key, endpoint and currency, nothing else of Infracost's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIX)}
        env["INFRACOST_SKIP_UPDATE_CHECK"] = "true"
        env["INFRACOST_NO_COLOR"] = "true"
        env["INFRACOST_CURRENCY"] = self.settings.currency
        if self.settings.api_key is not None:
            env["INFRACOST_API_KEY"] = self.settings.api_key.get_secret_value()
        if self.settings.pricing_api_endpoint:
            env["INFRACOST_PRICING_API_ENDPOINT"] = self.settings.pricing_api_endpoint
        return env

    def _estimate(self, plan: Plan, previous: CostEstimate | None) -> CostEstimate:
        binary = self.binary()
        if self.usage_file is not None and not self.usage_file.is_file():
            raise ExternalToolError(
                f"the Infracost usage file {self.usage_file} does not exist "
                "([plugins.cost_infracost] usage_file)"
            )
        compare = previous is not None and previous.monthly is not None
        with tempfile.TemporaryDirectory(prefix="tfpilot-infracost-") as tmp:
            work = Path(tmp)
            os.chmod(work, 0o700)
            plan_path = work / "plan.json"
            _write_private(plan_path, json.dumps(plan_document(plan), default=str))
            args = [binary, "diff" if compare else "breakdown", "--path", "plan.json"]
            if compare:
                assert previous is not None
                _write_private(
                    work / "prior.json",
                    json.dumps(prior_document(previous, "plan.json")),
                )
                args += ["--compare-to", "prior.json"]
            args += ["--format", "json", "--no-color"]
            if self.usage_file is not None:
                args += ["--usage-file", str(self.usage_file.resolve())]
            stdout = self._run(args, work)
        return parse_estimate(
            stdout,
            currency=self.settings.currency,
            previous=previous,
            estimator=NAME,
        )

    def _run(self, args: list[str], cwd: Path) -> bytes:
        timeout = self.settings.timeout_seconds
        try:
            process = subprocess.Popen(
                args,
                cwd=cwd,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Its own process group: a timeout stops Infracost and anything it started.
                start_new_session=True,
            )
        except OSError as exc:
            raise ExternalToolError(f"could not start Infracost ({args[0]}): {exc}") from None
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise ExternalToolError(
                f"Infracost did not finish within {timeout:g} seconds and was stopped "
                "([plugins.cost_infracost] timeout_seconds)"
            ) from None
        if process.returncode != 0:
            text = (
                stderr.decode("utf-8", "replace").strip()
                or stdout.decode("utf-8", "replace").strip()
            )
            said = [
                line.strip()
                for line in text.splitlines()
                if any(marker in line.lower() for marker in _BAD_KEY_MARKERS)
            ]
            if said:
                raise ExternalToolError(
                    "Infracost rejected the API key ([plugins.cost_infracost] api_key, passed as "
                    f"INFRACOST_API_KEY): {said[0][:500]}"
                )
            raise ExternalToolError(
                f"Infracost failed (exit {process.returncode}): {_last_line(text) or 'no output'}"
            )
        return stdout


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
