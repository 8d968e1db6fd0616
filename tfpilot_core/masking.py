"""Masking of sensitive values before anything leaves tfpilot (logs, traces, messages, prompts).

Terraform marks sensitive leaves with a mirror structure (``before_sensitive``/``after_sensitive``:
``true`` on sensitive leaves, or a bare ``true`` for the whole value). Modules mark whole inputs
sensitive. Both are applied with :func:`mask`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "(sensitive)"


def _marked_children(value: Any, sensitive: Any) -> list[tuple[Any, Any]] | None:
    """The ``(key, mark)`` pairs :func:`mask` must look into, or ``None`` if nothing is marked."""
    if isinstance(value, dict) and isinstance(sensitive, dict) and sensitive:
        return [(key, mark) for key, mark in sensitive.items() if mark and key in value]
    if isinstance(value, list) and isinstance(sensitive, list) and any(sensitive):
        return [(i, sensitive[i] if i < len(sensitive) else None) for i in range(len(value))]
    return None


def mask(value: Any, sensitive: Any) -> Any:
    """``value`` with every leaf that ``sensitive`` marks ``true`` replaced by :data:`MASK`.

    Iterative (an explicit stack), so values of any depth are masked without RecursionError.
    Unmarked parts are returned as they are (not copied): plans are large, marks are few.
    """
    if sensitive is True:
        return MASK if value is not None else None
    children = _marked_children(value, sensitive)
    if children is None:
        return value
    # A frame: [container, its marked children (iterator), its copy (made on first change), key
    # of the container in its parent]. Containers are copied only when a child changed.
    stack: list[list[Any]] = [[value, iter(children), None, None]]
    result: Any = value
    while stack:
        frame = stack[-1]
        step = next(frame[1], None)
        if step is None:
            stack.pop()
            out = frame[0] if frame[2] is None else frame[2]
            if not stack:
                result = out
            elif out is not frame[0]:
                _replace(stack[-1], frame[3], out)
            continue
        key, mark = step
        child = frame[0][key]
        if mark is True:
            if child is not None and child is not MASK:
                _replace(frame, key, MASK)
            continue
        grand = _marked_children(child, mark)
        if grand is not None:
            stack.append([child, iter(grand), None, key])
    return result


def _replace(frame: list[Any], key: Any, new: Any) -> None:
    if frame[2] is None:
        frame[2] = dict(frame[0]) if isinstance(frame[0], dict) else list(frame[0])
    frame[2][key] = new


def map_strings(value: Any, function: Callable[[str], str]) -> Any:
    """A copy of ``value`` with ``function`` applied to every string leaf (iterative, any depth)."""
    if isinstance(value, str):
        return function(value)
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, str):
                new: Any = function(item)
            elif isinstance(item, dict | list):
                new = {} if isinstance(item, dict) else []
                stack.append((item, new))
            else:
                new = item
            if isinstance(target, dict):
                target[key] = new
            else:
                target.append(new)
    return root


def mask_keys(values: Mapping[str, Any], sensitive_keys: Iterable[str]) -> dict[str, Any]:
    """A copy of ``values`` with the given top-level keys masked (sensitive module inputs)."""
    hidden = set(sensitive_keys)
    return {k: (MASK if k in hidden and v is not None else v) for k, v in values.items()}


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (of 4+ characters) replaced by :data:`MASK`.

    A last line of defence for free text such as Terraform's error output, where structure is
    lost; structured data is masked with :func:`mask` instead.
    """
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def sensitive_strings(value: Any, sensitive: Any) -> list[str]:
    """Every string leaf of ``value`` that ``sensitive`` marks, for :func:`scrub_text`.

    Iterative, so values of any depth are read without RecursionError (in document order).
    """
    found: list[str] = []
    stack: list[tuple[Any, Any]] = [(value, sensitive)]
    while stack:
        value, sensitive = stack.pop()
        children: list[tuple[Any, Any]] = []
        if sensitive is True:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict):
                children = [(v, True) for v in value.values()]
            elif isinstance(value, list):
                children = [(v, True) for v in value]
            elif value is not None and not isinstance(value, bool):
                found.append(str(value))
        elif isinstance(value, dict) and isinstance(sensitive, dict):
            children = [(v, sensitive.get(k)) for k, v in value.items()]
        elif isinstance(value, list) and isinstance(sensitive, list):
            children = [
                (v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)
            ]
        stack.extend(reversed(children))
    return found


def deep_equal(left: Any, right: Any) -> bool:
    """``left == right`` for JSON values, without recursion (Python's ``==`` recurses)."""
    stack: list[tuple[Any, Any]] = [(left, right)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            stack.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif isinstance(a, dict | list) or isinstance(b, dict | list) or a != b:
            return False
    return True


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between ``before`` and ``after``.

    Iterative, so drift of any depth is described without RecursionError.
    """
    paths: list[str] = []
    stack: list[tuple[Any, Any, str]] = [(before, after, prefix)]
    while stack:
        old, new, where = stack.pop()
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new), key=str)
            stack.extend(
                (old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
                for key in reversed(keys)
            )
        elif not deep_equal(old, new):
            paths.append(where or ".")
    return paths
