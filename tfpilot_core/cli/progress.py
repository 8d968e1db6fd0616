"""Feedback while a long command works: a spinner with the current step and the time taken.

On a terminal (stderr), ``plan``, ``apply``, ``destroy``, ``drift check`` and ``demo`` show one
line that is redrawn in place: what is being done (``terraform plan``, ``policy``, ...) and the
seconds since the start. With ``--verbose`` Terraform's output lines (masked by the runner before
they are logged) are streamed to stderr as they come. When stderr is not a terminal, or with
``--json``, nothing is added (no thread, no listener): scripts see exactly the same output.
``NO_COLOR`` is respected (the line has no colour; only the cursor is moved).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: Frames of the spinner (plain ASCII: any terminal font has them).
FRAMES = "|/-\\"
#: Lifecycle events (logged as ``event`` lines with their ``type``) and the step that follows.
EVENT_STEPS = {
    "plan_started": "rendering",
    "apply_started": "applying",
    "destroy_started": "destroying",
    "policy_evaluated": "cost and summary",
    "cost_estimated": "summary",
    "plan_succeeded": "policy, cost and summary",
}


def verbose_option(func: F) -> F:
    """``--verbose``/``-v``: stream Terraform's (masked) output to stderr while it runs."""
    return click.option(
        "--verbose",
        "-v",
        is_flag=True,
        help="Stream Terraform's output (secrets masked) to stderr as it runs.",
    )(func)


def step_of(event: str, fields: dict[str, Any]) -> str | None:
    """The step a log line starts (``terraform plan``, ``cost and summary``, ...), or ``None``.

    Terraform's commands say themselves (``terraform_started``, with the command); the
    lifecycle's events (``event`` lines) say what comes after them.
    """
    if event == "terraform_started":
        return f"terraform {fields.get('command') or ''}".strip()
    if event == "event":
        return EVENT_STEPS.get(str(fields.get("type")))
    return None


class Spinner:
    """The redrawn status line and the streamed output, written to ``stream`` (stderr)."""

    def __init__(self, label: str, stream: Any, *, animate: bool, verbose: bool) -> None:
        self.label = label
        self.stream = stream
        self.animate = animate
        self.verbose = verbose
        self.step: str | None = None
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._frame = 0
        self._drawn = False
        self._thread: threading.Thread | None = None

    def line(self) -> str:
        """The status line as it is drawn now."""
        elapsed = time.monotonic() - self.started
        step = f": {self.step}" if self.step else ""
        return f"{FRAMES[self._frame % len(FRAMES)]} {self.label}{step} ({elapsed:.0f}s)"

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[2K")
            self._drawn = False

    def _draw(self) -> None:
        with self._lock:
            self._clear()
            self.stream.write(self.line())
            self.stream.flush()
            self._drawn = True
            self._frame += 1

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._draw()

    def listen(self, event: str, fields: dict[str, Any]) -> None:
        """The log listener: follow the step; with ``verbose``, print Terraform's lines."""
        step = step_of(event, fields)
        if step is not None:
            self.step = step
        if self.verbose and event == "terraform_output":
            with self._lock:
                self._clear()
                self.stream.write(f"{fields.get('line', '')}\n")
                self.stream.flush()

    def __enter__(self) -> Spinner:
        if self.animate:
            self._draw()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._clear()
            self.stream.flush()


@contextmanager
def progress(label: str, *, verbose: bool = False) -> Iterator[None]:
    """Show ``label`` with the current step and elapsed time while the block runs (terminal)."""
    from tfpilot_core.cli.app import App

    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(App) if ctx is not None else None
    stream = sys.stderr
    animate = stream.isatty() and not (state is not None and state.json)
    if not animate and not verbose:
        # Not a terminal (a script, CI) or --json: nothing extra, not even a thread.
        with nullcontext():
            yield
        return
    from tfpilot_core.log import listening

    spinner = Spinner(label, stream, animate=animate, verbose=verbose)
    with spinner, listening(spinner.listen):
        yield
