"""Quick paths: a few read-only CLI commands answered without the domain model.

Importing pydantic costs more than the whole budget of a small command (about 55 ms, against
about 35 ms for ``import click``), so ``requests list``, ``modules list`` and ``policy check`` first
try to answer from plain data, and run the full path whenever they cannot give exactly its answer.
What they read:

* a **configuration snapshot**: the configuration as the full path validated it (core settings,
  users, and each plugin's validated settings), written by the full path after a successful
  validation and valid while nothing it depends on changed: the configuration file's path and
  text, the ``TFPILOT_*__*`` overrides, the home directory, the working directory, tfpilot's
  version, the loaded plugins (name, distribution, version, status) and the modification times
  of the directories on ``sys.path`` (an install or upgrade changes them). Plugin sections
  holding ``$env``/``$file`` references or secret-looking keys are left out of it (the quick
  paths then take the full path), so the snapshot never holds a resolved secret;
* the **store itself**, read-only (``store_is_empty``);
* a **catalog listing** written by the full path, keyed by the snapshot and by the size and
  modification time of every file under each module's directory and each
  ``modules_dir`` root.

The snapshots live under ``$XDG_CACHE_HOME/tfpilot/`` (private: 0700 directory, 0600 files).
Only the CLI turns quick paths on (:func:`enable`); ``TFPILOT_NO_CACHE=1`` turns them off. A
quick path never raises: when in doubt it says "not handled" and the full path runs, reporting any
error exactly as before. This module imports only the standard library.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpilot_core.layout import sqlite_holds_no_request
from tfpilot_core.paths import database_file, home_dir, locate_config
from tfpilot_core.plugin_sections import deprecated_in_use, lookup, warn, warn_unknown
from tfpilot_core.references import SECRET_WORDS, is_reference

if TYPE_CHECKING:
    from tfpilot_core.cli.app import App

__all__ = ["database_file", "home_dir", "locate_config"]

_FORMAT = 3
_enabled = False
#: Plugin names of the core's own registrations that quick paths know how to stand in for.
CORE_STORE_PLUGIN = "store_embedded"
CORE_IDENTITY_PLUGIN = "identity"


def enable(on: bool = True) -> None:
    """Use (and write) snapshots from now on: called by the CLI's entry point only."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    """Whether quick paths are on (the CLI, and ``TFPILOT_NO_CACHE`` unset)."""
    return _enabled and not os.environ.get("TFPILOT_NO_CACHE")


# -- the configuration snapshot ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The configuration as the full path validated it, as plain data."""

    source: str | None
    home: str
    #: ``CoreSettings.model_dump(mode="json")``.
    core: dict[str, Any]
    users: dict[str, Any]
    #: Section name -> that plugin's validated settings (defaults applied), JSON form.
    plugin_settings: dict[str, dict[str, Any]]
    #: Kind value -> the plugin whose registration the configuration selects (store, identity).
    selected: dict[str, str]
    #: ``[old, new]`` for each deprecated ``[plugins.<old>]`` the configuration uses: warned
    #: about on every run that reads the snapshot (quick paths never validate settings).
    deprecated: list[list[str]] = field(default_factory=list)
    #: Sections no installed plugin reads: logged on every run too (``unknown_plugin_section``).
    unknown: list[str] = field(default_factory=list)

    def environment(self, key: str) -> dict[str, Any]:
        """The environment named ``key``; else the error of ``Config.environment`` (exit 3)."""
        for env in self.core.get("environments", []):
            if env.get("key") == key:
                return dict(env)
        from tfpilot_core.errors import UnknownEnvironmentError

        known = [str(e.get("key", "")) for e in self.core.get("environments", [])]
        raise UnknownEnvironmentError(key, known)


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfpilot")


def _key(state: App) -> list[Any] | None:
    """What a snapshot of this invocation depends on; ``None`` when it cannot be told."""
    from tfpilot_core.version import __version__

    environ = os.environ
    explicit = str(state.config_path) if state.config_path is not None else None
    source, _ = locate_config(explicit, environ)
    text = None
    if source is not None:
        try:
            with open(source, "rb") as handle:
                text = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # the full path reports it
        source = os.path.abspath(source)
    overrides = sorted([k, v] for k, v in environ.items() if k.startswith("TFPILOT_") and "__" in k)
    if state.loaded is None:
        return None
    plugins = sorted(
        [i.name, i.distribution, i.version, i.status] for i in state.loaded.infos.values()
    )
    from tfpilot_core.entrypoints import fingerprint

    return [
        _FORMAT,
        __version__,
        source,
        text,
        overrides,
        home_dir(environ),
        os.getcwd(),
        plugins,
        fingerprint(),
    ]


