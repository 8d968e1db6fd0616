"""Until its issue lands, the notify_slack plugin is discoverable and registers nothing."""

from __future__ import annotations

from tfpilot_core.plugins import load_plugins


def test_discovered_and_registers_nothing() -> None:
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "notify_slack"})
    info = loaded.infos["notify_slack"]
    assert info.status == "loaded"
    assert info.distribution == "tfpilot-notify-slack"
    assert info.hooks == []
