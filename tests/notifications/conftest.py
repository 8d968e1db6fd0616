"""A platform (embedded store, a fake runner) with a recording channel notifier.

The fake runner stands in for Terraform at unit level only; ``test_lifecycle.py`` runs the whole
lifecycle with real Terraform on the sandbox and the real Slack and email plugins.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.config import Grant, UserSettings
from tfpilot_core.interfaces import Delivery, RunResult, RunSpec
from tfpilot_core.models import Role
from tfpilot_core.notifications import DeliveryDeferred, DeliveryRejected
from tfpilot_core.notifications.settings import ChannelRoute
from tfpilot_core.platform import Platform
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import module_source_plugin, plugin_with

MODULE_TF = """
variable "name" {
  type = string
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
"""
MODULE_TOML = """
description = "A test bucket"
category = "storage"
risk = "low"
name_input = "name"
[inputs.password]
sensitive = true
"""


class FakeRunner:
    """Plans one bucket; fails on demand."""

    def __init__(self) -> None:
        self.fail_next: str | None = None
        self.drifted = False

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        if self.fail_next == "plan":
            self.fail_next = None
            return RunResult(success=False, error="Error: invalid region")
        document = {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "module.this.sandbox_bucket.this",
                    "mode": "managed",
                    "type": "sandbox_bucket",
                    "name": "this",
                    "change": {"actions": ["delete"], "before": {"name": "x"}, "after": None}
                    if destroy
                    else {"actions": ["create"], "before": None, "after": {"name": "x"}},
                }
            ],
        }
        data = json.dumps(document).encode()
        return RunResult(
            success=True,
            plan_json=document,
            plan_file=b"PLAN" + data,
            exit_code=2 if (refresh_only and self.drifted) else 0,
            rendered_digest=hashlib.sha256(data).hexdigest(),
        )

    def apply(self, spec: RunSpec, plan_file: bytes, **_: Any) -> RunResult:
        if self.fail_next == "apply":
            self.fail_next = None
            return RunResult(success=False, error="Error: name taken")
        return RunResult(success=True, state=b'{"version": 4}')

    def destroy(self, spec: RunSpec) -> RunResult:
        return RunResult(success=True, state=b'{"version": 4}')


class FakeDrift:
    """Drifted when the runner says so."""

    def check(self, spec: RunSpec, runner: Any) -> Any:
        from tfpilot_core.models import DriftReport, DriftResult

        if runner.drifted:
            return DriftReport(
                result=DriftResult.DRIFTED,
                addresses=["module.this.sandbox_bucket.this"],
                paths={"module.this.sandbox_bucket.this": ["public_access"]},
            )
        return DriftReport(result=DriftResult.NONE)


class Recorder:
    """A channel notifier that records deliveries and can fail, defer, reject or hang.

    It checks two promises on every call: no request lock is held, and the delivery was
    recorded (state ``sending``, attempt counted) before it was sent.
    """

    user_address = "email"

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.mode: str | None = None
        self.hang_seconds = 3.0
        self.platform: Platform | None = None
        self.violations: list[str] = []
        #: Set when a delivery reaches the notifier (a test may wait for the worker to start).
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def notify(self, event: Any, request: Any) -> None:  # pragma: no cover - outbox uses deliver
        raise AssertionError("a channel notifier gets deliver(), not notify()")

    def deliver(self, delivery: Delivery) -> None:
        self.entered.set()
        if self.platform is not None:
            store = self.platform.store
            if store.get_record("locks", delivery.request.id) is not None:
                self.violations.append(f"lock held while sending {delivery.id}")
            record = store.get_record("outbox", delivery.id)
            if record is None or record.value["state"] != "sending":
                self.violations.append(f"{delivery.id} was not recorded before sending")
        mode = self.mode
        if mode == "fail":
            raise ConnectionError("channel down")
        if mode == "reject":
            raise DeliveryRejected("invalid_auth")
        if mode == "defer":
            raise DeliveryDeferred("rate limited", retry_after=42)
        if mode == "hang":
            time.sleep(self.hang_seconds)
            raise TimeoutError("timed out")
        with self._lock:
            self.deliveries.append(delivery)

    def to(self, user_or_address: str) -> list[str]:
        """Event types delivered to a recipient (address or user)."""
        return [
            d.event.type
            for d in self.deliveries
            if user_or_address in (d.recipient, d.recipient_user)
        ]


USERS = {
    "alice": UserSettings(role=Role.DEVELOPER, email="alice@example.com"),
    "dan": UserSettings(role=Role.DEVELOPER, email="dan@example.com"),
    "bob": UserSettings(role=Role.APPROVER, email="bob@example.com"),
    "carol": UserSettings(role=Role.ADMIN, email="carol@example.com"),
    # May approve only in project "other": never told about project "shop".
    "mallory": UserSettings(
        grants=[Grant(role=Role.APPROVER, projects=["other"])], email="mallory@example.com"
    ),
    "erin": UserSettings(role=Role.VIEWER, email="erin@example.com"),
}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def make_platform(
    tfpilot_host: PluginHost,
    register_plugin: Callable[..., str],
    tmp_path: Path,
    recorder: Recorder,
    runner: FakeRunner,
) -> Callable[..., Platform]:
    """``make_platform(**notification_settings)``: a platform whose notifier is ``recorder``."""
    module = tmp_path / "modules" / "test" / "bucket"
    module.mkdir(parents=True)
    (module / "variables.tf").write_text(MODULE_TF)
    (module / "tfpilot.module.toml").write_text(MODULE_TOML)

    def make(*, notifiers: list[tuple[str, Any]] | None = None, **settings: Any) -> Platform:
        register_plugin(module_source_plugin({"test/bucket": module}), name="test_modules")
        chosen = notifiers if notifiers is not None else [("rec", recorder)]
        register_plugin(
            plugin_with(
                "tfpilot_register_notifiers",
                lambda: [Registration(name=n, factory=lambda s, c, o=o: o) for n, o in chosen],
            ),
            name="test_notifiers",
        )
        register_plugin(
            plugin_with(
                "tfpilot_register_runners",
                lambda: [Registration(name="fake", factory=lambda s, c: runner)],
            ),
            name="test_runner",
        )
        register_plugin(
            plugin_with(
                "tfpilot_register_drift_detectors",
                lambda: [Registration(name="fake", factory=lambda s, c: FakeDrift())],
            ),
            name="test_drift",
        )
        config = tfpilot_host.config
        config.users = dict(USERS)
        config.core.runner = "fake"
        config.core.drift_detector = "fake"
        # A generous budget: these tests check what is sent, not how fast (a loaded CI machine
        # must not leave a delivery for later); the budget tests set their own.
        values = {
            "backoff_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "budget_seconds": 20,
            **settings,
        }
        if "channels" in values:
            values["channels"] = [ChannelRoute.model_validate(c) for c in values["channels"]]
        config.notifications = config.notifications.model_copy(update=values)
        platform = Platform(tfpilot_host)
        recorder.platform = platform
        return platform

    return make


def create(platform: Platform, actor: str = "alice", **inputs: Any) -> Any:
    """A request for test/bucket in dev, project shop."""
    return platform.create(
        actor,
        module="test/bucket",
        environment=inputs.pop("environment", "dev"),
        project="shop",
        inputs={"name": "logs", **inputs},
    )
