"""Request inputs checked by Terraform itself (validation blocks, with the module's messages), on
public module layouts of three providers (``public_modules/``: Cloud Posse, an Azure verified
module, terraform-google-modules), with the embedded engine and the ``terraform`` executable."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.catalog import terraform_check
from tfpilot_core.catalog.spec import ModuleSpec, load_module
from tfpilot_core.catalog.terraform_check import VariableChecker, variable_blocks
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import ValidationError
from tfpilot_core.interfaces import ModuleLocation

PUBLIC = Path(__file__).parent / "public_modules"
RID = "req_dev_pub_k3x9pq"
ENGINES = [None] + (["terraform"] if shutil.which("terraform") else [])


def module(name: str) -> ModuleSpec:
    return load_module(ModuleLocation(name=f"pub/{name}", path=PUBLIC / name))


@pytest.fixture(params=ENGINES, ids=lambda e: e or "embedded")
def checker(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> VariableChecker:
    """The check on (the suite turns it off), with one engine, as normalize_inputs uses it."""
    monkeypatch.setenv(terraform_check.SWITCH, "1")
    found = VariableChecker(request.param, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(terraform_check, "_default", found)
    return found


def normalize(spec: ModuleSpec, inputs: dict[str, Any]) -> dict[str, Any]:
    return normalize_inputs(spec, inputs, request_id=RID, server_tags={"tfpilot:request_id": RID})


def refusal(spec: ModuleSpec, inputs: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationError) as caught:
        normalize(spec, inputs)
    return [(p.field, p.rule, p.message) for p in caught.value.problems]


pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "name", ["cloudposse-null-label", "azure-avm-storage-account", "google-simple-bucket"]
)
def test_public_modules_accept_their_own_examples(name: str, checker: VariableChecker) -> None:
    spec = module(name)
    assert spec.examples
    for example in spec.examples:
        normalize(spec, dict(example.inputs))
        assert checker.last_skipped is None


def test_cloudposse_refusals_quote_the_module(checker: VariableChecker) -> None:
    spec = module("cloudposse-null-label")
    assert refusal(spec, {"name": "app", "id_length_limit": 3, "label_key_case": "camel"}) == [
        (
            "inputs.id_length_limit",
            "validation",
            "The id_length_limit must be >= 6 if supplied (not null), or 0 for unlimited length.",
        ),
        ("inputs.label_key_case", "validation", "Allowed values: `lower`, `title`, `upper`."),
    ]
    # Terraform's own null semantics on the way: null kept where the module tests for it.
    assert normalize(spec, {"name": "app", "id_length_limit": None})["id_length_limit"] is None
    assert refusal(spec, {"name": "app", "id_lengths": [8, None]}) == [
        ("inputs.id_lengths", "validation", "You cannot specify null in var.id_lengths.")
    ]


def test_azure_refusals_quote_the_module(checker: VariableChecker) -> None:
    spec = module("azure-avm-storage-account")
    base = {"resource_group_name": "rg"}
    assert refusal(spec, {**base, "name": "My_Storage", "lock": {"kind": "Everything"}}) == [
        (
            "inputs.lock",
            "validation",
            "The lock level must be one of: 'None', 'CanNotDelete', or 'ReadOnly'.",
        ),
        (
            "inputs.name",
            "validation",
            "The name must be between 3 and 24 characters, valid characters are lowercase "
            "letters and numbers.",
        ),
    ]
    problems = refusal(spec, {**base, "name": "stacct01", "diagnostic_settings": {"x": {}}})
    assert problems == [
        (
            "inputs.diagnostic_settings",
            "validation",
            "At least one of `workspace_resource_id`, `storage_account_resource_id`, must be set.",
        )
    ]
    # nullable = false with a default: null means the default, as in Terraform.
    assert normalize(spec, {**base, "name": "stacct01", "lock": None})["lock"] == {
        "name": None,
        "kind": "None",
    }


def test_google_conversions_as_terraform_makes_them(checker: VariableChecker) -> None:
    spec = module("google-simple-bucket")
    base = {"name": "assets", "project_id": "p", "location": "EU"}
    got = normalize(spec, {**base, "labels": None, "versioning": "0"})
    assert got["labels"] is None and got["versioning"] is False
    policy = normalize(
        spec, {**base, "retention_policy": {"is_locked": "1", "retention_period": "30"}}
    )
    assert policy["retention_policy"] == {"is_locked": True, "retention_period": 30}
    assert refusal(
        spec, {**base, "retention_policy": {"is_locked": True, "retention_period": " 3"}}
    )[0][:2] == ("inputs.retention_policy.retention_period", "type")


def test_a_validation_outside_the_variables_is_inconclusive_not_a_refusal(
    tmp_path: Path, checker: VariableChecker
) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "main.tf").write_text('locals {\n  allowed = ["a"]\n}\n')
    (directory / "variables.tf").write_text(
        'variable "x" {\n  type = string\n  validation {\n'
        "    condition     = contains(local.allowed, var.x)\n"
        '    error_message = "x must be allowed."\n  }\n}\n'
    )
    spec = load_module(ModuleLocation(name="t/m", path=directory))
    assert normalize(spec, {"x": "b"}) == {"x": "b"}
    assert checker.last_skipped is not None and "local" in checker.last_skipped


def test_variable_blocks_skip_braces_in_strings_heredocs_and_comments() -> None:
    text = (
        '# variable "no" { }\n'
        'variable "a" {\n  description = <<-EOT\n    a } brace\n  EOT\n'
        '  validation {\n    condition = var.a != "}${"{"}"\n    error_message = "x}"\n  }\n}\n'
        'resource "r" "s" {}\n'
        "variable b { type = string } # bare label\n"
    )
    blocks = variable_blocks([text])
    assert blocks.count("variable") == 2 and 'resource "r"' not in blocks
    assert blocks.strip().endswith("variable b { type = string }")


def test_use_engine_sets_the_engine_of_normalize_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terraform_check, "_default", None)
    terraform_check.use_engine("/no/such/terraform")
    assert terraform_check.default_checker().binary == "/no/such/terraform"
    monkeypatch.setenv(terraform_check.SWITCH, "1")
    # A missing engine makes the check inconclusive, never a refusal.
    spec = module("cloudposse-null-label")
    assert normalize(spec, {"id_length_limit": 3})["id_length_limit"] == 3
    assert "no Terraform" in str(terraform_check.default_checker().last_skipped)
