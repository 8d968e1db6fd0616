"""A level-aware logger facade that imports structlog only when a line is actually logged.

``import structlog`` costs about as much as the whole of a small CLI command (it imports rich's
traceback renderer and asyncio), and a read-only command usually logs nothing at the default
``warning`` level. Library code on the CLI's start-up path therefore logs through
:func:`get_logger`: a call below the configured level returns at once; any other call imports
structlog (which :mod:`tfpilot_core.telemetry` configures on import) and hands the call over.

Fields bound with :func:`bound` live in tfpilot's own context variable, so binding them does not
import structlog either; :func:`merge_context` is the structlog processor that adds them to
every line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token
from typing import Any

#: structlog's method names and the numeric level of each (``logging``'s numbers).
_LEVELS = {
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}

# Until the application configures logging (the CLI does: set_threshold), tfpilot is a library
# in someone else's process: its lines go to the standard ``logging`` module under the logger's
# name, and the host's logging configuration decides what is shown (by default, warnings and
# above, on stderr). A host that configured structlog itself gets them through structlog.
_threshold = 0
_application_configured = False
#: Callables told of every line logged through this facade, whatever its level (the CLI's
#: progress display follows the current step and streams Terraform's output with one).
_listeners: list[Any] = []
_context: ContextVar[dict[str, Any] | None] = ContextVar("tfpilot_log_context", default=None)


def level_number(name: str) -> int | None:
    """The number of the level called ``name`` (``"warning"``: 30, ``logging``'s numbers), or
    ``None`` for no such level: without importing :mod:`logging` (about 60 M instructions, a
    fifth of a small command's start)."""
    key = name.lower()
    return 0 if key == "notset" else _LEVELS.get(key)


def set_threshold(level: int) -> None:
    """Drop calls below ``level`` without importing structlog (called by ``setup_logging``)."""
    global _threshold, _application_configured
    _threshold = level
    _application_configured = True


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged inside the block (this thread or task only)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def push(**fields: Any) -> Token[dict[str, Any] | None]:
    """Like :func:`bound`, for a scope that is not one block: undo it with :func:`pop`."""
    return _context.set({**(_context.get() or {}), **fields})


def pop(token: Token[dict[str, Any] | None]) -> None:
    """Undo a :func:`push` (a token of another thread or context is ignored)."""
    with suppress(ValueError):
        _context.reset(token)


def fields() -> dict[str, Any]:
    """The fields bound here now (a copy)."""
    return dict(_context.get() or {})


def merge_context(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the fields of the enclosing :func:`bound` blocks."""
    for key, value in (_context.get() or {}).items():
        event_dict.setdefault(key, value)
    return event_dict


def _ignore(*_: Any, **__: Any) -> None:
    return None


@contextmanager
def listening(listener: Any) -> Iterator[None]:
    """Call ``listener(event, fields)`` for every line logged inside the block, at any level.

    Lines reach a listener with the logger's bound fields and the call's own ones (Terraform's
    output lines are masked by the runner before they are logged). A listener must be quick and
    must not raise: it runs on the logging thread.
    """
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _tell(method: Any, fields: dict[str, Any]) -> Any:
    """``method`` that first tells the listeners about the line."""

    def call(event: Any = None, *args: Any, **kwargs: Any) -> Any:
        for listener in list(_listeners):
            with suppress(Exception):
                listener(str(event), {**fields, **kwargs})
        return method(event, *args, **kwargs)

    return call


class Logger:
    """What :func:`get_logger` returns: structlog's bound-logger methods, imported on demand."""

    __slots__ = ("_fields", "_name")

    def __init__(self, name: str | None = None, fields: dict[str, Any] | None = None) -> None:
        self._name = name
        self._fields = fields or {}

    def bind(self, **fields: Any) -> Logger:
        """A logger that adds ``fields`` to each of its lines."""
        return Logger(self._name, {**self._fields, **fields})

    def __getattr__(self, name: str) -> Any:
        level = _LEVELS.get(name)
        library = not _application_configured and not _host_uses_structlog()
        if library:
            # A library in someone else's process: the host's logging decides the level.
            # (Imported here, not at the top: every command start imports this module, and
            # `logging` costs `tfpilot --help` about 2 ms of its budget.)
            import logging

            std = logging.getLogger(self._name or "tfpilot")
            dropped = level is not None and not std.isEnabledFor(level)
        else:
            # Once structlog is loaded there is nothing to save: let it (and whatever a test
            # configured, such as capturing every level) decide.
            dropped = level is not None and level < _threshold and "structlog" not in sys.modules
        if dropped:
            return _tell(_ignore, self._fields) if _listeners else _ignore
        import structlog

        if library:
            logger = structlog.wrap_logger(
                std, wrapper_class=structlog.stdlib.BoundLogger, processors=_library_processors()
            )
        else:
            logger = structlog.get_logger(self._name) if self._name else structlog.get_logger()
        if self._fields:
            logger = logger.bind(**self._fields)
        method = getattr(logger, name)
        return _tell(method, self._fields) if _listeners and level is not None else method


_processors: list[Any] = []


def _library_processors() -> list[Any]:
    """The processors of lines handed to ``logging`` (built once, when first needed)."""
    if not _processors:
        import structlog

        renderer = structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True)
        _processors.extend([merge_context, renderer])
    return _processors


def _host_uses_structlog() -> bool:
    """Whether structlog was configured by the process (the host, or a test capturing logs)."""
    found = sys.modules.get("structlog")
    return found is not None and bool(found.is_configured())


def get_logger(name: str | None = None) -> Any:
    """A logger named ``name`` that costs nothing until it logs at an enabled level."""
    return Logger(name)
