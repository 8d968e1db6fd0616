"""The spans and log fields the PluginHost facade emits (in-memory exporter, captured logs)."""

from __future__ import annotations

from typing import Any

import pytest

from tfpilot_core.errors import PluginFailedError
from tfpilot_core.models import Event, Request
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with


class _Notifier:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def notify(self, event: Event, request: Request) -> None:
        import structlog

        structlog.get_logger("test").info("delivering", to="chat")
        if self.fail:
            raise RuntimeError("chat is down")


def test_one_span_per_call_and_one_child_per_plugin(
    tfpilot_host: PluginHost,
    register_plugin: Any,
    request_doc: Request,
    event: Event,
    span_exporter: Any,
) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [
                Registration(name="chat", factory=lambda s, c: _Notifier()),
                Registration(name="pager", factory=lambda s, c: _Notifier(fail=True)),
            ],
        ),
        name="notify_test",
    )
    tfpilot_host.notify(event, request_doc)
    finished = span_exporter.get_finished_spans()
    spans = {s.name: s for s in finished}
    parent = spans["notify"]
    children = [s for s in finished if s.name.startswith("notifier.notify ")]
    assert len(children) == 2
    for child in children:
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.attributes["tfpilot.hook"] == "notifier.notify"
        assert child.attributes["tfpilot.plugin"] == "notify_test"
        assert child.attributes["tfpilot.distribution"] == "test"
        assert child.attributes["tfpilot.request_id"] == request_doc.id
    failed = [c for c in children if not c.status.is_ok]
    assert len(failed) == 1 and failed[0].attributes["tfpilot.isolated"] is True
    assert any(e.name == "exception" for e in failed[0].events)
    # The registration hook itself is traced too, attributed to the plugin.
    assert (
        spans["tfpilot_register_notifiers notify_test"].attributes["tfpilot.plugin"]
        == "notify_test"
    )


def test_log_context_is_bound_per_plugin(
    tfpilot_host: PluginHost,
    register_plugin: Any,
    request_doc: Request,
    event: Event,
    log_capture: list[dict[str, Any]],
) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [Registration(name="chat", factory=lambda s, c: _Notifier(fail=True))],
        ),
        name="notify_test",
    )
    tfpilot_host.notify(event, request_doc)
    delivering = next(e for e in log_capture if e["event"] == "delivering")
    assert delivering["plugin"] == "notify_test"
    assert delivering["hook"] == "notifier.notify"
    assert delivering["request_id"] == request_doc.id
    failure = next(e for e in log_capture if e["event"] == "plugin_failed")
    assert failure["fail"] == "isolated" and "chat is down" in failure["error"]
    assert failure["plugin"] == "notify_test"


def test_decision_failure_is_traced_and_raised(
    tfpilot_host: PluginHost,
    register_plugin: Any,
    tfpilot_config: Any,
    span_exporter: Any,
    log_capture: list[dict[str, Any]],
) -> None:
    class BrokenStore:
        def get_request(self, request_id: str) -> Request:
            raise OSError("disk on fire")

    register_plugin(
        plugin_with(
            "tfpilot_register_stores",
            lambda: [Registration(name="broken", factory=lambda s, c: BrokenStore())],
        ),
        name="store_test",
    )
    tfpilot_config.core.store = "broken"
    with pytest.raises(PluginFailedError) as info:
        tfpilot_host.store().get_request("req_dev_bkt_abc234")
    assert info.value.plugin == "store_test" and "disk on fire" in info.value.message
    span = next(
        s for s in span_exporter.get_finished_spans() if s.name == "store.get_request store_test"
    )
    assert not span.status.is_ok
    assert span.attributes["tfpilot.request_id"] == "req_dev_bkt_abc234"
    assert any(e["event"] == "plugin_failed" and e["fail"] == "closed" for e in log_capture)


@pytest.mark.parametrize("kind", ["store", "event_observer"])
def test_a_hook_calls_log_fields_last_only_while_it_runs(tfpilot_plugins: Any, kind: str) -> None:
    """Both log contexts (tfpilot's and structlog's) hold the call's fields inside it and are
    restored after it, whether it returns, fails closed (a decision kind) or is isolated."""
    import structlog

    from tfpilot_core import log
    from tfpilot_core.hookcalls import HookCaller
    from tfpilot_core.registrations import Kind

    caller = HookCaller(tfpilot_plugins)
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def look(fail: bool) -> str:
        seen.append((log.fields(), dict(structlog.contextvars.get_contextvars())))
        if fail:
            raise RuntimeError("down")
        return "done"

    with log.bound(outer="kept"), structlog.contextvars.bound_contextvars(outer="kept"):
        before = (log.fields(), dict(structlog.contextvars.get_contextvars()))
        assert caller.call(Kind(kind), "p1", "h.ok", lambda: look(False), request_id="req_1")
        if Kind(kind).decision:
            with pytest.raises(PluginFailedError):
                caller.call(Kind(kind), "p1", "h.fail", lambda: look(True))
        else:
            assert caller.call(Kind(kind), "p1", "h.fail", lambda: look(True)) is None
        assert (log.fields(), dict(structlog.contextvars.get_contextvars())) == before
    for fields in seen[0]:
        assert fields["hook"] == "h.ok" and fields["plugin"] == "p1"
        assert fields["request_id"] == "req_1" and fields["outer"] == "kept"
    for fields in seen[1]:
        assert fields["hook"] == "h.fail" and "request_id" not in fields
    assert log.fields() == {} and "hook" not in structlog.contextvars.get_contextvars()


def test_failures_under_unrecorded_spans_raise_what_failed(
    tfpilot_host: PluginHost,
    request_doc: Request,
    event: Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing recording spans (issue 31) a hook call's span is a stand-in: marking a failed
    delivery on it must not replace the notifier's own error (the outbox retries by it)."""
    import types

    import tfpilot_core.hookcalls as hookcalls

    monkeypatch.setattr(hookcalls, "spans_recorded", lambda: False)

    class Down:
        def deliver(self, delivery: Any) -> None:
            raise ConnectionError("chat is down")

    delivery = types.SimpleNamespace(request=request_doc, event=event)
    with pytest.raises(ConnectionError, match="chat is down"):
        tfpilot_host.send("chat", Down(), delivery)
