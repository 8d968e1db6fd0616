"""A planted sensitive value never reaches a summary, a log line, a span or an event."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest

from tfpilot_core.platform import Platform

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-Planted-Value-77"


def test_planted_secret_goes_nowhere(
    make_platform: Callable[..., Platform],
    log_capture: list[MutableMapping[str, Any]],
    span_exporter: Any,
) -> None:
    platform = make_platform()
    request = platform.create(
        "alice",
        module="test/plain",
        environment="dev",
        project="shop",
        inputs={"name": "db", "password": SECRET},
    )
    assert request.inputs["password"] == SECRET  # stored: Terraform needs it
    request = platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    request = platform.apply("bob", request.id)
    platform.check_drift("alice", request.id)
    request = platform.destroy("carol", request.id, yes=True)

    assert request.summary is not None
    assert SECRET not in request.summary.text and SECRET not in request.summary.markdown
    events = json.dumps([e.model_dump(mode="json") for e in platform.timeline("carol", request.id)])
    assert SECRET not in events
    assert SECRET not in json.dumps(platform.audit("carol", request.id), default=str)
    # Terraform's output lines are logged per line at info level: none may carry the value.
    assert any(entry.get("event") == "terraform_output" for entry in log_capture)
    assert SECRET not in json.dumps(log_capture, default=str)
    spans = span_exporter.get_finished_spans()
    assert spans
    for span in spans:
        assert SECRET not in json.dumps(dict(span.attributes or {}), default=str)
        for event in span.events:
            assert SECRET not in json.dumps(dict(event.attributes or {}), default=str)
        assert SECRET not in (span.status.description or "")
    apply = request.runs
    assert SECRET not in json.dumps(
        {k.value: [a.model_dump(mode="json") for a in v] for k, v in apply.items()}
    )


def test_the_secret_was_really_in_terraforms_output(make_platform: Callable[..., Platform]) -> None:
    """Guard for the test above: unmasked, the plan JSON does carry the value."""
    platform = make_platform()
    request = platform.create(
        "alice",
        module="test/plain",
        environment="dev",
        project="shop",
        inputs={"name": "db", "password": SECRET},
    )
    result = platform.runner().plan(platform.kernel.run_spec(request))
    assert result.success and SECRET in json.dumps(result.plan_json)
