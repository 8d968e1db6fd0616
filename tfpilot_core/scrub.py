"""One scrubber for every log line and error report: no credential or secret, bounded size.

Whatever goes wrong, nothing tfpilot logs may carry a credential (an ``Authorization`` header, a
bearer or API token, a cookie, a webhook signature, a Slack or GitHub secret, a private key) or a
sensitive value, and no single error may flood the log. Everything that logs passes through here:

- :func:`scrub_event` is the structlog processor (the CLI's chain, :mod:`tfpilot_core.telemetry`);
- :class:`ScrubFilter` is the :mod:`logging` filter for the handlers of other loggers (uvicorn's
  error and access logs in the web plugin);
- :func:`format_exception` turns an exception into bounded, scrubbed text *without* the local
  variables of each frame (a traceback with locals printed a request's headers and body in full:
  1.2 MB and the bearer token for one failed call).

Three nets, from specific to general: values known to be secret (:func:`register`, called by
:func:`tfpilot_core.telemetry.register_secrets`: resolved secrets, sensitive inputs), token shapes
(``Bearer ...``, ``xoxb-...``, ``ghp_...``, ``tfp_...``, ``sha256=<hex>``, JWTs, private keys), and
values whose *name* says they are secret (``password=...``, ``"token": "..."``, a ``cookie``
header), in query strings, form bodies, JSON, Python reprs and header lines alike.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

#: What a scrubbed value is replaced with.
REDACTED = "(redacted)"

#: Longest string field a log line keeps (characters); longer ones keep their start.
MAX_FIELD_CHARS = 2048
#: Longest exception text a log line keeps; longer ones keep their end, where the error is.
MAX_EXCEPTION_CHARS = 8192
#: Most items of one list or object a log line keeps.
MAX_ITEMS = 50

_secrets: set[str] = set()

# Names whose values are credentials or sensitive wherever they appear (header, cookie, query,
# form field, JSON key, keyword argument). Matched inside longer names (db_password, x-api-key).
_NAME_WORDS = (
    r"authorization|cookie|password|passwd|passphrase|secret|token|signature|credential|"
    r"api[_-]?key|private[_-]?key|session|x-hub-signature(?:-256)?|x-slack-signature"
)
# ...except names that only describe one (token_id, prompt_tokens, password_set, session_count).
_NAME = (
    rf"[\w.-]*(?:{_NAME_WORDS})(?![\w.-]*(?:_id|_ids|_count|_used|_at|_set|_name|_names|_type|(?<=token)s\b))"
    r"[\w.-]*"
)


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The patterns and their replacements, compiled on first use: every command imports this
    module (the logging set-up), and compiling them at import cost each start about 3 ms."""
    return (
        # A private key block, whole.
        (
            re.compile(
                r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
            ),
            REDACTED,
        ),
        # A header or YAML line ("Authorization: Bearer x", "Cookie: a=b"): the rest of the line.
        (
            re.compile(rf"(?im)^(\s*{_NAME}\s*:\s*)\S.*$"),
            rf"\1{REDACTED}",
        ),
        # A header pair in a repr: (b'authorization', b'Bearer x') or ('cookie', 'a=b').
        (
            re.compile(rf"(?i)(\(\s*b?(['\"]){_NAME}\2\s*,\s*)b?(['\"])(?:\\.|(?!\3).)*\3"),
            rf"\1'{REDACTED}'",
        ),
        # A quoted name and a quoted value: JSON, Python reprs ("password": "x", 'token': 'x').
        (
            re.compile(rf"(?i)((['\"]){_NAME}\2\s*[:=]\s*)(['\"])(?:\\.|(?!\3).)*\3"),
            rf"\1\3{REDACTED}\3",
        ),
        # name=value: query strings, form bodies, cookies, keyword arguments (token='x' as well).
        (
            re.compile(rf"(?i)(?<![\w.-])({_NAME}=)(?:'[^']*'|\"[^\"]*\"|[^&\s;,'\")\]}}]+)"),
            rf"\1{REDACTED}",
        ),
        # An authorization scheme and its credentials, wherever they stand.
        (
            re.compile(r"(?i)\b(bearer|basic|token|digest)(\s+)[A-Za-z0-9._~+/=:-]{6,}"),
            rf"\1\2{REDACTED}",
        ),
        # Known token shapes: Slack, GitHub, tfpilot API tokens, AWS access keys, JWTs, signatures.
        (
            re.compile(
                r"\b(?:xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|gh[pousr]_[A-Za-z0-9]{16,}"
                r"|github_pat_[A-Za-z0-9_]{16,}|tfp_[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}"
                r"|eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+)"
            ),
            REDACTED,
        ),
        (re.compile(r"\b(sha1|sha256|v0)=[0-9a-fA-F]{32,}"), rf"\1={REDACTED}"),
    )


