"""The core's fallback: a summariser that raises gives way to ``rules``, and the summary (so the
request) records why."""

from __future__ import annotations

from typing import Any

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.plan import Plan
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with

from .conftest import REQUEST


class _Exploding:
    def summarize(self, *_: Any) -> Any:
        raise RuntimeError("model client crashed: token=sk-abcdefghijklmnopqrstuvwx")


def test_a_raising_summariser_falls_back_with_the_reason(
    tfpilot_host: PluginHost, register_plugin: Any, tfpilot_config: Any
) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_summarizers",
            lambda: [Registration(name="exploding", factory=lambda s, c: _Exploding())],
        ),
        name="exploding_plugin",
    )
    plan = Plan.parse({"format_version": "1.2", "resource_changes": []})
    tfpilot_config.core.summarizer = "exploding"
    summary = tfpilot_host.summarize(REQUEST, plan, SummaryContext())
    assert summary is not None and summary.summarizer == "rules"
    assert summary.fallback_reason is not None
    assert summary.fallback_reason.startswith("exploding: RuntimeError: model client crashed")
    # Even an error message is scrubbed before it is stored on the request.
    assert "sk-abcdefghijklmnopqrstuvwx" not in summary.fallback_reason
    # Not installed at all: said so too.
    tfpilot_config.core.summarizer = "nowhere"
    summary = tfpilot_host.summarize(REQUEST, plan, SummaryContext())
    assert summary is not None and summary.fallback_reason == (
        "nowhere: no summariser of this name is installed"
    )
    # The rules summariser chosen: no reason.
    tfpilot_config.core.summarizer = "rules"
    summary = tfpilot_host.summarize(REQUEST, plan, SummaryContext())
    assert summary is not None and summary.fallback_reason is None
