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
from typing import TYPE_CHECKING, Any, Literal

from tfpilot_core.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from tfpilot_core.config import CoreSettings

#: Deepest nesting a document of inputs may have, checked before it is parsed: the object of
#: inputs plus the largest ``max_input_depth`` the configuration accepts. Parsers recurse, so a
#: document deeper than this would otherwise end in a RecursionError (exit 1) before any check.
MAX_DOCUMENT_DEPTH = 257

#: Most values (scalars, lists and objects) a YAML document may expand to once its aliases are
#: followed: a few hundred bytes of nested aliases can otherwise expand to billions of values.
MAX_DOCUMENT_NODES = 100_000

#: A JSON string or a bracket (strings first, so that brackets inside them are skipped).
_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')

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


def _too_deep(field: str, source: str, limit: int) -> ValidationError:
    return ValidationError(
        [FieldProblem(field, "max_depth", f"{source}: nested more than {limit} levels deep")],
        subject="command line",
    )


def _json_depth(text: str, stop_at: int) -> int:
    """How deeply ``text`` nests arrays and objects, read without parsing (stops at ``stop_at``)."""
    level = deepest = 0
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            level += 1
            deepest = max(deepest, level)
            if deepest >= stop_at:
                break
        elif token in "]}":
            level -= 1
    return deepest


def _check_yaml_events(
    text: str, *, field: str, source: str, max_depth: int, max_nodes: int
) -> None:
    """Walk the YAML event stream (the parser does not recurse) and measure the document as it
    would be once built, aliases expanded: refuse it before the (recursive) composer runs."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # One frame per open collection: [values inside it once expanded, depth below it, anchor].
    frames: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values once expanded, depth)
    total = 0

    def add(values: int, depth_below: int) -> None:
        """Count a value (of ``values`` values once expanded) into the open collection."""
        nonlocal total
        total += values
        if total > max_nodes:
            raise ValidationError(
                [
                    FieldProblem(
                        field,
                        "max_nodes",
                        f"{source}: expands to more than {max_nodes} values "
                        "(a YAML alias counts each time it is used)",
                    )
                ],
                subject="command line",
            )
        if len(frames) + depth_below > max_depth:
            raise _too_deep(field, source, max_depth)
        if frames:
            frames[-1][0] += values
            frames[-1][1] = max(frames[-1][1], depth_below)

    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            frames.append([0, 0, event.anchor])
            if len(frames) > max_depth:
                raise _too_deep(field, source, max_depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            inside, below, anchor = frames.pop()
            if anchor:
                anchors[anchor] = (inside + 1, below + 1)
            # What is inside was counted as it came: count the collection itself into the total
            # and all of it into its parent.
            total -= inside
            add(inside + 1, below + 1)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = (1, 0)
            add(1, 0)
        elif isinstance(event, yaml.AliasEvent):
            add(*anchors.get(event.anchor or "", (1, 0)))


def load_document(
    text: str,
    *,
    source: str,
    fmt: Literal["json", "yaml"],
    field: str = "--inputs",
    max_depth: int = MAX_DOCUMENT_DEPTH,
    max_nodes: int = MAX_DOCUMENT_NODES,
) -> Any:
    """Parse a JSON or YAML document from outside, with limits checked before the parser can
    recurse or expand aliases.

    Raises :class:`ValidationError` (exit 3) naming ``field``, ``source`` and the rule broken:
    ``max_depth`` (nesting), ``max_nodes`` (YAML alias expansion), ``json`` or ``yaml`` (syntax).
    """
    if fmt == "yaml":
        import yaml

        try:
            _check_yaml_events(
                text, field=field, source=source, max_depth=max_depth, max_nodes=max_nodes
            )
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            raise ValidationError(
                [FieldProblem(field, "yaml", f"{source}: {exc}")], subject="command line"
            ) from None
    if _json_depth(text, max_depth + 1) > max_depth:
        raise _too_deep(field, source, max_depth)
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ValidationError(
            [FieldProblem(field, "json", f"{source}: {exc}")], subject="command line"
        ) from None
