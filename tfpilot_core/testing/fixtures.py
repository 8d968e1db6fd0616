"""pytest fixtures for testing tfpilot plugins.

* ``tfpilot_plugins``: a fresh plugin manager with the default plugins and no entry points, so
  a test sees only what it registers;
* ``register_plugin``: register a plugin (module or object) into it; unregistered afterwards;
* ``tfpilot_config``: a default :class:`~tfpilot_core.config.Config` whose home is a temporary
  directory (edit ``tfpilot_config.plugins[...]`` to configure plugins);
* ``tfpilot_host``: a :class:`~tfpilot_core.plugins.PluginHost` over the two above;
* ``tfpilot_platform``: ``tfpilot_platform(extra_config="", users=USERS, extra_plugins=())``
  builds a real :class:`~tfpilot_core.Platform` in a fresh home (``HOME``, ``TFPILOT_HOME`` and
  ``TFPILOT_CONFIG`` point into the test's temporary directory; no Terraform CLI configuration
  of the machine is read), with four users (alice developer, bob approver, carol admin, vera
  viewer) unless ``users`` says otherwise; ``tfpilot_platform.home`` is that home;
* ``span_exporter``: an in-memory OpenTelemetry exporter holding the spans of this test;
* ``log_capture``: the structlog events of this test, as dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tfpilot_core.config import Config, load_config
from tfpilot_core.log import merge_context
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import LoadedPlugins, PluginHost, PluginInfo, load_plugins
from tfpilot_core.registrations import PluginContext

_EXPORTER: InMemorySpanExporter | None = None


def _exporter() -> InMemorySpanExporter:
    # The global tracer provider can be set only once per process: install one provider with an
    # in-memory exporter the first time, and clear it for each test.
    global _EXPORTER
    if _EXPORTER is None:
        _EXPORTER = InMemorySpanExporter()
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return _EXPORTER


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (``span_exporter.get_finished_spans()``)."""
    exporter = _exporter()
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def log_capture() -> Iterator[list[MutableMapping[str, Any]]]:
    """structlog events logged during the test, each a dict (``event``, level, bound fields).

    Every level is captured, whatever an earlier test (e.g. one running the CLI, which filters
    below ``warning``) configured; the previous configuration is restored afterwards.
    """
    previous = structlog.get_config()
    structlog.reset_defaults()
    try:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars, merge_context]
        ) as captured:
            yield captured
    finally:
        structlog.configure(**previous)


@pytest.fixture
def tfpilot_plugins() -> LoadedPlugins:
    """A plugin manager with the default plugins only (no entry points)."""
    return load_plugins(entry_points=False, environ={})


@pytest.fixture
def register_plugin(tfpilot_plugins: LoadedPlugins) -> Iterator[Callable[..., str]]:
    """``register_plugin(plugin, name=None)`` registers into ``tfpilot_plugins``; undone after."""
    registered: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        tfpilot_plugins.manager.register(plugin, name=plugin_name)
        tfpilot_plugins.manager.check_pending()
        tfpilot_plugins.infos[plugin_name] = PluginInfo(
            plugin_name, "test", "", type(plugin).__name__, "loaded"
        )
        registered.append(plugin_name)
        return plugin_name

    yield register
    for name in registered:
        plugin = tfpilot_plugins.manager.get_plugin(name)
        if plugin is not None:
            tfpilot_plugins.manager.unregister(plugin)
        tfpilot_plugins.infos.pop(name, None)


@pytest.fixture
def tfpilot_home(tmp_path: Path) -> Path:
    """An empty tfpilot home directory for this test."""
    home = tmp_path / "tfpilot-home"
    home.mkdir()
    return home


@pytest.fixture
def tfpilot_config(tfpilot_home: Path) -> Config:
    """Defaults only (no file, no environment overrides), with home in a temporary directory."""
    return load_config(None, environ={"TFPILOT_HOME": str(tfpilot_home), "TFPILOT_CONFIG": ""})


@pytest.fixture
def tfpilot_host(tfpilot_plugins: LoadedPlugins, tfpilot_config: Config) -> PluginHost:
    """A plugin host over ``tfpilot_plugins`` and ``tfpilot_config``."""
    context = PluginContext.for_config(tfpilot_config)
    return PluginHost(tfpilot_plugins, tfpilot_config, context)


#: The users of a test platform: one per role.
USERS = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.carol]
role = "admin"
[users.vera]
role = "viewer"
"""


@dataclass(frozen=True)
class PlatformFactory:
    """Builds platforms over ``home/tfpilot.toml`` (see the ``tfpilot_platform`` fixture)."""

    home: Path

    def __call__(
        self,
        extra_config: str = "",
        *,
        users: str = USERS,
        extra_plugins: Sequence[tuple[str, object]] = (),
        entry_points: bool = True,
    ) -> Platform:
        """A platform whose configuration is ``users`` then ``extra_config`` (TOML)."""
        config = self.home / "tfpilot.toml"
        config.write_text(users + extra_config)
        environ = {"TFPILOT_HOME": str(self.home), "TFPILOT_CONFIG": str(config)}
        return Platform.from_config(
            environ=environ, extra_plugins=extra_plugins, entry_points=entry_points
        )


@pytest.fixture
def tfpilot_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformFactory:
    """``tfpilot_platform(extra_config="", users=USERS, extra_plugins=())``: a platform in a
    fresh home, built from the installed plugins (the sandbox's modules and provider when the
    ``tfpilot-sandbox`` plugin is installed)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    # Never the machine's ~/.terraformrc (or a registry it names): Terraform reads this file only.
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    return PlatformFactory(home)
