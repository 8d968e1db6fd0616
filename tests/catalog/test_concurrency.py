"""The catalog under concurrent use: 20 threads asking at once for modules nobody loaded yet
(what a server's first page views do) all get the one specification, loaded once each."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import tfpilot_sandbox
from tfpilot_core.catalog import Catalog
from tfpilot_core.catalog.spec import ModuleSpec, load_module
from tfpilot_core.interfaces import ModuleLocation

ROOTS = [
    Path(tfpilot_sandbox.__file__).parent / "modules",
    Path(__file__).resolve().parents[2] / "modules" / "aws",
]


class GeneratorSource:
    """A module source whose ``modules()`` is a generator, as most sources' are."""

    def __init__(self, directories: list[Path]) -> None:
        self.directories = directories

    def modules(self) -> Iterator[ModuleLocation]:
        for directory in self.directories:
            yield ModuleLocation(name=f"t/{directory.name}", path=directory)


def test_twenty_concurrent_first_loads(tmp_path: Path) -> None:
    # Fresh copies: nothing of these files is cached anywhere yet.
    directories = []
    for root in ROOTS:
        for module in sorted(p for p in root.iterdir() if (p / "main.tf").is_file()):
            copy = tmp_path / f"{root.name}-{module.name}"
            shutil.copytree(module, copy)
            directories.append(copy)
    assert len(directories) >= 8
    catalog = Catalog.from_sources({"test": GeneratorSource(directories)})
    names = [f"t/{d.name}" for d in directories]
    barrier = threading.Barrier(20)
    results: dict[int, ModuleSpec] = {}
    errors: list[BaseException] = []

    def first_view(i: int) -> None:
        barrier.wait()
        try:
            results[i] = catalog.get(names[i % len(names)])
        except BaseException as exc:  # every failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=first_view, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i, spec in results.items():
        name = names[i % len(names)]
        # One load per module: every thread got the same object ...
        assert spec is catalog.get(name)
        # ... equal to what a load on its own gives.
        alone = load_module(
            ModuleLocation(name=name, path=directories[i % len(names)], source="test")
        )
        assert spec.model_dump() == alone.model_dump()
