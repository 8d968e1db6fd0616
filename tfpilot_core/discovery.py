"""Plugin discovery: the built-in default plugins, entry points of group ``tfpilot``, and CLI hooks.

:func:`load_plugins` registers the built-in default plugins, then every entry point of group
``tfpilot``, then runs pluggy's ``check_pending()`` so that a misspelt hook is an error rather
than silence. ``TFPILOT_LOAD_PLUGINS=a,b`` loads only the named entry-point plugins (empty: none);
``TFPILOT_DISABLE_PLUGINS=a,b`` blocks plugins by name, defaults included. A plugin that fails to
import is reported by name and skipped, or stops start-up with ``strict=True``.

This module is what ``tfpilot --help`` needs (discovery and :func:`register_commands`), so it
imports nothing of the domain; the typed host that calls every other hook is
:class:`tfpilot_core.plugins.PluginHost`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

import tfpilot_core.entrypoints as entrypoints
import tfpilot_core.hookspecs as hookspecs
from tfpilot_core.errors import DuplicateRegistrationError, PluginError, PluginFailedError
from tfpilot_core.log import get_logger
from tfpilot_core.version import __version__ as core_version

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "tfpilot"

#: Built-in plugins, registered before entry points; each is a module of hook implementations.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "tfpilot_core.default_plugins.store_embedded",
    "tfpilot_core.default_plugins.modules_dir",
    "tfpilot_core.default_plugins.runner_local",
    "tfpilot_core.default_plugins.drift_refresh",
    "tfpilot_core.default_plugins.summarizer_rules",
    "tfpilot_core.default_plugins.identity",
)


# Logging through the facade: hook calls log at debug level, which must not cost the import of
# structlog (and the rich and asyncio modules it pulls in) in a CLI command that logs nothing.
log: Any = get_logger("tfpilot.plugins")


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("tfpilot")


@dataclass
class PluginInfo:
    """What ``tfpilot plugins`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    status: str  # loaded | failed | blocked | conflict
    default: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "default": self.default,
            "hooks": self.hooks,
            "error": self.error,
        }


@dataclass
class LoadedPlugins:
    """A plugin manager together with what discovery found, failures included."""

    manager: pluggy.PluginManager
    infos: dict[str, PluginInfo]
    #: Plugin names used by two distributions, each with the message naming both: commands that
    #: use plugins refuse to run (``tfpilot plugins``, ``version`` and ``config show`` report it).
    conflicts: dict[str, str] = field(default_factory=dict)

    def check_conflicts(self) -> None:
        """Raise :class:`DuplicateRegistrationError` for the first conflict, if there is one."""
        for name, message in self.conflicts.items():
            raise DuplicateRegistrationError(message, plugin=name)

    def info(self, plugin_name: str) -> PluginInfo:
        """The info of a registered plugin (an unknown name gets a placeholder)."""
        return self.infos.get(plugin_name, PluginInfo(plugin_name, "unknown", "", "", "loaded"))


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def new_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows tfpilot's hook specifications."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def load_plugins(
    *,
    entry_points: bool = True,
    defaults: bool = True,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
    extra: Sequence[tuple[str, object]] = (),
    cache: bool = False,
) -> LoadedPlugins:
    """Discover and register plugins: defaults, then entry points, then ``extra``.

    :param strict: a plugin that fails to import stops discovery with a :class:`PluginError`
        instead of being reported and skipped.
    :param extra: ``(name, module_or_object)`` pairs registered last (used by tests and embedders).
    :param cache: answer the entry-point scan from the on-disk cache when it is still valid
        (:mod:`tfpilot_core.entrypoints`; the CLI uses it to start faster).
    """
    env = os.environ if environ is None else environ
    only = _names(env.get("TFPILOT_LOAD_PLUGINS"))
    blocked = _names(env.get("TFPILOT_DISABLE_PLUGINS")) or set()
    manager = new_manager()
    infos: dict[str, PluginInfo] = {}
    conflicts: dict[str, str] = {}

    def register(name: str, plugin: object, info: PluginInfo) -> None:
        if name in blocked:
            info.status = "blocked"
            manager.set_blocked(name)
            infos[name] = info
            return
        manager.register(plugin, name=name)
        infos[name] = info

    if defaults:
        for module_name in DEFAULT_PLUGINS:
            short = module_name.rsplit(".", 1)[-1]
            info = PluginInfo(
                short, "tfpilot-core", core_version, module_name, "loaded", default=True
            )
            if short in blocked:
                register(short, None, info)
                continue
            register(short, importlib.import_module(module_name), info)

    if entry_points:
        found = entrypoints.cached_scan() if cache else entrypoints.scan()
        for ep in found:
            info = PluginInfo(ep.name, ep.distribution, ep.version, ep.value, "loaded")
            if only is not None and ep.name not in only:
                continue
            if ep.name in blocked:
                register(ep.name, None, info)
                continue
            if ep.distribution in blocked:
                # Blocked by distribution (how one of two same-named plugins is disabled): the
                # name stays free for the other one.
                info.status = "blocked"
                infos[f"{ep.name} ({ep.distribution})"] = info
                continue
            if ep.name in infos:
                first = infos[ep.name]
                message = (
                    f"two plugins are named {ep.name!r}: {first.module} ({first.distribution}) "
                    f"and {ep.value} ({ep.distribution}); disable one with "
                    f"TFPILOT_DISABLE_PLUGINS={ep.distribution} (or {first.distribution}), "
                    "or uninstall one"
                )
                conflicts[ep.name] = message
                first.status = info.status = "conflict"
                first.error = info.error = message
                # Shown beside the first; never registered (pluggy names are unique).
                infos[f"{ep.name} ({ep.distribution})"] = info
                # Not logged here: logging is not configured yet (it would reach stdout and break
                # --json); the commands report the conflict, or refuse with it.
                continue
            try:
                plugin = entrypoints.load_object(ep.value)
            except Exception as exc:  # any import failure of third-party code
                info.status = "failed"
                info.error = f"{type(exc).__name__}: {exc}"
                infos[ep.name] = info
                log.warning(
                    "plugin_failed_to_load",
                    plugin=ep.name,
                    distribution=ep.distribution,
                    error=info.error,
                )
                if strict:
                    raise PluginError(
                        f"plugin {ep.name!r} ({ep.distribution}) failed to load: {info.error}",
                        plugin=ep.name,
                    ) from exc
                continue
            register(ep.name, plugin, info)

    for name, plugin in extra:
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__name__
        register(name, plugin, PluginInfo(name, "local", "", module, "loaded"))

    # Plugins may add hook specifications of their own before implementations are checked.
    try:
        manager.hook.tfpilot_add_hookspecs.call_historic(kwargs={"pluginmanager": manager})
    except Exception as exc:
        raise PluginError(f"a plugin failed to add hook specifications: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        name = manager.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(f"plugin {name!r}: {exc}", plugin=name) from exc

    for name, info in infos.items():
        plugin = manager.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in manager.get_hookcallers(plugin) or [])
    return LoadedPlugins(manager, infos, conflicts)


@dataclass
class Failure:
    """A side-effect plugin's failure, recorded instead of raised."""

    kind: str
    plugin: str
    hook: str
    error: str


def register_commands(
    plugins: LoadedPlugins, cli: click.Group, *, strict: bool = False
) -> list[Failure]:
    """Call ``tfpilot_register_commands`` on every plugin, one span each.

    It needs no configuration, so ``tfpilot --help`` works even with a broken config file. A
    plugin that raises is reported and skipped, or stops the CLI with ``strict``.
    """
    failures: list[Failure] = []
    hook = "tfpilot_register_commands"
    for impl in reversed(plugins.manager.hook.__dict__[hook].get_hookimpls()):
        info = plugins.info(impl.plugin_name)
        attributes = {
            "tfpilot.hook": hook,
            "tfpilot.plugin": impl.plugin_name,
            "tfpilot.distribution": info.distribution,
        }
        # Only trace when the OpenTelemetry API is already loaded: before the CLI has set up
        # tracing nothing could record these spans, and importing the API just to make no-op
        # spans would cost `tfpilot --help` a tenth of its start-up time.
        span = (
            _tracer().start_as_current_span(f"{hook} {impl.plugin_name}", attributes=attributes)
            if "opentelemetry.trace" in sys.modules
            else contextlib.nullcontext()
        )
        with span:
            try:
                impl.function(cli=cli)
            except Exception as exc:
                if strict:
                    raise PluginFailedError(plugin=impl.plugin_name, hook=hook, cause=exc) from exc
                error = f"{type(exc).__name__}: {exc}"
                log.warning("plugin_commands_failed", plugin=impl.plugin_name, error=error)
                failures.append(Failure("cli", impl.plugin_name, hook, error))
    return failures
