"""Does notifying people slow the lifecycle down? Apply with notifications against without.

Three platforms, each in its own temporary home, run the same apply of a small module with real
Terraform (a ``terraform_data`` resource, so no provider is involved):

* ``off``: ``[notifications] enabled = false`` (the baseline);
* ``healthy``: Slack (the local stand-in of ``tfpilot_notify_slack.testing``, checking like
  Slack) and email (aiosmtpd on 127.0.0.1) up: every routed message is recorded in the outbox
  and sent after the run lock is released;
* ``hanging``: the Slack stand-in never answers: the apply returns once
  ``[notifications] budget_seconds`` is spent, the deliveries stay in the outbox. Slack's
  client timeout is longer than the budget, and before each timed apply the previous sends are
  waited for, so every apply meets a free, hanging channel: the worst case.

Only ``platform.apply`` is timed (the create, plan and approval before it are not). The three
kinds are measured in alternating rounds so that a noisy machine slows each alike; the figures
are medians. Run with::

    .venv/bin/python bench/notify.py [--rounds 5] [--budget 2]
"""

from __future__ import annotations

import argparse
import os
import platform as host_platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODULE = {
    "variables.tf": 'variable "name" {\n  type = string\n}\n',
    "main.tf": 'resource "terraform_data" "this" {\n  input = var.name\n}\n',
    "tfpilot.module.toml": 'description = "bench"\ncategory = "test"\nrisk = "low"\n'
    'name_input = "name"\n',
}


class _Inbox:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _platform(root: Path, name: str, extra: str) -> Any:
    from tfpilot_core.platform import Platform

    home = root / name
    home.mkdir()
    config = home / "tfpilot.toml"
    config.write_text(
        '[users.alice]\nrole = "developer"\nemail = "alice@example.com"\nslack = "U0ALICE"\n'
        '[users.bob]\nrole = "approver"\nemail = "bob@example.com"\nslack = "U0BOB"\n'
        f'[plugins.modules_dir]\npaths = ["{root / "modules"}"]\n' + extra
    )
    return Platform.from_config(environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)})


def _apply(platform: Any) -> float:
    request = platform.create(
        "alice", module="bench/plain", environment="dev", project="bench", inputs={"name": "x"}
    )
    platform.plan("alice", request.id)
    platform.approve("bob", request.id)
    # Earlier sends finished (or timed out): the apply meets a free channel, the worst case
    # (a channel still busy from before is skipped without waiting at all).
    platform.notifications.wait(60)
    started = time.perf_counter()
    platform.apply("bob", request.id)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0)
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    from tfpilot_core.telemetry import setup_logging
    from tfpilot_notify_slack.testing import SlackStandIn

    setup_logging(fmt="console", level="warning")  # as the CLI does: no info lines in timings
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    with tempfile.TemporaryDirectory() as tmp, SlackStandIn() as healthy_slack:
        root = Path(tmp)
        os.environ["HOME"] = str(root)
        os.environ["TF_CLI_CONFIG_FILE"] = str(root / "missing.tfrc")
        module = root / "modules" / "bench" / "plain"
        module.mkdir(parents=True)
        for file, text in MODULE.items():
            (module / file).write_text(text)
        hanging_slack = SlackStandIn(hang_seconds=30).start()
        hanging_slack.fail("hang")
        inbox = _Inbox()
        smtp_port = _free_port()
        smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()

        def notifying(slack: SlackStandIn) -> str:
            return (
                f'[plugins.notify_slack]\ntoken = "{slack.token}"\nbase_url = "{slack.base_url}"\n'
                f"timeout = {args.budget + 1:g}\nmax_retries = 0\n"
                f'[plugins.notify_email]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
                'from_address = "tfpilot@example.com"\nstarttls = "off"\n'
                f"[notifications]\nbudget_seconds = {args.budget}\n"
                '[[notifications.channels]]\nnotifier = "slack"\nrecipient = "#dev"\n'
            )

        platforms = {
            "off": _platform(root, "off", "[notifications]\nenabled = false\n"),
            "healthy": _platform(root, "healthy", notifying(healthy_slack)),
            "hanging": _platform(root, "hanging", notifying(hanging_slack)),
        }
        for p in platforms.values():
            _apply(p)  # warm-up: catalog, Terraform's first init
        times: dict[str, list[float]] = {name: [] for name in platforms}
        for round_ in range(args.rounds):
            for name, p in platforms.items():
                times[name].append(_apply(p))
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        smtp.stop()
        hanging_slack.stop()
        sent = len(healthy_slack.messages)

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["off"]
    print(f"python {sys.version.split()[0]}, {host_platform.machine()}, {os.cpu_count()} cpus")
    print(
        f"rounds {args.rounds}, budget {args.budget:g} s; the healthy Slack got {sent} messages, "
        f"SMTP {inbox.count} (from both notifying platforms)"
    )
    print(f"{'notifications':<14} {'apply median s':>15} {'min s':>8} {'ratio':>7} {'extra s':>8}")
    for name, values in times.items():
        m = medians[name]
        print(f"{name:<14} {m:>15.3f} {min(values):>8.3f} {m / base:>7.2f} {m - base:>8.3f}")
    extra = medians["hanging"] - base
    # The medians of Terraform applies vary by a few tenths of a second from round to round (see
    # healthy against off), hence the allowance.
    verdict = "ok" if extra <= args.budget + 0.5 else "BEYOND the budget"
    print(
        f"hanging Slack: {extra:.3f} s over the baseline for a {args.budget:g} s budget "
        f"({verdict}: allowed budget + 0.5 s of timing noise)"
    )


if __name__ == "__main__":
    main()
