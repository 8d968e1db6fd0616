"""``tfpilot modules init``: a starting tfpilot.module.toml from a module's variables, on public
module layouts (``public_modules/``); with a few lines added the module is in the catalog."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from click.testing import CliRunner

from tfpilot_core.catalog.init_metadata import starting_metadata
from tfpilot_core.catalog.spec import METADATA_FILE, load_module
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.interfaces import ModuleLocation

PUBLIC = Path(__file__).parent / "public_modules"


def fresh(tmp_path: Path, name: str) -> Path:
    """A copy of a public layout without its metadata file."""
    copy = tmp_path / name
    shutil.copytree(PUBLIC / name, copy)
    (copy / METADATA_FILE).unlink()
    return copy


def test_cloudposse_enums_and_tags_are_read(tmp_path: Path) -> None:
    data = tomllib.loads(starting_metadata(fresh(tmp_path, "cloudposse-null-label")))
    assert data["tags_input"] == "tags"
    assert data["inputs"]["label_key_case"]["allowed"] == ["lower", "title", "upper"]
    assert data["inputs"]["label_value_case"]["allowed"] == ["lower", "title", "upper", "none"]
    assert "name_input" not in data  # a decision left to a person (commented)


def test_gcp_labels_get_the_gcp_label_format(tmp_path: Path) -> None:
    directory = fresh(tmp_path, "google-simple-bucket")
    text = starting_metadata(directory)
    data = tomllib.loads(text)
    assert (data["tags_input"], data["tags_format"]) == ("labels", "gcp-labels")
    (directory / METADATA_FILE).write_text(text)
    spec = load_module(ModuleLocation(name="google/bucket", path=directory))
    rid = "req_dev_gcs_k3x9pq"
    inputs = normalize_inputs(
        spec,
        {"name": "assets", "project_id": "p", "location": "EU"},
        request_id=rid,
        server_tags={"tfpilot:request_id": rid},
    )
    assert inputs["labels"] == {"tfpilot_request_id": rid}


def test_init_then_a_few_lines_make_a_catalog_module(tmp_path: Path) -> None:
    directory = fresh(tmp_path, "azure-avm-storage-account")
    runner = CliRunner()
    result = runner.invoke(cli, ["modules", "init", str(directory)], obj=App())
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, ["modules", "init", str(directory)], obj=App())
    assert again.exit_code != 0 and "--force" in again.output
    with (directory / METADATA_FILE).open("a") as handle:  # the few lines a person adds
        handle.write(
            '\n[[examples]]\ntitle = "Default"\n'
            'inputs = { name = "stacct0001", resource_group_name = "rg-shop" }\n'
        )
    spec = load_module(ModuleLocation(name="azure/storage-account", path=directory))
    assert spec.tags_input == "tags" and spec.examples[0].name == "default"
    rid = "req_dev_sa_k3x9pq"
    inputs = normalize_inputs(
        spec,
        spec.examples[0].inputs,
        request_id=rid,
        server_tags={"tfpilot:request_id": rid},
    )
    assert inputs["tags"] == {"tfpilot:request_id": rid} and inputs["location"] is None


def test_sensitive_and_ephemeral_inputs_are_named(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" "this" {}\n')
    (tmp_path / "variables.tf").write_text(
        'variable "db_password" {\n  type = string\n}\n'
        'variable "api_token" {\n  type = string\n  sensitive = true\n}\n'
        'variable "session" {\n  type = string\n  ephemeral = true\n}\n'
    )
    text = starting_metadata(tmp_path)
    data = tomllib.loads(text)
    assert data["inputs"]["db_password"]["sensitive"] is True  # the name says secret
    assert "api_token" not in data.get("inputs", {})  # Terraform marks it already
    assert "# Sensitive in variables.tf (masked everywhere): api_token" in text
    assert "# Ephemeral in variables.tf (never stored in a plan or a file): session" in text
