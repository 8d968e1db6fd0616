"""A runner wrapper that captures every run's Terraform output as the attempt's log artifact.

:meth:`Platform.runner <tfpilot_core.platform.Platform.runner>` returns the configured runner
wrapped in :class:`CapturingRunner`. After each ``plan``/``apply``/``destroy`` call (drift checks
call ``plan``) it stores ``RunResult.log`` (the local runner's log holds the output of ``init``,
of the command itself and of its errors) against the attempt that is running, successful or not.
The attempt is the newest unfinished attempt of the request passed in the run spec: the platform
starts the attempt just before it calls the runner.

After a successful plan (not a drift check's refresh-only plan) it also stores the plan's
structured diff (:func:`tfpilot_core.plan_diff.record`, keyed by the plan digest), made from the
masked plan, for the web page, the API and the PR comment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpilot_core.log import get_logger
from tfpilot_core.masking import sensitive_strings
from tfpilot_core.models import RunStatus
from tfpilot_core.run_logs import capture

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Runner, RunResult, RunSpec, Store
    from tfpilot_core.models import RunAttempt

log = get_logger("tfpilot.logs")


def _running_attempt(spec: RunSpec) -> RunAttempt | None:

    running = [
        a
        for attempts in spec.request.runs.values()
        for a in attempts
        if a.status is not RunStatus.COMPLETED
    ]
    return max(running, key=lambda a: a.created_at) if running else None


def secrets_of(spec: RunSpec) -> list[str]:
    """The request's sensitive input values, as strings to scrub from free text."""

    found: list[str] = []
    for name in spec.sensitive_inputs:
        found += sensitive_strings(spec.request.inputs.get(name), True)
    return found


class CapturingRunner:
    """Delegates to ``runner`` and captures each result's log (see the module docstring)."""

    def __init__(self, runner: Runner, store: Store) -> None:
        self._runner = runner
        self._store = store

    def __getattr__(self, attr: str) -> Any:
        # Everything else (``dispatching``, extra methods) is the wrapped runner's own.
        return getattr(self._runner, attr)

    @property
    def wrapped(self) -> Runner:
        """The runner itself."""
        return self._runner

    def _capture(self, spec: RunSpec, result: RunResult) -> None:

        attempt = _running_attempt(spec)
        if attempt is None or not (result.log or result.error):
            return
        text = result.log
        if result.error and result.error.strip() not in text:
            text = f"{text}\n{result.error}" if text else result.error
        try:
            capture(self._store, spec.request, attempt, text, secrets_of(spec))
        except Exception as exc:  # a log that cannot be stored must not change the run's outcome
            log.warning("log_capture_failed", attempt=attempt.id, error=str(exc))

    def plan(
        self, spec: RunSpec, *, refresh_only: bool = False, destroy: bool = False
    ) -> RunResult:
        """The wrapped runner's plan, captured."""
        # destroy= is passed only when asked for: runners older than destroy plans lack it.
        if destroy:
            result = self._runner.plan(spec, refresh_only=refresh_only, destroy=True)
        else:
            result = self._runner.plan(spec, refresh_only=refresh_only)
        self._capture(spec, result)
        return result

    def apply(
        self, spec: RunSpec, plan_file: bytes, *, rendered_digest: str | None = None
    ) -> RunResult:
        """The wrapped runner's apply, captured."""
        result = self._runner.apply(spec, plan_file, rendered_digest=rendered_digest)
        self._capture(spec, result)
        return result

    def destroy(self, spec: RunSpec) -> RunResult:
        """The wrapped runner's destroy, captured."""
        result = self._runner.destroy(spec)
        self._capture(spec, result)
        return result
