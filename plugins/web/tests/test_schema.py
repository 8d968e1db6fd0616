"""schemathesis against the OpenAPI description: no 5xx, documented status codes and
content types only, responses matching their schemas. Few examples per operation, for time."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tfpilot_core.platform import Platform
from tfpilot_web import create_app

from .conftest import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _check_every_operation(
    platform: Platform, token: str, examples: int, *, shrink: bool = True
) -> int:
    # Each operation gets its own hypothesis run (schemathesis' pytest fixture integration does
    # not support this pytest), with the same checks the CLI runner would apply.
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(platform))
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=list(Phase) if shrink else [Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers=bearer(token), checks=CHECKS)

        check()
    return operations


@pytest.fixture
def existing(platform: Platform) -> str:
    """A request that exists, so that some reads and actions reach past "not found"."""
    return platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "x"}
    ).id


@pytest.mark.slow
def test_api_conforms_to_its_description(
    platform: Platform, tokens: dict[str, str], existing: str
) -> None:
    assert _check_every_operation(platform, tokens["admin"], examples=8) >= 15


@pytest.mark.slow
def test_api_conforms_as_a_viewer(
    platform: Platform, tokens: dict[str, str], existing: str
) -> None:
    assert _check_every_operation(platform, tokens["viv"], examples=3) >= 15


def test_the_checks_catch_a_server_error(
    platform: Platform, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness must be able to fail: a bug behind one route is found.
    def broken() -> None:
        from tfpilot_core.errors import ConfigError

        raise ConfigError("broken on purpose")

    monkeypatch.setattr(type(platform.catalog), "list", lambda self: broken())
    import traceback

    with pytest.raises(BaseException) as info:
        _check_every_operation(platform, tokens["viv"], examples=1, shrink=False)
    assert "ServerError" in "".join(traceback.format_exception(info.value))
