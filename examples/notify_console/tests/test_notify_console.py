"""Tests of the notify_console example, written only with the fixtures tfpilot-core provides."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tfpilot_notify_console
from tfpilot_core.config import Config
from tfpilot_core.errors import ConfigError
from tfpilot_core.models import Event, Placement, Request
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with


@pytest.fixture
def request_doc() -> Request:
    """A minimal request."""
    placement = Placement(
        project="demo", environment="dev", module="sandbox/bucket", module_version="1.0.0"
    )
    return Request(id="req_dev_bkt_abc234", placement=placement, inputs={}, created_by="alice")


@pytest.fixture
def event(request_doc: Request) -> Event:
    """An event of ``request_doc``."""
    return Event(request_id=request_doc.id, type="request_created", actor="alice")


@pytest.fixture(autouse=True)
def registered(register_plugin: Callable[..., str]) -> str:
    """The example registered under its entry-point name, as discovery would register it."""
    return register_plugin(tfpilot_notify_console, name="notify_console")


def test_prints_each_event_to_stderr_by_default(
    tfpilot_host: PluginHost,
    event: Event,
    request_doc: Request,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no settings, every event becomes one line on stderr."""
    outcomes = tfpilot_host.notify(event, request_doc)

    assert outcomes == [("notify_console", None)]
    captured = capsys.readouterr()
    assert captured.err == "[tfpilot] req_dev_bkt_abc234: request_created by alice\n"
    assert captured.out == ""


def test_settings_come_from_the_plugins_section(
    tfpilot_config: Config,
    tfpilot_host: PluginHost,
    event: Event,
    request_doc: Request,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``[plugins.notify_console]`` chooses the stream and the prefix."""
    tfpilot_config.plugins["notify_console"] = {"stream": "stdout", "prefix": "[infra]"}

    tfpilot_host.notify(event, request_doc)

    assert capsys.readouterr().out == "[infra] req_dev_bkt_abc234: request_created by alice\n"


def test_a_misspelt_setting_names_the_key(
    tfpilot_config: Config, tfpilot_host: PluginHost, event: Event, request_doc: Request
) -> None:
    """Settings are validated by the plugin's model: an unknown key is a configuration error."""
    tfpilot_config.core.notifiers = ["notify_console"]
    tfpilot_config.plugins["notify_console"] = {"strem": "stdout"}

    with pytest.raises(ConfigError, match=r"plugins\.notify_console\.strem"):
        tfpilot_host.notify(event, request_doc)


def test_another_notifier_failing_does_not_stop_this_one(
    register_plugin: Callable[..., str],
    tfpilot_host: PluginHost,
    event: Event,
    request_doc: Request,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Notifiers are isolated: one raising is reported by name, the others still run."""

    class Broken:
        """A notifier whose mail server is down."""

        def notify(self, event: Event, request: Request) -> None:
            raise RuntimeError("smtp down")

    broken = plugin_with(
        "tfpilot_register_notifiers", lambda: [Registration("broken", lambda _s, _c: Broken())]
    )
    register_plugin(broken, name="broken")

    outcomes = dict(tfpilot_host.notify(event, request_doc))

    assert outcomes == {"broken": "RuntimeError: smtp down", "notify_console": None}
    assert "request_created by alice" in capsys.readouterr().err
    assert [(f.plugin, f.error) for f in tfpilot_host.failures] == [
        ("broken", "RuntimeError: smtp down")
    ]


def test_spans_name_the_plugin(
    tfpilot_host: PluginHost,
    span_exporter: InMemorySpanExporter,
    event: Event,
    request_doc: Request,
) -> None:
    """The host traces the call, and the per-plugin span says which plugin ran."""
    tfpilot_host.notify(event, request_doc)

    spans = {span.name: span for span in span_exporter.get_finished_spans()}
    plugin_span = spans["notifier.notify notify_console"]
    assert plugin_span.attributes is not None
    assert plugin_span.attributes["tfpilot.plugin"] == "notify_console"
    assert plugin_span.attributes["tfpilot.request_id"] == request_doc.id
