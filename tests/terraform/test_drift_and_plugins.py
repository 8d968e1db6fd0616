"""The ``refresh`` drift detector's outcomes, and the three default plugins' registrations.

The detector is tested here against a scripted runner (every outcome, including the ones real
Terraform makes hard to provoke); ``test_runner.py`` runs it against real Terraform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.drift_detection import RefreshDriftDetector
from tfpilot_core.interfaces import Runner, RunResult, RunSpec
from tfpilot_core.models import DriftResult
from tfpilot_core.plugins import DEFAULT_PLUGINS, PluginHost
from tfpilot_core.registrations import Kind

DRIFT = {
    "format_version": "1.2",
    "resource_drift": [
        {
            "address": "module.this.sandbox_bucket.this",
            "mode": "managed",
            "type": "sandbox_bucket",
            "name": "this",
            "change": {
                "actions": ["update"],
                "before": {"public_access": False, "tags": {"a": "1"}, "name": "logs"},
                "after": {"public_access": True, "tags": {"a": "2"}, "name": "logs"},
            },
        }
    ],
}


class ScriptedRunner:
    """A runner whose refresh-only plan returns a fixed result."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.calls: list[bool] = []

    def plan(self, spec: RunSpec, *, refresh_only: bool = False) -> RunResult:
        self.calls.append(refresh_only)
        return self.result

    def apply(self, spec: RunSpec, plan_file: bytes) -> RunResult:
        raise AssertionError("a drift check never applies")

    def destroy(self, spec: RunSpec) -> RunResult:
        raise AssertionError("a drift check never destroys")


def check(make_spec: Callable[..., RunSpec], result: RunResult) -> Any:
    runner = ScriptedRunner(result)
    assert isinstance(runner, Runner)
    report = RefreshDriftDetector().check(make_spec({"name": "logs"}), runner)
    assert runner.calls == [True]
    return report


def test_no_drift(make_spec: Callable[..., RunSpec]) -> None:
    """Exit code 0, nothing in ``resource_drift``: none."""
    report = check(make_spec, RunResult(True, plan_json={"format_version": "1.2"}, exit_code=0))
    assert report.result is DriftResult.NONE
    assert (report.addresses, report.paths, report.detector) == ([], {}, "refresh")


def test_drift(make_spec: Callable[..., RunSpec]) -> None:
    """Exit code 2 with drift: the addresses and the changed attribute paths (never values)."""
    report = check(make_spec, RunResult(True, plan_json=DRIFT, exit_code=2))
    assert report.result is DriftResult.DRIFTED
    assert report.addresses == ["module.this.sandbox_bucket.this"]
    assert report.paths == {"module.this.sandbox_bucket.this": ["public_access", "tags.a"]}


def test_exit_code_two_without_drift_is_not_drift(make_spec: Callable[..., RunSpec]) -> None:
    """Terraform 1.11 exits 2 on some clean refresh-only plans: the JSON decides."""
    report = check(make_spec, RunResult(True, plan_json={"format_version": "1.2"}, exit_code=2))
    assert report.result is DriftResult.NONE


@pytest.mark.parametrize(
    "result",
    [
        RunResult(False, error="terraform plan failed (exit code 1)\nError: boom", exit_code=1),
        RunResult(True, plan_json={"format_version": "2.0"}, exit_code=0),
        RunResult(True, plan_json=DRIFT, exit_code=3),
    ],
    ids=["run-failed", "unreadable-plan", "odd-exit-code"],
)
def test_errors(make_spec: Callable[..., RunSpec], result: RunResult) -> None:
    """A failed run or an unreadable plan is an error report with a message, never a raise."""
    report = check(make_spec, result)
    assert report.result is DriftResult.ERROR
    assert report.error


def test_default_plugins_are_registered(tfpilot_host: PluginHost) -> None:
    """``local``, ``refresh`` and ``rules`` come with the core, after the first two defaults."""
    assert DEFAULT_PLUGINS[2:5] == (
        "tfpilot_core.default_plugins.runner_local",
        "tfpilot_core.default_plugins.drift_refresh",
        "tfpilot_core.default_plugins.summarizer_rules",
    )
    assert tfpilot_host.has(Kind.RUNNER, "local")
    assert tfpilot_host.has(Kind.DRIFT_DETECTOR, "refresh")
    assert tfpilot_host.has(Kind.SUMMARIZER, "rules")
    runner = tfpilot_host.runner()
    from tfpilot_core.terraform.runner import LocalRunner

    assert isinstance(runner.wrapped, LocalRunner)  # type: ignore[attr-defined]
    assert runner.wrapped.root == tfpilot_host.context.home / "work"  # type: ignore[attr-defined]


def test_runner_settings_are_validated(tfpilot_host: PluginHost) -> None:
    """A wrong setting is a configuration error naming the key."""
    from tfpilot_core.errors import ConfigError

    tfpilot_host.config.plugins["local"] = {"timeout_seconds": 0}
    with pytest.raises(ConfigError, match=r"plugins\.local\.timeout_seconds"):
        tfpilot_host.runner()
