"""The catalog over module sources, and the modules_dir default plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tfpilot_core.catalog import Catalog, modules_dir
from tfpilot_core.default_plugins import modules_dir as modules_dir_plugin
from tfpilot_core.errors import ConfigError, NotFoundError
from tfpilot_core.interfaces import ModuleLocation, ModuleSource
from tfpilot_core.registrations import PluginContext

ModuleFactory = Callable[..., Path]


def _source(tmp_path: Path, *paths: Path) -> ModuleSource:
    registration = modules_dir_plugin.tfpilot_register_module_sources()[0]
    model = registration.model()
    assert model is not None
    settings = model(paths=list(paths))
    source = registration.build_factory()(settings, PluginContext(home=tmp_path / "home"))
    assert isinstance(source, ModuleSource)
    return source


def test_modules_dir_names_modules_by_relative_path(
    tmp_path: Path, make_module: ModuleFactory
) -> None:
    root = tmp_path / "modules"
    make_module("aws/s3-bucket", root=root)
    make_module("sandbox/bucket", root=root)
    # A module's own sub-module is part of it, not a catalog module.
    make_module("sandbox/bucket/modules/inner", root=root, meta=None)
    (root / ".terraform" / "x").mkdir(parents=True)
    (root / ".terraform" / "x" / "main.tf").write_text("")
    (root / "empty").mkdir()
    names = [m.name for m in _source(tmp_path, root, tmp_path / "missing").modules()]
    assert names == ["aws/s3-bucket", "sandbox/bucket"]


def test_modules_dir_default_is_relative_to_cwd(
    tmp_path: Path, make_module: ModuleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_module("net/vpc", root=tmp_path / "modules")
    monkeypatch.chdir(tmp_path)
    settings = modules_dir.ModulesDirSettings()
    assert settings.paths == [Path("modules")]
    source = modules_dir.ModulesDirSource(settings.paths)
    assert [m.name for m in source.modules()] == ["net/vpc"]
    monkeypatch.chdir(tmp_path / "modules" / "net")
    assert list(modules_dir.ModulesDirSource(settings.paths).modules()) == []  # missing: skipped


def test_modules_dir_root_with_tf_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text("")
    with pytest.raises(ConfigError, match="sub-directory"):
        list(modules_dir.ModulesDirSource([tmp_path]).modules())


def test_catalog_lists_and_gets(tmp_path: Path, make_module: ModuleFactory) -> None:
    root = tmp_path / "modules"
    make_module("sandbox/bucket", root=root)
    make_module("sandbox/queue", root=root, meta=None)
    catalog = Catalog.from_sources({"modules_dir": _source(tmp_path, root)})
    assert catalog.names() == ["sandbox/bucket", "sandbox/queue"]
    assert "sandbox/bucket" in catalog and "nope" not in catalog
    spec = catalog.get("sandbox/bucket")
    assert spec.source == "modules_dir"
    assert catalog.get("sandbox/bucket") is spec  # cached
    assert [s.name for s in catalog.list()] == ["sandbox/bucket", "sandbox/queue"]


def test_catalog_is_lazy(tmp_path: Path) -> None:
    calls: list[int] = []

    def pairs() -> Iterator[tuple[str, ModuleLocation]]:
        calls.append(1)
        yield from ()

    catalog = Catalog(pairs())
    assert calls == []
    assert catalog.names() == []
    assert catalog.names() == []
    assert calls == [1]


def test_duplicate_names_across_sources_name_both(
    tmp_path: Path, make_module: ModuleFactory
) -> None:
    a = make_module("bucket", root=tmp_path / "a")
    b = make_module("bucket", root=tmp_path / "b")
    catalog = Catalog(
        [
            ("modules_dir", ModuleLocation("sandbox/bucket", a)),
            ("sandbox", ModuleLocation("sandbox/bucket", b)),
        ]
    )
    with pytest.raises(ConfigError) as info:
        catalog.list()
    message = str(info.value)
    assert "'modules_dir'" in message and "'sandbox'" in message
    assert str(a) in message and str(b) in message


@pytest.mark.parametrize("bad", ["Aws/S3", "../etc", "a//b", "-x", "a/", "a b", "a_b", ""])
def test_invalid_module_names_are_refused(
    tmp_path: Path, make_module: ModuleFactory, bad: str
) -> None:
    catalog = Catalog([("src", ModuleLocation(bad, make_module()))])
    with pytest.raises(ConfigError, match="src"):
        catalog.names()


def test_not_found_lists_close_names(tmp_path: Path, make_module: ModuleFactory) -> None:
    path = make_module()
    catalog = Catalog(
        [
            ("s", ModuleLocation("sandbox/bucket", path)),
            ("s", ModuleLocation("aws/s3-bucket", path)),
        ]
    )
    with pytest.raises(NotFoundError, match="sandbox/bucket"):
        catalog.get("sandbox/buket")
    with pytest.raises(NotFoundError, match="sandbox/bucket"):
        catalog.get("bucket")
    with pytest.raises(NotFoundError, match="available"):
        catalog.get("zzz")
    with pytest.raises(NotFoundError):
        catalog.get("../../etc/passwd")
