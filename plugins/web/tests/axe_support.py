"""axe-core for the browser tests: find (or install once with npm) ``axe.min.js`` and check a
Playwright page for serious or critical violations.

Where it looks, in order: ``$TFPILOT_AXE_JS``; ``node_modules/axe-core`` in the repository root
or in ``plugins/web``; the test cache (``$XDG_CACHE_HOME/tfpilot-tests/axe``), where it runs
``npm install axe-core@4`` the first time. Without npm and without a copy the caller skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
#: The impacts a page may not have.
REFUSED = ("serious", "critical")


def axe_path() -> Path | None:
    """The ``axe.min.js`` to inject, installing it into the test cache when needed."""
    given = os.environ.get("TFPILOT_AXE_JS")
    if given and Path(given).is_file():
        return Path(given)
    for base in (ROOT, HERE.parent):
        found = base / "node_modules" / "axe-core" / "axe.min.js"
        if found.is_file():
            return found
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfpilot-tests"
    target = cache / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    (cache / "axe").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "axe-core@4"],
        cwd=cache / "axe",
        check=True,
        timeout=300,
    )
    return target if target.is_file() else None


def check_page(page: Any, where: str, *, known: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Run axe on ``page``; fail the test on a serious or critical violation (named, with nodes).

    ``known``: rule ids not failed on this page (third-party markup the caller names and
    explains). Returns every violation found (minor and moderate ones too) for the caller.
    """
    path = axe_path()
    if path is None:
        pytest.skip("axe-core unavailable: install npm or set TFPILOT_AXE_JS")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (same-origin scripts only)
        # would refuse an inline script element.
        page.evaluate(path.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    violations: list[dict[str, Any]] = result["violations"]
    bad = [v for v in violations if v.get("impact") in REFUSED and v["id"] not in known]
    assert not bad, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:3])
        for v in bad
    )
    return violations
