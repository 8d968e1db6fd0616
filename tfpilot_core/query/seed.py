"""Requests in a chosen state, written straight to a store: fixtures for tests and benchmarks.

Not used by the platform. The documents are what the platform itself would store (run attempts,
approvals, drift checks, cost estimates), built directly so that 10,000 of them take seconds.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from tfpilot_core.models import (
    Approval,
    Conclusion,
    CostEstimate,
    DriftResult,
    DriftState,
    Event,
    Placement,
    Request,
    RunAttempt,
    RunKind,
    RunStatus,
)

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Store

__all__ = ["make_request", "seed_requests"]

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _suffix(n: int) -> str:
    chars = []
    for _ in range(6):
        n, r = divmod(n, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "".join(chars)


def make_request(
    n: int,
    *,
    environment: str,
    project: str,
    module: str,
    author: str,
    created_at: datetime,
    state: str = "request_created",
    applied_at: datetime | None = None,
    monthly: Decimal | None = None,
    previous: Decimal | None = None,
    drift: DriftResult | None = None,
    drift_at: datetime | None = None,
    approver: str = "approver",
    applier: str = "approver",
) -> Request:
    """Request number ``n`` in ``state`` (request_created, plan_ready, approved, applied,
    failed or destroyed), with the facts that state derives from (planned by its author,
    approved by ``approver``, applied by ``applier``)."""
    code = module.rsplit("/", 1)[-1].replace("-", "")[:12]
    request = Request(
        id=f"req_{environment}_{code}_{_suffix(n)}",
        placement=Placement(
            project=project, environment=environment, module=module, module_version="v1"
        ),
        inputs={"name": f"r{n}"},
        created_by=author,
        created_at=created_at,
        updated_at=created_at,
    )
    if state == "request_created":
        return request
    done = created_at + timedelta(minutes=5)
    plan = RunAttempt(
        id=f"run-plan-{n}",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor=author,
        status=RunStatus.COMPLETED,
        conclusion=Conclusion.FAILURE if state == "failed" else Conclusion.SUCCESS,
        created_at=created_at,
        completed_at=done,
        plan_digest=None if state == "failed" else f"{n:064x}",
    )
    request.runs[RunKind.PLAN] = [plan]
    if monthly is not None or previous is not None:
        request.cost = CostEstimate(
            monthly=monthly, previous=previous, plan_digest=plan.plan_digest, estimator="seed"
        )
    if state in ("plan_ready", "failed"):
        return request
    request.approvals.append(Approval(actor=approver, revision=1, plan_digest=f"{n:064x}", at=done))
    if state == "approved":
        return request
    applied = applied_at or done + timedelta(minutes=5)
    request.runs[RunKind.APPLY] = [
        RunAttempt(
            id=f"run-apply-{n}",
            kind=RunKind.APPLY,
            number=1,
            runner="local",
            revision=1,
            actor=applier,
            status=RunStatus.COMPLETED,
            conclusion=Conclusion.SUCCESS,
            created_at=applied,
            completed_at=applied,
            plan_digest=f"{n:064x}",
        )
    ]
    if drift is not None:
        request.drift = DriftState(checked_at=drift_at or applied, result=drift)
    if state == "destroyed":
        request.runs[RunKind.DESTROY] = [
            RunAttempt(
                id=f"run-destroy-{n}",
                kind=RunKind.DESTROY,
                number=1,
                runner="local",
                revision=1,
                actor="admin",
                status=RunStatus.COMPLETED,
                conclusion=Conclusion.SUCCESS,
                created_at=applied + timedelta(hours=1),
                completed_at=applied + timedelta(hours=1),
            )
        ]
    return request


ENVIRONMENTS = ("dev", "stage", "prod")
PROJECTS = ("shop", "billing", "search", "ads")
MODULES = ("aws/s3-bucket", "aws/sqs-queue", "aws/iam-role", "sandbox/bucket")
AUTHORS = ("alice", "bob", "carol", "dave")
STATES = ("request_created", "plan_ready", "approved", "applied", "applied", "failed", "destroyed")


def seed_requests(
    store: Store, count: int, *, now: datetime, seed: int = 16, events: bool = True
) -> list[Request]:
    """``count`` varied requests over the last 60 days, stored; returns them as stored.

    Deterministic for a given ``seed``. Drifted requests get a ``drift_detected`` event.
    """
    rng = random.Random(seed)
    stored: list[Request] = []
    for n in range(count):
        created = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
        state = rng.choice(STATES)
        monthly = Decimal(rng.randrange(0, 50_000)) / 100 if rng.random() < 0.8 else None
        previous = Decimal(rng.randrange(0, 50_000)) / 100 if rng.random() < 0.5 else None
        drift = None
        drift_at = None
        if state in ("applied", "destroyed") and rng.random() < 0.6:
            drift = rng.choice([DriftResult.NONE, DriftResult.NONE, DriftResult.DRIFTED])
            drift_at = created + (now - created) * rng.random()
        request = make_request(
            n,
            environment=rng.choice(ENVIRONMENTS),
            project=rng.choice(PROJECTS),
            module=rng.choice(MODULES),
            author=rng.choice(AUTHORS),
            created_at=created,
            state=state,
            applied_at=created + (now - created) * rng.random() * 0.5,
            monthly=monthly,
            previous=previous,
            drift=drift,
            drift_at=drift_at,
        )
        saved = store.create_request(request)
        if events and drift is DriftResult.DRIFTED:
            store.append_event(
                Event(request_id=saved.id, type="drift_detected", at=drift_at or now)
            )
        stored.append(saved)
    return stored
