"""Fixtures of the ask tests: the seeded platform of ``tests/query/query_world.py``, and a
platform over small modules written for the assistant's tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "query"))

from query_world import make_platform, seed

from tfpilot_core.platform import Platform
from tfpilot_core.testing import module_source_plugin


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    """The seeded platform on the embedded (SQLite) store."""
    p = make_platform(tmp_path)
    seed(p)
    return p


@pytest.fixture
def modules_platform(tmp_path: Path) -> Callable[..., Platform]:
    """Make a platform over modules written under ``tmp_path/modules`` (no entry points).

    ``make(modules, users, plugins=())``: ``modules`` maps a name to its ``main.tf`` and
    ``tfpilot.module.toml`` texts (the module is ``test/NAME``); ``users`` is the tfpilot.toml
    text; ``plugins`` are more ``(name, plugin)`` pairs to load.
    """

    def make(
        modules: dict[str, tuple[str, str]], users: str, plugins: tuple[tuple[str, Any], ...] = ()
    ) -> Platform:
        sources = {}
        for name, (main_tf, module_toml) in modules.items():
            path = tmp_path / "modules" / name
            path.mkdir(parents=True)
            (path / "main.tf").write_text(main_tf)
            (path / "tfpilot.module.toml").write_text(module_toml)
            sources[f"test/{name}"] = path
        config = tmp_path / "tfpilot.toml"
        config.write_text(users)
        (tmp_path / "home").mkdir()
        return Platform.from_config(
            config,
            environ={"TFPILOT_HOME": str(tmp_path / "home"), "TFPILOT_CONFIG": ""},
            entry_points=False,
            extra_plugins=[("test-modules", module_source_plugin(sources)), *plugins],
        )

    return make
