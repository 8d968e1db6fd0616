"""The lifecycle records each successful plan's structured diff (tfpilot_core.plan_diff), once,
from the masked plan, wherever the plan ran (here, or in a job: lifecycle.planning.judge_plan)."""

from __future__ import annotations

import json
from typing import Any

import tfpilot_core.plan_diff as plan_diff
from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform


def test_a_plan_records_its_masked_diff(platform: Platform, runner: Any) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "logs"}
    )
    planned = platform.plan("dev", request.id)
    digest = planned.latest(RunKind.PLAN).plan_digest
    found = plan_diff.load(platform.store, request.id, digest)
    assert found is not None
    assert [r["address"] for r in found] == ["module.this.sandbox_bucket.this"]
    # A drift check's refresh-only plan records nothing of its own.
    assert json.dumps(found)  # plain JSON data, for the API and the page
