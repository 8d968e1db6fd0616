"""The documentation site builds, strict and offline: the guides, the CLI reference and the API
reference rendered from tfpilot_core's docstrings (mkdocs + mkdocstrings, ``mkdocs.yml``).

Strict: a warning (a missing page or anchor inside docs/, a docstring mkdocstrings cannot read)
fails the build. Offline: where this machine allows it (root, ``unshare``), the build runs in a
network namespace with no network at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _offline(command: list[str]) -> list[str]:
    """``command`` in a namespace without network when the machine lets us make one."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        probe = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [unshare, "-n", *command]
    return command


def test_the_docs_site_builds_strict_and_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    command = _offline([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)])
    built = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    assert "WARNING" not in built.stderr, built.stderr[-4000:]
    platform = (site / "api" / "platform" / "index.html").read_text()
    # The embedding API, rendered from the docstrings: the verbs and their documentation.
    for verb in ("create", "plan", "approve", "apply", "destroy", "read"):
        assert f'id="tfpilot_core.platform.Platform.{verb}"' in platform, verb
    hooks = (site / "api" / "hookspecs" / "index.html").read_text()
    assert 'id="tfpilot_core.hookspecs.tfpilot_register_runners"' in hooks
    reference = (site / "cli-reference" / "index.html").read_text()
    assert "tfpilot plan export" in reference
    # A link from docs/ to the rest of the repository points at the file on GitHub.
    web = (site / "web" / "index.html").read_text()
    assert "https://github.com/tfpilot/tfpilot/blob/main/plugins/web/README.md" in web
