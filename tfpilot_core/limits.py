"""Limits on what comes from outside: nesting depth and size of request inputs.

Checked before anything is stored, with the same rules on every path (CLI, Python API, HTTP), so
that no input can make a stored document that later fails to load (a deep value once broke
``requests list`` for everyone) or half-write a create. The limits live in ``[core]``:
``max_input_depth`` (default 32), ``max_value_bytes`` (64 KiB, one input's JSON) and
``max_request_bytes`` (256 KiB, all inputs together).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from tfpilot_core.config import CoreSettings

#: The project pattern of :class:`~tfpilot_core.models.Placement`, checked first for a clear error.
PROJECT_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")


def depth(value: Any, *, stop_at: int | None = None) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion.

    With ``stop_at``, counting stops as soon as that depth is reached (hostile values can be
    millions of levels deep; there is no need to walk all of them).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if stop_at is not None and deepest >= stop_at:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest


def check_input_limits(inputs: Mapping[str, Any], core: CoreSettings) -> None:
    """Raise :class:`ValidationError` (exit 3) naming each input over a limit."""
    problems: list[FieldProblem] = []
    total = 0
    for name, value in inputs.items():
        found = depth(value, stop_at=core.max_input_depth + 1)
        if found > core.max_input_depth:
            problems.append(
                FieldProblem(
                    f"inputs.{name}",
                    "max_depth",
                    f"nested more than {core.max_input_depth} levels deep ([core] max_input_depth)",
                )
            )
            continue
        try:
            size = len(json.dumps(value, default=str).encode())
        except (TypeError, ValueError) as exc:
            problems.append(FieldProblem(f"inputs.{name}", "json", f"not JSON data: {exc}"))
            continue
        total += size
        if size > core.max_value_bytes:
            problems.append(
                FieldProblem(
                    f"inputs.{name}",
                    "max_size",
                    f"{size} bytes is over {core.max_value_bytes} ([core] max_value_bytes)",
                )
            )
    if total > core.max_request_bytes:
        problems.append(
            FieldProblem(
                "inputs",
                "max_size",
                f"{total} bytes in all is over {core.max_request_bytes} ([core] max_request_bytes)",
            )
        )
    if problems:
        raise ValidationError(problems, subject="request inputs")


def check_placement(*, project: str) -> None:
    """Raise :class:`ValidationError` for a project name that is not a valid identifier."""
    if not isinstance(project, str) or not PROJECT_PATTERN.fullmatch(project):
        raise ValidationError(
            [
                FieldProblem(
                    "project",
                    "pattern",
                    f"{project!r} is not a valid project: 2-40 lowercase letters, digits and "
                    "'-', starting with a letter, not ending with '-'",
                )
            ],
            subject="request",
        )
