"""Module-owned naming (``[naming]``) and provider-aware tags (``tags_format``): real names of
Azure storage accounts, SQS FIFO queues and IAM roles, and GCP labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.catalog.spec import load_module
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import ConfigError, ValidationError
from tfpilot_core.interfaces import ModuleLocation

RID = "req_dev_mod_k3x9pq"
SERVER = {"tfpilot:request_id": RID, "tfpilot:created_by": "Alice@Example.com"}


def module(tmp_path: Path, meta: str, name_default: str | None = None) -> Any:
    default = "" if name_default is None else f"\n  default = {name_default}"
    (tmp_path / "variables.tf").write_text(
        f'variable "name" {{\n  type = string{default}\n}}\n'
        'variable "labels" {\n  type = map(string)\n  default = {}\n}\n'
    )
    (tmp_path / "main.tf").write_text('resource "terraform_data" "this" {}\n')
    (tmp_path / "tfpilot.module.toml").write_text(meta)
    return load_module(ModuleLocation(name="t/m", path=tmp_path))


def normalize(spec: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return normalize_inputs(spec, inputs, request_id=RID, server_tags=SERVER)


def test_azure_storage_names_take_the_suffix_without_a_separator(tmp_path: Path) -> None:
    spec = module(
        tmp_path,
        'name_input = "name"\n[naming]\nseparator = ""\npattern = "^[a-z0-9]{3,24}$"\n'
        "max_length = 24\n",
    )
    assert normalize(spec, {"name": "stlogs"})["name"] == "stlogsk3x9pq"
    # An update keeps the name as stored, without a second suffix.
    assert normalize(spec, {"name": "stlogsk3x9pq"})["name"] == "stlogsk3x9pq"
    with pytest.raises(ValidationError) as caught:
        normalize(spec, {"name": "St-Logs"})
    assert caught.value.problems[0].rule == "name_pattern"
    assert "^[a-z0-9]{3,24}$" in caught.value.problems[0].message
    assert spec.input_json_schema()["properties"]["name"]["maxLength"] == 18


def test_sqs_fifo_names_keep_their_suffix_last(tmp_path: Path) -> None:
    spec = module(
        tmp_path,
        'name_input = "name"\n[naming]\nkeep_suffixes = [".fifo"]\n'
        'pattern = "^[A-Za-z0-9_-]{1,75}(\\\\.fifo)?$"\nmax_length = 80\n',
    )
    assert normalize(spec, {"name": "orders.fifo"})["name"] == "orders-k3x9pq.fifo"
    assert normalize(spec, {"name": "orders-k3x9pq.fifo"})["name"] == "orders-k3x9pq.fifo"


def test_iam_role_names_as_given(tmp_path: Path) -> None:
    spec = module(
        tmp_path,
        'name_input = "name"\n[naming]\nsuffix = false\npattern = "^[A-Za-z0-9+=,.@_-]{1,64}$"\n',
    )
    assert normalize(spec, {"name": "CiDeployer"})["name"] == "CiDeployer"
    assert spec.input_json_schema()["properties"]["name"]["pattern"] == "^[A-Za-z0-9+=,.@_-]{1,64}$"


def test_a_name_defaulting_to_empty_is_the_modules_to_build(tmp_path: Path) -> None:
    spec = module(tmp_path, 'name_input = "name"\n', name_default='""')
    assert normalize(spec, {})["name"] == ""
    with pytest.raises(ValidationError):
        normalize(spec, {"name": ""})  # given empty: still refused by the default rule


def test_gcp_labels_get_tfpilot_keys_in_a_form_gcp_accepts(tmp_path: Path) -> None:
    spec = module(tmp_path, 'tags_input = "labels"\ntags_format = "gcp-labels"\n', '"n"')
    labels = normalize(spec, {"labels": {"team": "web"}})["labels"]
    assert labels == {
        "team": "web",
        "tfpilot_request_id": "req_dev_mod_k3x9pq",
        "tfpilot_created_by": "alice_example_com",
    }
    with pytest.raises(ValidationError) as caught:
        normalize(spec, {"labels": {"tfpilot_request_id": "forged"}})
    assert caught.value.problems[0].rule == "reserved_tag"


def test_bad_naming_metadata_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"naming\.pattern"):
        module(tmp_path, 'name_input = "name"\n[naming]\npattern = "("\n')
    with pytest.raises(ConfigError, match="tags_format"):
        module(tmp_path, 'tags_format = "azure"\n')
