"""What does calling a plugin through :class:`~tfpilot_core.plugins.PluginHost` cost?

Compares ``host.notify(event, request)`` with calling the same notifier object directly,
``notifier.notify(event, request)``, in two fresh interpreters:

* tracing ON: the OpenTelemetry SDK ``TracerProvider`` with an ``InMemorySpanExporter`` behind a
  ``SimpleSpanProcessor`` (every span is exported synchronously, the most expensive set-up);
* tracing OFF: no SDK installed, so the API's no-op tracer is used (what the CLI does unless
  ``--trace`` or ``OTEL_TRACES_EXPORTER`` asks for spans).

Logging is configured as the CLI configures it (console renderer, level ``warning``), so the
host's log calls are filtered out as they would be in production. Run with::

    .venv/bin/python bench/hook_overhead.py [--rounds 40]

The two kinds of call are measured in alternating batches, so that a noisy machine slows both
alike; the per-call figures are medians (and minimums) over the batches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Calls per batch. A direct call is ~1000x cheaper, so it gets more calls per batch to stay well
#: above the clock's resolution; per-call times are what is compared.
HOST_CALLS_PER_BATCH = 200
DIRECT_CALLS_PER_BATCH = 20_000


class NullNotifier:
    """A notifier that does nothing, so that only the facade's own cost is measured."""

    def __init__(self) -> None:
        self.calls = 0

    def notify(self, event: Any, request: Any) -> None:
        """Count the call (an empty body could be optimised differently from a real one)."""
        self.calls += 1


def measure(tracing: bool, rounds: int) -> dict[str, Any]:
    """Time host and direct calls in this process; the tracing set-up cannot be undone."""
    from tfpilot_core.telemetry import setup_logging

    # As the CLI does by default: console renderer, warnings and above.
    setup_logging(fmt="console", level="warning")
    exporter = None
    if tracing:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

    from tfpilot_core.config import load_config
    from tfpilot_core.models import Event, Placement, Request
    from tfpilot_core.plugins import PluginHost, load_plugins
    from tfpilot_core.registrations import PluginContext, Registration
    from tfpilot_core.testing import plugin_with

    notifier = NullNotifier()
    plugin = plugin_with(
        "tfpilot_register_notifiers",
        lambda: [Registration("bench_null", lambda _settings, _context: notifier)],
    )
    plugins = load_plugins(entry_points=False, environ={}, extra=[("bench_null", plugin)])
    with tempfile.TemporaryDirectory() as home:
        config = load_config(None, environ={"TFPILOT_HOME": home, "TFPILOT_CONFIG": ""})
        host = PluginHost(plugins, config, PluginContext(home=Path(home)))
        request = Request(
            id="req_dev_bkt_abc234",
            placement=Placement(
                project="demo", environment="dev", module="sandbox/bucket", module_version="x"
            ),
            inputs={"name": "logs"},
            created_by="alice",
        )
        event = Event(request_id=request.id, type="request_created", actor="alice")

        # The first call builds the notifier (registrations hook, settings, factory): a one-off
        # cost that is not what this benchmark is about.
        host.notify(event, request)
        if exporter is not None:
            exporter.clear()
        outcome = host.notify(event, request)
        assert outcome == [("bench_null", None)], outcome
        spans_per_call = len(exporter.get_finished_spans()) if exporter is not None else 0

        host_us: list[float] = []
        direct_us: list[float] = []
        for _ in range(rounds):
            if exporter is not None:
                # Kept spans would grow memory through the run; clearing is outside the timing.
                exporter.clear()
            started = time.perf_counter()
            for _ in range(HOST_CALLS_PER_BATCH):
                host.notify(event, request)
            host_us.append((time.perf_counter() - started) / HOST_CALLS_PER_BATCH * 1e6)

            started = time.perf_counter()
            for _ in range(DIRECT_CALLS_PER_BATCH):
                notifier.notify(event, request)
            direct_us.append((time.perf_counter() - started) / DIRECT_CALLS_PER_BATCH * 1e6)
        if exporter is not None:
            # Proof that tracing was really on: the last batch's spans were all exported.
            exported = len(exporter.get_finished_spans())
            assert exported == HOST_CALLS_PER_BATCH * spans_per_call, exported

    return {
        "tracing": tracing,
        "rounds": rounds,
        "host_calls": rounds * HOST_CALLS_PER_BATCH,
        "direct_calls": rounds * DIRECT_CALLS_PER_BATCH,
        "spans_per_call": spans_per_call,
        "host_us_median": statistics.median(host_us),
        "host_us_min": min(host_us),
        "direct_us_median": statistics.median(direct_us),
        "direct_us_min": min(direct_us),
        "notifier_calls": notifier.calls,
    }


def run_child(tracing: bool, rounds: int) -> dict[str, Any]:
    """Measure in a fresh interpreter: the global tracer provider can be set only once."""
    mode = "on" if tracing else "off"
    command = [sys.executable, __file__, "--child", mode, "--rounds", str(rounds)]
    # No OTEL_* variable may switch tracing on behind the benchmark's back.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"tracing {mode} run failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def machine() -> str:
    """CPUs usable by this process, the CPU model, the Python version and the load."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    # Other work on a small machine skews medians; the load average says how busy it was.
    load = (
        ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
        if hasattr(os, "getloadavg")
        else ""
    )
    return (
        f"nproc {usable}, {model}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}{load}"
    )


def main() -> int:
    """Run both modes in subprocesses and print per-call times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="alternating batches per mode")
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child == "on", args.rounds)))
        return 0

    print(f"machine: {machine()}")
    print(
        f"host.notify vs notifier.notify, {args.rounds} alternating batches of "
        f"{HOST_CALLS_PER_BATCH} host / {DIRECT_CALLS_PER_BATCH} direct calls; microseconds per "
        "call, median (min)"
    )
    print(f"  {'tracing':34} {'host.notify':>18} {'direct':>16} {'ratio':>8} {'overhead':>10}")
    for tracing, label in (
        (True, "ON (SDK, in-memory, simple proc.)"),
        (False, "OFF (API no-op tracer)"),
    ):
        r = run_child(tracing, args.rounds)
        ratio = r["host_us_median"] / r["direct_us_median"]
        overhead = r["host_us_median"] - r["direct_us_median"]
        host = f"{r['host_us_median']:.2f} ({r['host_us_min']:.2f})"
        direct = f"{r['direct_us_median']:.3f} ({r['direct_us_min']:.3f})"
        print(f"  {label:34} {host:>18} {direct:>16} {ratio:7.0f}x {overhead:8.1f}us")
        if tracing:
            spans = r["spans_per_call"]
            print(f"  (tracing ON exports {spans} spans per host.notify call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
