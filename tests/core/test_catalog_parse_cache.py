"""The parse cache of module ``*.tf`` files: same specs as a fresh parse, keyed by content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfpilot_core import parse_cache
from tfpilot_core.catalog.spec import load_module
from tfpilot_core.errors import ConfigError
from tfpilot_core.interfaces import ModuleLocation

MAIN_TF = """
variable "name" {
  type        = string
  description = "Queue name"
}
variable "retention" {
  type    = number
  default = 4
}
output "arn" {
  value     = "x"
  sensitive = true
}
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleLocation:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TFPILOT_NO_CACHE", raising=False)
    monkeypatch.setattr(parse_cache, "_enabled", True)
    root = tmp_path / "queue"
    root.mkdir()
    (root / "main.tf").write_text(MAIN_TF)
    return ModuleLocation("sandbox/queue", root)


def _cached(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "tfpilot" / "hcl").glob("*.json"))


def test_a_cached_parse_gives_the_same_spec(module: ModuleLocation, tmp_path: Path) -> None:
    fresh = load_module(module)
    assert len(_cached(tmp_path)) == 1
    again = load_module(module)
    assert again.model_dump() == fresh.model_dump()
    assert set(again.inputs) == {"name", "retention"}
    assert again.inputs["retention"].default == 4


def test_an_edited_file_is_parsed_again(module: ModuleLocation, tmp_path: Path) -> None:
    load_module(module)
    (module.path / "main.tf").write_text(MAIN_TF + 'variable "extra" {\n  type = bool\n}\n')
    assert "extra" in load_module(module).inputs
    assert len(_cached(tmp_path)) == 2


def test_a_broken_file_still_fails_and_is_not_cached(
    module: ModuleLocation, tmp_path: Path
) -> None:
    (module.path / "main.tf").write_text('variable "x" {\n  type = \n')
    with pytest.raises(ConfigError, match="cannot parse Terraform file"):
        load_module(module)
    assert _cached(tmp_path) == []


def test_library_use_does_not_cache(
    module: ModuleLocation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_cache, "_enabled", False)
    load_module(module)
    assert _cached(tmp_path) == []


def test_the_cache_can_be_turned_off(
    module: ModuleLocation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFPILOT_NO_CACHE", "1")
    load_module(module)
    assert _cached(tmp_path) == []


def test_a_cached_module_loads_without_the_parser(module: ModuleLocation, tmp_path: Path) -> None:
    load_module(module)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tfpilot_core import parse_cache\n"
        "from tfpilot_core.catalog.spec import load_module\n"
        "parse_cache.enable()\n"
        "from tfpilot_core.interfaces import ModuleLocation\n"
        f"spec = load_module(ModuleLocation('sandbox/queue', Path({str(module.path)!r})))\n"
        "print(sorted(spec.inputs), 'hcl2' in sys.modules, 'lark' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.stdout.strip() == "['name', 'retention'] False False"
