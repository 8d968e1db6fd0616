"""Discovery, blocking, duplicates, broken plugins and check_pending."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType

import pytest

from tfpilot_core import hookimpl
from tfpilot_core.errors import DuplicateRegistrationError, PluginError
from tfpilot_core.plugins import DEFAULT_PLUGINS, load_plugins
from tfpilot_core.registrations import Kind, Registration


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Entry points of group ``tfpilot`` backed by modules written to tmp_path."""
    sources: dict[str, str] = {}
    monkeypatch.syspath_prepend(str(tmp_path))

    def fake(group: str) -> list[EntryPoint]:
        assert group == "tfpilot"
        eps = []
        for name, code in sources.items():
            module = f"fakeplugin_{name}"
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(code))
            eps.append(EntryPoint(name=name, value=module, group="tfpilot"))
        return eps

    monkeypatch.setattr("importlib.metadata.entry_points", fake)
    # Entry points are read through tfpilot_core.entrypoints.scan, which imports the function
    # from importlib.metadata at call time, so the fake above is what it sees.
    yield sources
    for name in sources:
        sys.modules.pop(f"fakeplugin_{name}", None)


GOOD = """
from tfpilot_core import hookimpl
@hookimpl
def tfpilot_register_notifiers():
    return []
"""


def test_defaults_are_registered_first_and_named() -> None:
    loaded = load_plugins(entry_points=False, environ={})
    names = [name for name, info in loaded.infos.items() if info.default]
    assert names == [m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS]
    assert all(loaded.manager.get_plugin(n) is not None for n in names)


def test_entry_points_are_discovered(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["good"] = GOOD
    loaded = load_plugins(environ={})
    assert loaded.infos["good"].status == "loaded"
    assert loaded.infos["good"].hooks == ["tfpilot_register_notifiers"]


def test_load_plugins_env_restricts_entry_points(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["one"] = GOOD
    fake_entry_points["two"] = GOOD
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "two"})
    assert "one" not in loaded.infos
    assert loaded.infos["two"].status == "loaded"
    none = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": ""})
    assert not [i for i in none.infos.values() if not i.default]


def test_disable_plugins_blocks_entry_points_and_defaults(
    fake_entry_points: dict[str, str],
) -> None:
    fake_entry_points["good"] = GOOD
    default = DEFAULT_PLUGINS[0].rsplit(".", 1)[-1]
    loaded = load_plugins(environ={"TFPILOT_DISABLE_PLUGINS": f"good, {default}"})
    assert loaded.infos["good"].status == "blocked"
    assert loaded.infos[default].status == "blocked"
    assert loaded.manager.get_plugin("good") is None
    assert loaded.manager.is_blocked(default)


def test_broken_plugin_is_reported_by_name_and_skipped(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["broken"] = "raise RuntimeError('boom at import')"
    fake_entry_points["good"] = GOOD
    loaded = load_plugins(environ={})
    assert loaded.infos["broken"].status == "failed"
    assert "boom at import" in (loaded.infos["broken"].error or "")
    assert loaded.infos["good"].status == "loaded"


def test_broken_plugin_is_fatal_when_strict(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["broken"] = "import does_not_exist_anywhere"
    with pytest.raises(PluginError, match=r"'broken'.*failed to load"):
        load_plugins(environ={}, strict=True)


def test_check_pending_catches_misspelt_hooks(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["typo"] = """
from tfpilot_core import hookimpl
@hookimpl
def tfpilot_register_notifyers():
    return []
"""
    with pytest.raises(PluginError, match="typo"):
        load_plugins(environ={})


def test_duplicate_registration_names_both_plugins(tfpilot_host, register_plugin) -> None:  # type: ignore[no-untyped-def]
    def make(name: str) -> ModuleType:
        module = ModuleType(name)

        @hookimpl
        def tfpilot_register_notifiers() -> list[Registration[object]]:
            return [Registration(name="chat", factory=lambda s, c: object())]

        module.tfpilot_register_notifiers = tfpilot_register_notifiers  # type: ignore[attr-defined]
        return module

    register_plugin(make("first_plugin"), name="first_plugin")
    register_plugin(make("second_plugin"), name="second_plugin")
    with pytest.raises(DuplicateRegistrationError) as info:
        tfpilot_host.registrations(Kind.NOTIFIER)
    assert "first_plugin" in info.value.message and "second_plugin" in info.value.message
