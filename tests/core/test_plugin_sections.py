"""Settings sections named after their plugins; the old names read with a warning every run."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core import plugin_sections
from tfpilot_core.errors import ConfigError
from tfpilot_core.plugin_sections import PluginSectionDeprecationWarning
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Kind, PluginContext


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    plugin_sections.forget_warnings()
    yield
    plugin_sections.forget_warnings()


def _host(tfpilot_host: PluginHost, plugins: dict[str, Any]) -> PluginHost:
    config = tfpilot_host.config
    config.plugins = plugins
    return PluginHost(tfpilot_host.plugins, config, PluginContext.for_config(config))


def _local(host: PluginHost) -> Any:
    (registration,) = [r for _, r in host.registrations(Kind.RUNNER) if r.name == "local"]
    return host.settings_for(registration)


def test_the_section_named_after_the_plugin_is_read(tfpilot_host: PluginHost) -> None:
    host = _host(tfpilot_host, {"runner_local": {"timeout_seconds": 77}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginSectionDeprecationWarning)
        assert host.validate_settings() == []
    assert _local(host).timeout_seconds == 77


def test_the_old_name_is_read_with_a_deprecation_warning(tfpilot_host: PluginHost) -> None:
    host = _host(tfpilot_host, {"local": {"timeout_seconds": 78}, "embedded": {}})
    with pytest.warns(PluginSectionDeprecationWarning) as caught:
        assert host.validate_settings() == []  # not "unknown" either
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith("[plugins.embedded] is deprecated: rename it ")
    assert "[plugins.store_embedded]" in messages[0]
    assert messages[1].startswith("[plugins.local] is deprecated: rename it [plugins.runner_local]")
    assert _local(host).timeout_seconds == 78


def test_both_names_at_once_is_an_error_naming_both(tfpilot_host: PluginHost) -> None:
    host = _host(tfpilot_host, {"local": {}, "runner_local": {"timeout_seconds": 5}})
    with pytest.raises(ConfigError) as raised:
        host.validate_settings()
    assert "[plugins.runner_local] and [plugins.local]" in raised.value.message
    assert raised.value.key == "plugins.local"


def test_an_invalid_value_under_the_old_name_names_the_old_section(
    tfpilot_host: PluginHost,
) -> None:
    host = _host(tfpilot_host, {"local": {"timeout_seconds": "soon"}})
    with pytest.raises(ConfigError) as raised, pytest.warns(PluginSectionDeprecationWarning):
        host.validate_settings()
    assert raised.value.key == "plugins.local.timeout_seconds"


@pytest.mark.parametrize("section", ["local", "runner_local"])
def test_the_cli_warns_on_every_run_cached_or_not(tmp_path: Path, section: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "tfpilot.toml"
    config.write_text(
        f'[users.alice]\nrole = "developer"\n[plugins.{section}]\ntimeout_seconds = 60\n'
        "[plugins.nosuch]\nx = 1\n"
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "TFPILOT_USER": "alice",
    }
    env.pop("TFPILOT_NO_CACHE", None)
    cli = [str(Path(sys.executable).parent / "tfpilot")]
    runs = []
    for _ in range(3):
        done = subprocess.run(
            [*cli, "requests", "list"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        runs.append(done.stderr)
    # The start-up cache was written by the first run, and read by the next ones.
    assert list((tmp_path / "cache" / "tfpilot").glob("config-*.json"))
    warning = "tfpilot: warning: [plugins.local] is deprecated: rename it [plugins.runner_local]"
    # A section no plugin reads is logged on every run too.
    assert all(run.count("unknown_plugin_section") == 1 for run in runs), runs
    assert all("section=plugins.nosuch" in run for run in runs), runs
    if section == "local":
        assert all(run.count(warning) == 1 for run in runs), runs
    else:
        assert not any("deprecated" in run for run in runs), runs
