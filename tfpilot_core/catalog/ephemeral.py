"""Ephemeral inputs: given as an environment reference, resolved where Terraform runs, never stored.

A module input declared ``ephemeral = true`` (Terraform 1.10+) must not be written to the
request, a saved plan or state. Its value on a request is therefore a *reference*,
``{"$env": "TFPILOT_INPUT_DB_PASSWORD"}`` (the form of the configuration's secret references,
:mod:`tfpilot_core.references`), which is stored; the value is read from the environment of the
process that runs Terraform, for each plan and apply (the local runner's process, a GitHub
Actions job's secrets), and passed as ``TF_VAR_<name>`` only.

A literal value is refused (it would be stored), and so is ``$file`` (a request must not read
files on the runner). Only variables named ``TFPILOT_INPUT_*`` may be referenced, so a requester
cannot route a runner's own credentials (``AWS_SECRET_ACCESS_KEY``, ``GITHUB_TOKEN``) into a
resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tfpilot_core.errors import FieldProblem, ValidationError

#: The prefix of every environment variable an ephemeral input may name.
ENV_PREFIX = "TFPILOT_INPUT_"
_NAME = re.compile(r"TFPILOT_INPUT_[A-Za-z0-9_]{1,100}")
_EXAMPLE = '{"$env": "TFPILOT_INPUT_NAME"}'


def is_reference(value: Any) -> bool:
    """Whether ``value`` is a well-formed reference: ``{"$env": "TFPILOT_INPUT_..."}``."""
    if not isinstance(value, Mapping) or list(value) != ["$env"]:
        return False
    target = value["$env"]
    return isinstance(target, str) and _NAME.fullmatch(target) is not None


def problem(name: str, value: Any) -> FieldProblem | None:
    """The problem of ``value`` given for the ephemeral input ``name``, or ``None``."""
    if value is None or is_reference(value):
        return None
    if isinstance(value, Mapping) and list(value) == ["$env"]:
        why = f"name a variable {ENV_PREFIX}... (a runner's own credentials are off limits)"
    elif isinstance(value, Mapping) and list(value) == ["$file"]:
        why = "a $file reference is not allowed (a request must not read the runner's files)"
    else:
        why = "a literal value is refused: it would be stored with the request"
    return FieldProblem(
        f"inputs.{name}",
        "ephemeral_reference",
        f"is ephemeral: give an environment reference {_EXAMPLE}, read where Terraform runs "
        f"and never stored; {why}",
    )


def split(
    inputs: Mapping[str, Any], ephemeral: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``inputs`` as (the other inputs, the ephemeral inputs' references).

    :raises ValidationError: every ephemeral input given a literal (or a malformed reference).
    """
    names = set(ephemeral)
    problems = [p for n in sorted(names & set(inputs)) if (p := problem(n, inputs[n]))]
    if problems:
        raise ValidationError(problems, subject="inputs")
    others = {k: v for k, v in inputs.items() if k not in names}
    references = {k: dict(v) for k, v in inputs.items() if k in names and v is not None}
    return others, references


def resolve(name: str, value: Any, environ: Mapping[str, str]) -> Any:
    """The value of the ephemeral input ``name`` for one Terraform command.

    A reference is read from ``environ``; a literal (stored by tfpilot before 0.3, when
    ephemeral inputs were taken as given) is returned as it is.

    :raises ValidationError: the variable is not set here.
    """
    if not is_reference(value):
        return value
    target = str(value["$env"])
    if target not in environ:
        raise ValidationError(
            [
                FieldProblem(
                    f"inputs.{name}",
                    "ephemeral_unset",
                    f"environment variable {target} (this ephemeral input's reference) is not "
                    "set where Terraform runs",
                )
            ],
            subject="inputs",
        )
    return environ[target]
