"""The outbox on store_s3 (moto's S3 server over HTTP): the same guarantees as on SQLite."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost

from .conftest import FakeRunner, Recorder, create

pytestmark = pytest.mark.slow
s3_testing = pytest.importorskip("tfpilot_store_s3.testing")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Fake credentials through the standard chain; no real AWS account is reachable.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(name, value)
    server = s3_testing.MotoS3Server().start()
    yield server
    server.stop()


def test_outbox_on_s3(
    moto: Any,
    tfpilot_host: PluginHost,
    register_plugin: Callable[..., str],
    make_platform: Callable[..., Platform],
    recorder: Recorder,
    runner: FakeRunner,
) -> None:
    import tfpilot_store_s3.plugin

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.endpoint_url)
    s3.create_bucket(Bucket="tfpilot-outbox")
    register_plugin(tfpilot_store_s3.plugin, name="store_s3")
    tfpilot_host.config.core.store = "s3"
    tfpilot_host.config.plugins["store_s3"] = {
        "bucket": "tfpilot-outbox",
        "region": "us-east-1",
        "endpoint_url": moto.endpoint_url,
    }
    platform = make_platform(channels=[{"notifier": "rec", "recipient": "#dev"}])
    recorder.mode = "fail"
    request = create(platform)
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    platform.apply("bob", request.id)
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="tfpilot-outbox", Prefix="tfpilot/records/outbox/")[
            "Contents"
        ]
    ]
    # The approval to alice, bob, carol and #dev; the apply to alice and #dev.
    assert len(keys) == len(platform.notifications.list()) == 6
    recorder.mode = None
    for _ in range(50):
        time.sleep(0.05)
        platform.notifications.deliver_due()
        if not platform.notifications.list(states=["pending", "sending"]):
            break
    ids = [d.id for d in recorder.deliveries]
    assert len(ids) == len(set(ids)) == 6
    assert recorder.violations == []
