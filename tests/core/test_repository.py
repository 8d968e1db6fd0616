"""The repository itself: workflow files, packaging of every plugin, the README's commands."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    "workflow", sorted((ROOT / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_workflows_are_valid_github_actions(workflow: Path) -> None:
    # check-jsonschema is a dev dependency: it ships GitHub's schema, so this runs offline.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: folder -> (distribution, package suffix) where they are not derived from the folder.
RENAMED = {"mcp_server": ("tfpilot-mcp", "mcp")}


@pytest.mark.parametrize(
    "plugin",
    sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml")),
    ids=lambda p: p.name,
)
def test_each_plugin_is_its_own_distribution(plugin: Path) -> None:
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    name = plugin.name
    # Named distributions that differ from their folder, as their issues asked.
    distribution, package = RENAMED.get(name, (f"tfpilot-{name.replace('_', '-')}", name))
    assert project["name"] == distribution
    assert project["entry-points"]["tfpilot"] == {name: f"tfpilot_{package}.plugin"}
    assert (plugin / f"tfpilot_{package}" / "plugin.py").is_file()
    assert (plugin / "README.md").is_file() and (plugin / "tests").is_dir()
    assert any(dep.startswith("tfpilot-core") for dep in project["dependencies"])


def test_readme_quick_start_has_exactly_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["python3 dev.py demo", "python3 dev.py test"]
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()
