"""Masking of sensitive values before anything leaves tfpilot (logs, traces, messages, prompts).

Terraform marks sensitive leaves with a mirror structure (``before_sensitive``/``after_sensitive``:
``true`` on sensitive leaves, or a bare ``true`` for the whole value). Modules mark whole inputs
sensitive. Both are applied with :func:`mask`.
"""

from __future__ import annotations

import functools
import re
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
    if not sensitive:
        return value  # nothing marked (False, None, {} or []): the common case
    if type(value) is dict and type(sensitive) is dict:
        # The next most common case, a flat object whose marks are all ``true`` leaves, in one
        # loop; a nested mark sends the value to the general walk below.
        out: dict[Any, Any] | None = None
        for key, mark in sensitive.items():
            if mark is True:
                child = value.get(key)
                if child is not None and child is not MASK:
                    if out is None:
                        out = dict(value)
                    out[key] = MASK
            elif mark:
                break
        else:
            return value if out is None else out
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


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted path (``a.b``, ``list[0]``), under ``prefix``; iterative; empty
    containers are leaves."""
    found: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict) and item:
            stack.extend(
                (f"{path}.{k}" if path else str(k), v) for k, v in reversed(list(item.items()))
            )
        elif isinstance(item, list) and item and path:
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif path:
            found[path] = item
    return found


def marked_paths(marks: Any) -> set[str]:
    """Dotted paths that a Terraform mark structure (``after_unknown``, ``*_sensitive``) sets
    (``""``: the whole value)."""
    if marks is True:
        return {""}
    return {path for path, mark in leaves(marks).items() if mark is True}


def covered(path: str, marked: set[str]) -> bool:
    """Whether ``path`` is one of ``marked`` or inside one of them."""
    if not marked:
        return False
    if path in marked or "" in marked:
        return True
    return any(path.startswith(m + ".") or path.startswith(m + "[") for m in marked)


def sensitive_changed(
    before: Any, after: Any, before_sensitive: Any, after_sensitive: Any
) -> frozenset[str]:
    """The sensitive leaves an update changes (paths only: no value leaves this function).

    Masked on both sides they would look unchanged; read before masking, so a review can say
    that they change.
    """
    if before is None or after is None or not (before_sensitive or after_sensitive):
        return frozenset()
    found: set[str] = set()
    # Walk the marks (small), not the values: only what a mark covers is compared.
    stack: list[tuple[Any, Any, Any, str]] = [
        (before_sensitive, before, after, ""),
        (after_sensitive, before, after, ""),
    ]
    while stack:
        marks, old, new, path = stack.pop()
        if marks is True:
            if old == new:
                continue
            if isinstance(old, dict | list) or isinstance(new, dict | list):
                was, now = leaves(old, path), leaves(new, path)
                found.update(p for p in was.keys() | now.keys() if was.get(p) != now.get(p))
            elif path:
                found.add(path)
        elif isinstance(marks, dict):
            for key, mark in marks.items():
                stack.append(
                    (
                        mark,
                        old.get(key) if isinstance(old, dict) else None,
                        new.get(key) if isinstance(new, dict) else None,
                        f"{path}.{key}" if path else str(key),
                    )
                )
        elif isinstance(marks, list) and path:
            for i, mark in enumerate(marks):
                stack.append(
                    (
                        mark,
                        old[i] if isinstance(old, list) and i < len(old) else None,
                        new[i] if isinstance(new, list) and i < len(new) else None,
                        f"{path}[{i}]",
                    )
                )
    return frozenset(found)


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


#: What a scrubbed secret becomes (the masking module's mask).
SECRET_MASK = "(sensitive)"


@functools.cache
def secret_patterns() -> tuple[re.Pattern[str], ...]:
    """Strings that look like credentials, whatever field they were found in. Ordered: the most
    specific first, so that a connection string is masked as a whole.

    Compiled on first use (also :data:`SECRET_PATTERNS`): every command imports this module, and
    compiling them at import cost each start about 2 ms.
    """
    return (
        # PEM private keys.
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
        ),
        # URLs with credentials: scheme://user:password@host (databases, brokers, git remotes).
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s@/]+@[^\s\"']+"),
        # key=value connection strings carrying a password or key.
        re.compile(
            r"(?i:\b(?:password|pwd|secret|accountkey|sharedaccesskey|api[_-]?key|token)\s*[=:]\s*"
            r"[^\s;,\"']+)"
        ),
        # AWS access key ids and secret keys.
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),
        re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        # GitHub, Slack, OpenAI-style, Google API keys; JWTs; bearer tokens.
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}\b"),
        re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
        re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
        re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
        re.compile(r"(?i:\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*)"),
        # Long hex strings (keys, HMAC secrets). Digests match too, which costs nothing: facts never
        # need one.
        re.compile(r"\b[0-9a-fA-F]{40,}\b"),
    )


@functools.cache
def _any_secret() -> re.Pattern[str]:
    """Every pattern in one alternation: one scan per string (most strings match none)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in secret_patterns()))


def __getattr__(name: str) -> tuple[re.Pattern[str], ...]:
    # PEP 562: ``SECRET_PATTERNS`` (documented in docs/ai.md) stays importable, compiled when
    # first asked for.
    if name == "SECRET_PATTERNS":
        return secret_patterns()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Scrubber:
    """Scrubs known secrets and secret-looking strings; built once for many strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._seen: dict[str, str] = {}

    def text(self, text: str) -> str:
        """``text`` with every known secret and every secret-looking string masked."""
        # Remembered: the facts of one plan are built several times (prompt budget steps) and
        # their strings (addresses, paths, values) repeat.
        done = self._seen.get(text)
        if done is None:
            done = self._scrub(text)
            if len(self._seen) < 200_000:
                self._seen[text] = done
        return done

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, SECRET_MASK)
        if _any_secret().search(text) is None:
            return text
        for pattern in secret_patterns():
            text = pattern.sub(SECRET_MASK, text)
        return text


def scrub_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every secret-looking string replaced by a mask."""
    return Scrubber(secrets).text(text)


def looks_secret(text: str) -> bool:
    """Whether ``text`` holds something :func:`secret_patterns` would mask."""
    return any(p.search(text) for p in secret_patterns())
