"""Fixtures for catalog tests: small modules written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

BUCKET_TF = """
variable "name" {
  type        = string
  description = "The bucket name"
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "region" {
  type    = string
  default = "local-1"
}

variable "versioning" {
  type    = bool
  default = false
}

variable "size_gb" {
  type    = number
  default = 10
}

variable "lifecycle" {
  type = object({
    enabled = optional(bool, false)
    days    = optional(number, 30)
  })
  default = {}
}

variable "ports" {
  type    = list(number)
  default = [80]
}

variable "owner" {
  type    = string
  default = "platform"
}

variable "secret" {
  type      = string
  default   = null
  sensitive = true
}
"""

BUCKET_OUTPUTS_TF = """
output "id" {
  value = "x"
}

output "token" {
  value     = "y"
  sensitive = true
}
"""

BUCKET_META = """
description = "A private bucket in the sandbox cloud"
category = "storage"
risk = "low"
name_input = "name"
tags_input = "tags"

[[examples]]
title = "Log bucket"
inputs = { name = "logs" }

[inputs.name]
label = "Bucket name"
immutable = true

[inputs.region]
allowed = ["local-1", "local-2"]
immutable = true

[inputs.owner]
read_only = true
"""

ModuleFactory = Callable[..., Path]


@pytest.fixture
def make_module(tmp_path: Path) -> ModuleFactory:
    """Write a module directory: ``make_module("bucket", tf=..., meta=..., extra={...})``."""

    def make(
        name: str = "bucket",
        *,
        tf: str = BUCKET_TF,
        meta: str | None = BUCKET_META,
        outputs: str | None = BUCKET_OUTPUTS_TF,
        root: Path | None = None,
    ) -> Path:
        directory = (root or tmp_path / "modules") / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "variables.tf").write_text(tf)
        if outputs is not None:
            (directory / "outputs.tf").write_text(outputs)
        if meta is not None:
            (directory / "tfpilot.module.toml").write_text(meta)
        return directory

    return make


@pytest.fixture
def bucket_tf() -> str:
    """The variables.tf of the test bucket module."""
    return BUCKET_TF


@pytest.fixture
def bucket_meta() -> str:
    """The tfpilot.module.toml of the test bucket module."""
    return BUCKET_META
