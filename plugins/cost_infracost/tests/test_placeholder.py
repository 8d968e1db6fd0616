"""Until its issue lands, the cost_infracost plugin is discoverable and registers nothing."""

from __future__ import annotations

from tfpilot_core.plugins import load_plugins


def test_discovered_and_registers_nothing() -> None:
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "cost_infracost"})
    info = loaded.infos["cost_infracost"]
    assert info.status == "loaded"
    assert info.distribution == "tfpilot-cost-infracost"
    assert info.hooks == []
