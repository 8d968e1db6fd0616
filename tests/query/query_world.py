# ruff: noqa: E501  (the table reads best one case to a line)
"""The seeded world of the query and ask tests: a platform over the embedded store, seeded with twelve hand-made requests (see ``WORLD``).

``NOW`` is Wednesday 2026-06-10 12:00 UTC, so "this week" starts on Monday 2026-06-08.
Users: ``admin`` (admin everywhere), ``alice`` (developer everywhere), ``vera`` (viewer of
project shop only), ``pat`` (viewer of project billing in prod only), ``nobody`` (grants that
cover nothing that exists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tfpilot_core.models import DriftResult, Event, Request
from tfpilot_core.platform import Platform
from tfpilot_core.query.seed import make_request

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
MODULES = ("aws/s3-bucket", "aws/sqs-queue", "aws/iam-role", "sandbox/bucket")

D = DriftResult


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


#: n: (env, project, module, author, created, state, applied, monthly, previous, drift, drift_at)
WORLD: dict[int, tuple] = {
    1: ("dev", "shop", "aws/s3-bucket", "alice", at(6, 9, 8), "applied", at(6, 9, 8, 10), "10", None, D.NONE, at(6, 9, 9)),
    2: ("dev", "shop", "aws/sqs-queue", "bob", at(6, 1), "request_created", None, None, None, None, None),
    3: ("stage", "shop", "aws/s3-bucket", "alice", at(5, 20), "applied", at(5, 21), "25", "20", D.DRIFTED, at(6, 9)),
    4: ("prod", "shop", "aws/s3-bucket", "carol", at(5, 1), "applied", at(5, 2), "120", "100", D.DRIFTED, at(6, 8, 13)),
    5: ("prod", "billing", "aws/iam-role", "bob", at(5, 15), "applied", at(5, 16), "0", None, D.DRIFTED, at(5, 30)),
    6: ("prod", "billing", "aws/sqs-queue", "alice", at(6, 10, 8), "plan_ready", None, "300", "150", None, None),
    7: ("dev", "billing", "aws/iam-role", "carol", at(6, 3), "failed", None, None, None, None, None),
    8: ("stage", "search", "aws/sqs-queue", "dave", at(6, 5), "approved", None, "40", "45", None, None),
    9: ("prod", "search", "aws/s3-bucket", "dave", at(4, 1), "destroyed", at(4, 2), "60", None, None, None),
    10: ("dev", "search", "sandbox/bucket", "alice", at(6, 10, 9), "request_created", None, None, None, None, None),
    11: ("prod", "shop", "aws/iam-role", "alice", at(6, 9, 10), "applied", at(6, 10, 10), "5", None, None, None),
    12: ("stage", "billing", "aws/s3-bucket", "bob", at(6, 2), "applied", at(6, 4), None, None, D.ERROR, at(6, 6)),
}  # fmt: skip

#: n: (approver, applier): who approved and who ran the apply (others: nobody yet).
PEOPLE = {
    1: ("carol", "alice"),
    3: ("dave", "alice"),
    4: ("dave", "carol"),
    5: ("alice", "bob"),
    8: ("carol", "carol"),
    9: ("carol", "dave"),
    11: ("bob", "alice"),
    12: ("carol", "bob"),
}

#: (n, event type, at)
EVENTS = [
    (3, "drift_detected", at(6, 9)),
    (4, "drift_detected", at(6, 8, 13)),
    (5, "drift_detected", at(5, 30)),
    (4, "policy_overridden", at(5, 2)),
    (6, "notification_failed", at(6, 10, 8, 30)),
    (7, "plan_failed", at(6, 9)),
]

CONFIG = """
[users.admin]
role = "admin"
[users.alice]
role = "developer"
[[users.vera.grants]]
role = "viewer"
projects = ["shop"]
[[users.pat.grants]]
role = "viewer"
projects = ["billing"]
environments = ["prod"]
[[users.nobody.grants]]
role = "viewer"
projects = ["nothing-here"]
"""


def build(n: int) -> Request:
    env, project, module, author, created, state, applied, monthly, prev, drift, drift_at = WORLD[n]
    return make_request(
        n,
        environment=env,
        project=project,
        module=module,
        author=author,
        created_at=created,
        state=state,
        applied_at=applied,
        monthly=None if monthly is None else Decimal(monthly),
        previous=None if prev is None else Decimal(prev),
        drift=drift,
        drift_at=drift_at,
        approver=PEOPLE.get(n, ("approver", "approver"))[0],
        applier=PEOPLE.get(n, ("approver", "approver"))[1],
    )


IDS = {n: build(n).id for n in WORLD}


def make_platform(tmp_path: Path, config: str = CONFIG) -> Platform:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    path = tmp_path / "tfpilot.toml"
    path.write_text(config)
    return Platform.from_config(
        path, environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": ""}, entry_points=False
    )


def seed(platform: Platform) -> None:
    store = platform.store
    for n in WORLD:
        store.create_request(build(n))
    for n, kind, when in EVENTS:
        store.append_event(Event(request_id=IDS[n], type=kind, at=when))