def _file_for(name: str, key: list[Any]) -> str:
    digest = zlib.crc32(json.dumps(key, sort_keys=True).encode())
    return os.path.join(_cache_dir(), f"{name}-{digest:08x}.json")


def _read(path: str, key: list[Any]) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data.get("value")


def _write(path: str, key: list[Any], value: Any) -> None:
    """Atomically, privately; a read-only home only costs speed."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"key": key, "value": value}, handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass


def _current(state: App) -> tuple[Snapshot, list[Any]] | None:
    """The snapshot of this invocation's configuration and its key, or ``None``."""
    if not enabled() or state.loaded is None or state.loaded.conflicts:
        return None
    key = _key(state)
    if key is None:
        return None
    value = _read(_file_for("config", key), key)
    if not isinstance(value, dict):
        return None
    try:
        found = Snapshot(**value)
    except TypeError:
        return None
    for old, new in found.deprecated:
        warn(old, new)
    for section in found.unknown:
        warn_unknown(section)
    return found, key


def snapshot(state: App) -> Snapshot | None:
    """The snapshot of this invocation's configuration, or ``None`` (then take the full path)."""
    current = _current(state)
    return None if current is None else current[0]


def settings_validated(state: App) -> bool:
    """Whether every ``[plugins.<section>]`` of this configuration passed ``validate_settings``
    in an earlier command with the same inputs, so that checking them again would pass again.

    True when the snapshot is current (same configuration text, ``TFPILOT_*__*`` overrides,
    home, working directory, plugins and their versions, installed code) and holds every
    section of the file: a section left out of it reads a secret or an environment value (which
    the key does not cover), holds a value JSON cannot keep, or is one no installed plugin reads
    (``validate_settings`` warns about those on every command). The snapshot is only written
    after ``validate_settings`` passed.
    """
    snap = snapshot(state)
    if snap is None:
        return False
    return all(section in snap.plugin_settings for section in state.config.plugins)


def _holds_secrets(value: Any, key: str = "") -> bool:
    if is_reference(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secrets(v, str(k)) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secrets(v, key) for v in value)
    return isinstance(value, str) and any(word in key.lower() for word in SECRET_WORDS)