@functools.cache
def _sensitive_name() -> re.Pattern[str]:
    return re.compile(rf"(?i)^{_NAME}$")


def register(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (4+ characters; shorter ones are too common)."""
    _secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)


def is_sensitive_name(name: str) -> bool:
    """Whether a field, header, cookie or parameter called ``name`` holds a secret."""
    return bool(_sensitive_name().match(name))


def scrub_text(text: str, *, limit: int | None = MAX_FIELD_CHARS) -> str:
    """``text`` with every credential and known secret replaced, cut to ``limit`` characters."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _patterns():
        text = pattern.sub(replacement, text)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


def scrub_value(value: Any, *, limit: int = MAX_FIELD_CHARS) -> Any:
    """A scrubbed, bounded copy of a log field: strings scrubbed, secret-named keys redacted."""
    if isinstance(value, str):
        return scrub_text(value, limit=limit)
    if isinstance(value, bytes | bytearray):
        return scrub_text(bytes(value).decode("utf-8", "replace"), limit=limit)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            if isinstance(key, str) and is_sensitive_name(key) and isinstance(item, str | bytes):
                out[key] = REDACTED
            else:
                out[key] = scrub_value(item, limit=limit)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        kept = [scrub_value(item, limit=limit) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            kept.append(f"... {len(items) - MAX_ITEMS} more")
        return kept
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}", limit=limit)
    return scrub_text(repr(value), limit=limit)


def format_exception(exc: BaseException | tuple[Any, Any, Any] | bool | None) -> str | None:
    """A traceback as scrubbed text without local variables, its end kept within
    :data:`MAX_EXCEPTION_CHARS` (``True`` means the exception being handled)."""
    if exc is True:
        exc = sys.exc_info()
    if isinstance(exc, BaseException):
        exc = (type(exc), exc, exc.__traceback__)
    if not isinstance(exc, tuple) or exc[0] is None:
        return None
    # Each part (a frame, an exception's message) scrubbed and bounded on its own, so that a
    # huge message cannot push the frames out; then the whole kept to its end.
    import traceback  # only on an error: every command imports this module

    parts = traceback.TracebackException(*exc, capture_locals=False).format()
    return _tail("".join(scrub_text(part) for part in parts).rstrip())


def _tail(text: str) -> str:
    if len(text) <= MAX_EXCEPTION_CHARS:
        return text
    return f"({len(text) - MAX_EXCEPTION_CHARS} characters left out)\n{text[-MAX_EXCEPTION_CHARS:]}"


def scrub_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every field scrubbed and bounded; an exception rendered here as plain
    text (no locals), so no renderer down the chain can print a frame's variables."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        text = format_exception(exc_info)
        if text is not None:
            event_dict["exception"] = text
    for key, value in list(event_dict.items()):
        if key == "exception" and isinstance(value, str):
            event_dict[key] = _tail(scrub_text(value, limit=None))
        elif is_sensitive_name(key) and isinstance(value, str | bytes) and value:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub_value(value)
    return event_dict


class ScrubFilter:
    """A :mod:`logging` filter for handlers: scrubs and bounds the message, its arguments and the
    exception of every record (put it on a handler, so records of child loggers pass it too).

    Not a ``logging.Filter`` subclass: handlers take any object with a ``filter`` method, and
    this module is imported by every command, which need not import :mod:`logging`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        else:
            record.msg = scrub_value(record.msg)
        if isinstance(record.args, tuple):
            # Formatters such as uvicorn's access formatter unpack the arguments: keep their
            # number and their numbers.
            record.args = tuple(
                a if a is None or isinstance(a, bool | int | float) else scrub_value(str(a))
                for a in record.args
            )
        elif isinstance(record.args, Mapping):
            record.args = scrub_value(record.args)
        if record.exc_info:
            record.exc_text = format_exception(record.exc_info)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _tail(scrub_text(record.exc_text, limit=None))
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info, limit=MAX_EXCEPTION_CHARS)
        return True
