"""Fixtures of the MCP tests: a seeded configuration (see :mod:`mcp_helpers`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp_helpers import CONFIG, World, seed


@pytest.fixture
def world(tmp_path: Path) -> World:
    from tfpilot_core.platform import Platform

    w = World(tmp_path)
    w.home.mkdir()
    w.config.write_text(CONFIG)
    platform = Platform.from_config(
        w.config, environ={"TFPILOT_HOME": str(w.home), "TFPILOT_CONFIG": str(w.config)}
    )
    seed(platform)
    return w
