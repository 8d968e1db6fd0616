"""Every parsed number of a time window is bounded (issue 27 item 7, issue 28): a huge window is
a clear error, never an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.ask import parse_question
from tfpilot_core.errors import ValidationError
from tfpilot_core.metrics import parse_since

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["99999999999d", "99999999999w", "36501d", "5215w"])
def test_metrics_windows_are_bounded(text: str) -> None:
    with pytest.raises(ValidationError, match="at most 36500d"):
        parse_since(text)


@given(st.integers(min_value=0, max_value=10**30), st.sampled_from("mhdw"))
def test_any_metrics_window_is_a_duration_or_a_clear_error(count: int, unit: str) -> None:
    try:
        window = parse_since(f"{count}{unit}")
    except ValidationError:
        return
    assert NOW - window < NOW


@given(
    st.integers(min_value=0, max_value=10**30),
    st.sampled_from(["hours", "days", "weeks", "months"]),
)
def test_any_question_window_is_a_query_or_a_refusal(count: int, unit: str) -> None:
    for question in (
        f"requests created in the last {count} {unit}",
        f"requests older than {count} {unit}",
    ):
        parsed = parse_question(question, now=NOW, actor="alice")
        assert parsed.understood or parsed.reason
