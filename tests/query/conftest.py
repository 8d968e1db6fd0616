"""Fixtures of the query tests: the seeded platform of :mod:`query_world`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from query_world import make_platform, seed

from tfpilot_core.platform import Platform


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    """The seeded platform on the embedded (SQLite) store."""
    p = make_platform(tmp_path)
    seed(p)
    return p
