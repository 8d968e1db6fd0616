"""`tfpilot demo`, the README's main command, end to end in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_story(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    env = {**os.environ, "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"}
    env.pop("TFPILOT_CONFIG", None)
    env.pop("TFPILOT_HOME", None)
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", code, "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        "inputs.colour: is not an input",
        "four eyes",
        "approved plan",
        "drifted: module.this.sandbox_bucket.this",
        "drift cleared",
        "destroy_succeeded",
        "every step behaved as shown",
    ):
        assert expected in out, expected
    # --keep leaves the store and the timeline for inspection.
    assert (keep / "tfpilot.db").is_file()
    listed = subprocess.run(
        # The demo's users are its configuration's: others have no access.
        [sys.executable, "-c", code, "--as", "carol", "--json", "requests", "list"],
        capture_output=True,
        text=True,
        env={**env, "TFPILOT_HOME": str(keep), "TFPILOT_CONFIG": str(keep / "tfpilot.toml")},
        cwd=tmp_path,
    )
    assert '"status": "destroyed"' in listed.stdout


def test_keep_refuses_a_directory_in_use(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    code = "import sys; from tfpilot_core.cli import main; main(sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", code, "demo", "--keep", str(tmp_path / "used")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "must be new or empty" in result.stderr
