"""Masking of sensitive values before anything leaves tfpilot (logs, traces, messages, prompts).

Terraform marks sensitive leaves with a mirror structure (``before_sensitive``/``after_sensitive``:
``true`` on sensitive leaves, or a bare ``true`` for the whole value). Modules mark whole inputs
sensitive. Both are applied with :func:`mask`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASK = "(sensitive)"


def mask(value: Any, sensitive: Any) -> Any:
    """``value`` with every leaf that ``sensitive`` marks ``true`` replaced by :data:`MASK`."""
    if sensitive is True:
        return MASK if value is not None else None
    # Unmarked parts are returned as they are (not copied): plans are large, marks are few.
    if isinstance(value, dict) and isinstance(sensitive, dict) and sensitive:
        masked = None
        for key, mark in sensitive.items():
            if mark and key in value:
                new = mask(value[key], mark)
                if new is not value[key]:
                    if masked is None:
                        masked = dict(value)
                    masked[key] = new
        return value if masked is None else masked
    if isinstance(value, list) and isinstance(sensitive, list) and any(sensitive):
        return [mask(v, sensitive[i] if i < len(sensitive) else None) for i, v in enumerate(value)]
    return value


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
    """Every string leaf of ``value`` that ``sensitive`` marks, for :func:`scrub_text`."""
    found: list[str] = []
    if sensitive is True:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                found += sensitive_strings(v, True)
        elif isinstance(value, list):
            for v in value:
                found += sensitive_strings(v, True)
        elif value is not None and not isinstance(value, bool):
            found.append(str(value))
    elif isinstance(value, dict) and isinstance(sensitive, dict):
        for k, v in value.items():
            found += sensitive_strings(v, sensitive.get(k))
    elif isinstance(value, list) and isinstance(sensitive, list):
        for i, v in enumerate(value):
            found += sensitive_strings(v, sensitive[i] if i < len(sensitive) else None)
    return found


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between ``before`` and ``after``."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{prefix}.{key}" if prefix else str(key)
            paths += changed_paths(before.get(key), after.get(key), sub)
        return paths
    if before != after:
        return [prefix or "."]
    return []
