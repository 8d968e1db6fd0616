"""Calling hooks one plugin at a time: spans, log context and the error policy, in one place.

:class:`HookCaller` is what every call of a hook goes through. The typed facade of the configured
capabilities (:class:`~tfpilot_core.plugins.PluginHost`) is one; a command that needs only a
plugin-defined hook (``policy check`` calling policy packs) builds one over the discovered plugins
without a configuration. The span and log fields are ``tfpilot.hook``, ``tfpilot.plugin``,
``tfpilot.distribution`` and ``tfpilot.request_id``; decision kinds fail closed
(:class:`~tfpilot_core.errors.PluginFailedError` naming the plugin), side-effect kinds are isolated
and recorded in :attr:`HookCaller.failures`.

Spans are real once the OpenTelemetry API is loaded (the host loads it; the CLI sets up the SDK)
and a tracer provider records them (:func:`spans_recorded`); before that nothing could record
them, so a light command does not import the API to make no-op spans, and a server without an
exporter does not pay for them on every store call.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any, TypeVar

from tfpilot_core.discovery import Failure, LoadedPlugins
from tfpilot_core.errors import PluginError, PluginFailedError, TfpilotError
from tfpilot_core.log import get_logger, pop, push
from tfpilot_core.registrations import Kind

T = TypeVar("T")
# Logging through the facade: debug lines must not cost structlog's import.
log: Any = get_logger("tfpilot.plugins")


class _NoSpan:
    """What a span is before the OpenTelemetry API is loaded: nothing records it."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Nothing to record."""

    def record_exception(self, exception: BaseException) -> None:
        """Nothing to record."""

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to record (callers mark a failed call on whatever span they hold)."""

    def is_recording(self) -> bool:
        """Never."""
        return False


def spans_recorded() -> bool:
    """Whether a span started now would be recorded by anything.

    Not until the OpenTelemetry API is loaded and a tracer provider is installed (the SDK's, by
    :mod:`tfpilot_core.otel` or an application embedding tfpilot): the API's default provider
    hands out no-op tracers, whose spans record nothing and carry their parent's ids, so not
    starting one changes nothing but the cost (about as much as a store read: issue 31).
    Checked on every call, so a provider installed later is used from then on.
    """
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return False
    provider = api.get_tracer_provider()
    return not isinstance(provider, (api.ProxyTracerProvider, api.NoOpTracerProvider))


def _start_span(name: str, attributes: Mapping[str, str]) -> AbstractContextManager[Any]:
    if not spans_recorded():
        return nullcontext(_NoSpan())
    api = sys.modules["opentelemetry.trace"]
    tracer = api.get_tracer("tfpilot")
    return tracer.start_as_current_span(name, attributes=dict(attributes))  # type: ignore[no-any-return]


def _error_status(span: Any, description: str) -> None:
    api = sys.modules.get("opentelemetry.trace")
    if api is not None and not isinstance(span, _NoSpan):
        span.set_status(api.Status(api.StatusCode.ERROR, description))


class _HookScope:
    """The span and log context of one hook call: the span (or none, :func:`spans_recorded`),
    tfpilot's log fields (:func:`~tfpilot_core.log.push`) and structlog's own binding of them,
    once something has imported structlog anyway (tfpilot's processor merges its own fields;
    structlog's binding keeps them for a structlog set up elsewhere: a test capturing logs, an
    application embedding tfpilot).

    A class rather than nested generator context managers: it runs around every store call,
    where the generators' machinery cost a few microseconds more per call (issue 31).
    """

    __slots__ = ("_fields", "_log", "_span", "_structlog")

    def __init__(self, name: str, attributes: Mapping[str, str], fields: dict[str, str]) -> None:
        self._span = _start_span(name, attributes)
        self._fields = fields
        self._log: Any = None
        self._structlog: Any = None

    def __enter__(self) -> Any:
        span = self._span.__enter__()
        try:
            self._log = push(**self._fields)
            structlog = sys.modules.get("structlog")
            if structlog is not None:
                self._structlog = structlog.contextvars.bind_contextvars(**self._fields)
        except BaseException:
            self._exit_log()
            self._span.__exit__(*sys.exc_info())
            raise
        return span

    def _exit_log(self) -> None:
        if self._structlog is not None:
            # Like pop(): a scope left in another context (a generator resumed elsewhere) has
            # nothing of its own to undo there.
            with suppress(ValueError):
                sys.modules["structlog"].contextvars.reset_contextvars(**self._structlog)
            self._structlog = None
        if self._log is not None:
            pop(self._log)
            self._log = None

    def __exit__(self, *exc: Any) -> bool | None:
        try:
            self._exit_log()
        finally:
            exited: bool | None = self._span.__exit__(*exc)
        return exited


class HookCaller:
    """Calls hooks of the discovered ``plugins`` one implementation at a time (see the module)."""

    def __init__(self, plugins: LoadedPlugins) -> None:
        self.plugins = plugins
        #: Side-effect plugins' failures, recorded instead of raised.
        self.failures: list[Failure] = []

    # -- generic machinery -------------------------------------------------------------------

    def _span(
        self, name: str, *, hook: str, plugin: str | None = None, request_id: str | None = None
    ) -> _HookScope:
        attributes: dict[str, str] = {"tfpilot.hook": hook}
        fields: dict[str, str] = {"hook": hook}
        if plugin is not None:
            info = self.plugins.info(plugin)
            attributes["tfpilot.plugin"] = plugin
            attributes["tfpilot.distribution"] = info.distribution
            fields.update(plugin=plugin, distribution=info.distribution)
        if request_id is not None:
            attributes["tfpilot.request_id"] = request_id
            fields["request_id"] = request_id
        return _HookScope(name, attributes, fields)

    def call(
        self,
        kind: Kind,
        plugin: str,
        hook: str,
        func: Callable[[], T],
        *,
        request_id: str | None = None,
    ) -> T | None:
        """Run one plugin's part of a hook call under its span and the kind's error policy.

        Returns ``None`` when a side-effect plugin failed (the failure is recorded).
        """
        with self._span(
            f"{hook} {plugin}", hook=hook, plugin=plugin, request_id=request_id
        ) as span:
            started = time.perf_counter()
            try:
                result = func()
            except TfpilotError as exc:
                # A plugin raising the core's own errors (not found, conflict, validation) means
                # what the error says; it is not a plugin failure.
                _error_status(span, exc.message)
                if kind.decision:
                    raise
                self._isolate(kind, plugin, hook, exc, span)
                return None
            except Exception as exc:
                span.record_exception(exc)
                _error_status(span, f"{type(exc).__name__}: {exc}")
                if kind.decision:
                    log.error("plugin_failed", error=f"{type(exc).__name__}: {exc}", fail="closed")
                    raise PluginFailedError(plugin=plugin, hook=hook, cause=exc) from exc
                self._isolate(kind, plugin, hook, exc, span)
                return None
            finally:
                span.set_attribute("tfpilot.duration_ms", (time.perf_counter() - started) * 1000)
            return result

    def _isolate(self, kind: Kind, plugin: str, hook: str, exc: BaseException, span: Any) -> None:
        error = f"{type(exc).__name__}: {exc}"
        span.set_attribute("tfpilot.isolated", True)
        self.failures.append(Failure(kind.value, plugin, hook, error))
        log.warning("plugin_failed", error=error, fail="isolated")

    def call_extension(
        self, hook: str, *, decision: bool = True, request_id: str | None = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call a hook that a plugin added (``tfpilot_add_hookspecs``), one plugin at a time.

        Returns ``(plugin, result)`` for every implementation that returned something other
        than ``None``. Traced like every other hook; with ``decision=True`` an implementation that
        raises stops the caller with :class:`PluginFailedError` naming it, otherwise it is
        recorded and skipped.
        """
        caller = getattr(self.plugins.manager.hook, hook, None)
        if caller is None or caller.spec is None:
            raise PluginError(f"no plugin defines the hook {hook!r}")
        kind = Kind.POLICY_ENGINE if decision else Kind.EVENT_OBSERVER
        results: list[tuple[str, Any]] = []
        with self._span(hook, hook=hook, request_id=request_id):
            for impl in reversed(caller.get_hookimpls()):
                plugin = impl.plugin_name
                function = impl.function
                found = self.call(
                    kind,
                    plugin,
                    hook,
                    lambda f=function: f(**kwargs),  # type: ignore[misc]
                    request_id=request_id,
                )
                if found is not None:
                    results.append((plugin, found))
        return results
