"""The one exception family that tfpilot shows to users.

Everything a person can cause (bad input, a refused transition, a misconfigured plugin) raises a
subclass of :class:`TfpilotError`. The CLI turns these into a clean message and a documented exit
code; anything else is a bug and shows a traceback only with ``--debug``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``.

    One wording for every suggestion tfpilot makes (commands, configuration keys, environments,
    users), so a person learns it once.
    """
    import difflib

    options = sorted({c for c in choices if c})
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not found:
        # A prefix is a strong hint too ("production" for "prod", "stag" for "stage").
        lowered = word.lower()
        found = [
            c for c in options if lowered.startswith(c.lower()) or c.lower().startswith(lowered)
        ]
        found = found[:1] if len(found) == 1 and len(word) >= 3 else []
    return f" (did you mean {found[0]!r}?)" if found else ""


class ExitCode:
    """Process exit codes of the ``tfpilot`` command (documented in the README)."""

    OK = 0
    #: An unexpected internal error (a bug): please report it.
    INTERNAL = 1
    #: Wrong command-line usage (click's own code).
    USAGE = 2
    #: Input that fails validation (request inputs, ids, files).
    VALIDATION = 3
    #: The configuration file or a plugin's configuration is invalid.
    CONFIG = 4
    #: A plugin failed to load or a decision plugin failed.
    PLUGIN = 5
    #: The actor may not do this (role, four eyes, an environment's allow-list).
    FORBIDDEN = 6
    #: Something that was asked for does not exist.
    NOT_FOUND = 7
    #: The request's state does not allow the action now (no approved plan to apply, a
    #: promotion gate, a concurrent change that won): change the state, or retry with fresh data.
    CONFLICT = 8
    #: Policy blocked the action.
    POLICY = 9
    #: Terraform (or another external tool) failed.
    EXTERNAL = 10
    #: A check found something (e.g. drift found by ``drift scan``).
    FOUND = 11


class TfpilotError(Exception):
    """Base of every error meant for a person to read."""

    exit_code: int = ExitCode.INTERNAL
    #: Why a run failed (:meth:`tfpilot_core.failures.Explanation.to_dict`), when the lifecycle
    #: explained the failure this error reports; the CLI shows it (``render_failure``).
    explanation: dict[str, object] | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form, used by ``--json`` output."""
        data: dict[str, object] = {
            "error": type(self).__name__,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.explanation is not None:
            data["explanation"] = self.explanation
        return data


class ConfigError(TfpilotError):
    """The configuration is invalid: names the file, the key and the reason."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        where = ", ".join(part for part in (source, f"key {key!r}" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.key = key


class PluginError(TfpilotError):
    """A plugin could not be loaded, registered something twice, or failed a decision."""

    exit_code = ExitCode.PLUGIN

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class DuplicateRegistrationError(PluginError):
    """Two plugins registered the same name for the same kind of capability."""


class PluginFailedError(PluginError):
    """A decision plugin (store, policy, runner) raised: the action stops (fail closed)."""

    def __init__(self, *, plugin: str, hook: str, cause: BaseException) -> None:
        super().__init__(
            f"plugin {plugin!r} failed in {hook}: {type(cause).__name__}: {cause}", plugin=plugin
        )
        self.hook = hook
        self.cause = cause


@dataclass(frozen=True)
class FieldProblem:
    """One validation problem: the field (dotted path) and the rule it broke."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


class ValidationError(TfpilotError):
    """Input broke one or more rules; every problem of the input is reported together."""

    exit_code = ExitCode.VALIDATION

    def __init__(self, problems: Sequence[FieldProblem], *, subject: str = "input") -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            # One problem, one line: the CLI prints the message as it is.
            message = f"{subject} is invalid: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{subject} is invalid ({len(self.problems)} problems):\n{lines}"
        super().__init__(message)
        self.subject = subject

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["problems"] = [
            {"field": p.field, "rule": p.rule, "message": p.message} for p in self.problems
        ]
        return data


class UnknownEnvironmentError(ValidationError):
    """An environment key that is not configured (``[[core.environments]]``): invalid input (3).

    The one wording of the rule, for every caller that looks an environment up.
    """

    def __init__(self, key: str, known: Sequence[str]) -> None:
        listed = ", ".join(known) or "none"
        super().__init__(
            [
                FieldProblem(
                    "environment",
                    "allowlist",
                    f"unknown environment {key!r} (configured: {listed})"
                    + did_you_mean(key, known),
                )
            ],
            subject="environment",
        )
        # One line that reads well on its own (the field is already in the sentence).
        self.message = self.problems[0].message
        self.args = (self.message,)
        self.key = key
        self.known = list(known)


class NotFoundError(TfpilotError):
    """A request, module, record or plugin that was asked for does not exist."""

    exit_code = ExitCode.NOT_FOUND


class AlreadyExistsError(TfpilotError):
    """A create found the thing already there (a lost create race, or a reused id)."""

    exit_code = ExitCode.CONFLICT


class ConflictError(TfpilotError):
    """The request's state conflicts with the action (exit 8).

    A compare-and-swap write that lost (the stored version is not the expected one), and a
    transition the current state does not allow yet (no approved plan to apply, a promotion gate
    refused): a script should change the state, or retry with fresh data, not ask for rights.
    """

    exit_code = ExitCode.CONFLICT


class StoreCorruptionError(ConflictError):
    """Stored bytes do not match their recorded digest, or a stored document cannot be read
    (disk corruption or tampering), in any store. Exit code 8, like any conflict with what is
    stored."""


class LockedError(ConflictError):
    """Another run holds the request's lock and it has not expired."""


class ForbiddenError(TfpilotError):
    """The actor may not do this (role, four eyes, an environment's allow-list): exit 6."""

    exit_code = ExitCode.FORBIDDEN


class PolicyBlockedError(TfpilotError):
    """Policy blocked the action."""

    exit_code = ExitCode.POLICY


class ExternalToolError(TfpilotError):
    """Terraform or another external tool failed, or is missing."""

    exit_code = ExitCode.EXTERNAL