def _json_native(value: Any) -> bool:
    """Whether a TOML value survives a JSON round trip unchanged (TOML dates and times do not)."""
    if isinstance(value, dict):
        return all(_json_native(v) for v in value.values())
    if isinstance(value, list):
        return all(_json_native(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def save(state: App) -> None:
    """Write the snapshot after the full path validated the configuration (no-op when current).

    Called from :attr:`App.host` once ``validate_settings`` passed. Computing it validates every
    plugin's settings with defaults, which imports every settings model: that happens only when
    the snapshot is missing or out of date.
    """
    if not enabled() or state.loaded is None or state.loaded.conflicts:
        return
    key = _key(state)
    if key is None:
        return
    path = _file_for("config", key)
    if _read(path, key) is not None:
        return
    from tfpilot_core.errors import TfpilotError
    from tfpilot_core.registrations import START_KINDS, Kind

    config = state.config
    host = state.host
    plugin_settings: dict[str, dict[str, Any]] = {}
    selected: dict[str, str] = {}
    deprecated: list[list[str]] = []
    read: set[str] = set()
    try:
        # Suggesters, question models and value proposers are asked for per use (their hooks
        # may import a model client): no quick path needs them.
        for kind in START_KINDS:
            for plugin, registration in host.registrations(kind):
                if kind is Kind.STORE and registration.name == config.core.store:
                    selected["store"] = plugin
                if kind is Kind.IDENTITY_PROVIDER and registration.name == config.core.identity:
                    selected["identity_provider"] = plugin
                section = registration.section
                read.update((section, *registration.deprecated_sections))
                _, raw = lookup(config.plugins, section, registration.deprecated_sections)
                deprecated += [
                    [old, new]
                    for old, new in deprecated_in_use(
                        config.plugins, section, registration.deprecated_sections
                    )
                    if [old, new] not in deprecated
                ]
                if section in plugin_settings or _holds_secrets(raw) or not _json_native(raw):
                    # Never a resolved secret in the cache; and a value that JSON would turn
                    # into something else (a TOML date) would make a quick answer differ.
                    continue
                try:
                    settings = host.settings_for(registration)
                except TfpilotError:
                    # A plugin nobody configured (its settings need values): the full path
                    # reports that if a command uses it; quick paths never do.
                    continue
                plugin_settings[section] = settings.model_dump(mode="json")
    except TfpilotError:
        return  # a registration hook failed: the full path reports it when a command needs it
    value = {
        "source": str(config.source) if config.source else None,
        "home": str(config.home),
        "core": config.core.model_dump(mode="json"),
        "users": {k: v.model_dump(mode="json") for k, v in config.users.items()},
        "plugin_settings": plugin_settings,
        "selected": selected,
        "deprecated": deprecated,
        "unknown": [section for section in config.plugins if section not in read],
    }
    _write(path, key, value)


# -- the embedded store, read-only ---------------------------------------------------------------


def store_is_empty(state: App) -> bool:
    """True only when it is certain that the configured store holds no request at all.

    Certain means: the snapshot selects the core's ``embedded`` store, and its database is
    absent or opens read-only at the layout version this tfpilot writes with no request in it.
    """
    snap = snapshot(state)
    if snap is None or snap.core.get("store") != "embedded":
        return False
    if snap.selected.get("store") != CORE_STORE_PLUGIN:
        return False
    # Who asks does not change an empty answer, but another identity provider verifies the
    # caller (and refuses claimed names) before anything is read: the full path does that.
    if snap.core.get("identity") != "local":
        return False
    if snap.selected.get("identity_provider") != CORE_IDENTITY_PLUGIN:
        return False
    # Keyed by section: the store_embedded plugin's (its deprecated name is resolved by save).
    settings = snap.plugin_settings.get("store_embedded")
    if settings is None:
        return False
    db = database_file(settings.get("path"), snap.home, snap.source)
    if not os.path.exists(db):
        return True
    return sqlite_holds_no_request(db)


# -- the catalog listing -------------------------------------------------------------------------


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _listing_key(snap: Snapshot, config_key: list[Any], locations: list[str]) -> list[Any]:
    """What a catalog listing depends on: the configuration, and every file of every module
    and of every ``modules_dir`` root (a module added, removed or edited changes it)."""
    from tfpilot_core.files import tree_fingerprint

    def files(directory: str) -> list[list[Any]]:
        # Lists, not tuples: the key is compared with what JSON gives back.
        return [list(entry) for entry in tree_fingerprint(directory, skip_hidden=True)]

    roots = [
        os.path.abspath(str(r))
        for r in snap.plugin_settings.get("modules_dir", {}).get("paths", [])
    ]
    stats: list[Any] = [[root, files(root)] for root in roots]
    for path in locations:
        # A sibling module appearing beside a plugin's own modules changes their directory.
        parent = os.path.dirname(path)
        stats.append([parent, _mtime(parent), files(path)])
    return [config_key, locations, stats]


def catalog_listing(state: App) -> list[dict[str, Any]] | None:
    """The cached ``modules list`` data, if nothing it was computed from has changed."""
    current = _current(state)
    if current is None:
        return None
    snap, key = current
    index = _read(_file_for("catalog-index", key), key)
    if not isinstance(index, list):
        return None
    listing_key = _listing_key(snap, key, [str(p) for p in index])
    value = _read(_file_for("catalog", listing_key), listing_key)
    return value if isinstance(value, list) else None


def save_catalog_listing(state: App, locations: list[str], listing: list[dict[str, Any]]) -> None:
    """Remember the ``modules list`` data computed by the full path from ``locations``."""
    current = _current(state)
    if current is None:
        return
    snap, key = current
    _write(_file_for("catalog-index", key), key, locations)
    listing_key = _listing_key(snap, key, locations)
    _write(_file_for("catalog", listing_key), listing_key, listing)
