"""Errors as RFC 9457 problem details, with the CLI's exit-code classes mapped to HTTP statuses.

One table (:data:`STATUS_BY_EXIT_CODE`) decides the status of every
:class:`~tfpilot_core.errors.TfpilotError`, so the API, the pages and every mounted route answer
an error the same way. Anything else is a bug: a 500 problem without details (logged).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tfpilot_core.errors import ExitCode, TfpilotError, ValidationError

PROBLEM_JSON = "application/problem+json"

#: HTTP status per exit code of the CLI (see ``tfpilot --help``).
STATUS_BY_EXIT_CODE: dict[int, int] = {
    ExitCode.VALIDATION: 422,
    ExitCode.FORBIDDEN: 403,
    ExitCode.NOT_FOUND: 404,
    ExitCode.CONFLICT: 409,
    # Policy refused what was asked: the request conflicts with the organisation's rules.
    ExitCode.POLICY: 409,
    ExitCode.CONFIG: 500,
    ExitCode.PLUGIN: 502,
    ExitCode.EXTERNAL: 502,
    ExitCode.INTERNAL: 500,
}

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    502: "A plugin or external tool failed",
}


class FieldProblemView(BaseModel):
    """One invalid field: its dotted path, the rule it broke and a message."""

    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    #: The ``tfpilot`` CLI's exit code for the same error.
    exit_code: int | None = None
    #: The error's class, e.g. ``ForbiddenError``.
    error: str | None = None
    problems: list[FieldProblemView] = Field(default_factory=list)


def status_of(error: TfpilotError) -> int:
    """The HTTP status of a tfpilot error."""
    return STATUS_BY_EXIT_CODE.get(error.exit_code, 500)


def problem_of(error: TfpilotError, *, instance: str | None = None) -> Problem:
    """The problem document of a tfpilot error."""
    status = status_of(error)
    problems = (
        [FieldProblemView(field=p.field, rule=p.rule, message=p.message) for p in error.problems]
        if isinstance(error, ValidationError)
        else []
    )
    return Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=error.message,
        instance=instance,
        exit_code=error.exit_code,
        error=type(error).__name__,
        problems=problems,
    )


def problem(status: int, detail: str, **fields: Any) -> Problem:
    """A problem document for an HTTP-level error (401, 429, a malformed body)."""
    return Problem(title=TITLES.get(status, "Error"), status=status, detail=detail, **fields)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``statuses``, each a problem document."""
    return {
        status: {
            "model": Problem,
            "description": TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
