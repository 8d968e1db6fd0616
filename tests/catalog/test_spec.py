"""Loading a module: variables.tf + tfpilot.module.toml, disagreements, digest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tfpilot_core.catalog.spec import METADATA_FILE, ModuleSpec, Risk, load_module, module_digest
from tfpilot_core.catalog.types import Kind
from tfpilot_core.errors import ConfigError
from tfpilot_core.interfaces import ModuleLocation

ModuleFactory = Callable[..., Path]


def load(path: Path, name: str = "sandbox/bucket") -> ModuleSpec:
    return load_module(ModuleLocation(name=name, path=path, source="test"))


def test_load_bucket(make_module: ModuleFactory) -> None:
    spec = load(make_module())
    assert spec.name == "sandbox/bucket"
    assert spec.risk is Risk.LOW
    assert spec.category == "storage"
    assert spec.name_input == "name" and spec.tags_input == "tags"
    assert list(spec.inputs) == [
        "name",
        "tags",
        "region",
        "versioning",
        "size_gb",
        "lifecycle",
        "ports",
        "owner",
        "secret",
    ]
    name = spec.inputs["name"]
    assert name.required and name.immutable and name.label == "Bucket name"
    assert name.description == "The bucket name"  # quotes stripped
    assert spec.inputs["tags"].tftype.kind is Kind.MAP
    assert spec.inputs["lifecycle"].default == {"enabled": False, "days": 30}
    assert spec.inputs["region"].allowed == ["local-1", "local-2"]
    assert spec.inputs["owner"].read_only
    assert spec.inputs["secret"].sensitive and not spec.inputs["secret"].required
    assert spec.outputs == ["id", "token"] and spec.sensitive_outputs == ["token"]
    assert spec.examples[0].inputs == {"name": "logs"}
    assert len(spec.version) == 64


def test_schema_is_derived_from_variables(make_module: ModuleFactory) -> None:
    schema = load(make_module()).input_json_schema()
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    # Nullable (Terraform's default): null is a value the variable accepts.
    assert props["size_gb"] == {"type": ["number", "null"], "title": "Size gb", "default": 10}
    assert props["region"]["enum"] == ["local-1", "local-2", None]  # null: nullable
    assert props["owner"]["readOnly"] is True
    assert props["secret"]["writeOnly"] is True
    assert props["lifecycle"]["properties"]["days"] == {"type": ["number", "null"], "default": 30}
    assert props["name"]["maxLength"] == 56
    assert props["tags"]["propertyNames"] == {"not": {"pattern": "^tfpilot:"}}


def test_missing_metadata_means_defaults(make_module: ModuleFactory) -> None:
    spec = load(make_module(meta=None))
    assert spec.risk is Risk.MEDIUM and spec.name_input is None and spec.tags_input is None
    assert spec.inputs["name"].label == "Name"


def test_variable_without_type_is_any_and_heredoc_default(make_module: ModuleFactory) -> None:
    tf = 'variable "x" {}\nvariable "y" {\n  default = <<EOT\nhello\nEOT\n}\n'
    spec = load(make_module(tf=tf, meta=None, outputs=None))
    assert spec.inputs["x"].tftype.kind is Kind.ANY and spec.inputs["x"].required
    assert spec.inputs["y"].default == "hello\n"


@pytest.mark.parametrize(
    ("meta", "key"),
    [
        ("[inputs.nope]\nlabel = 'x'\n", "inputs.nope"),
        ("[inputs.region]\nallowed = ['local-2', 'local-3']\n", "inputs.region.allowed"),
        ("[inputs.size_gb]\nallowed = ['big']\n", "inputs.size_gb.allowed"),
        ("name_input = 'size_gb'\n", "name_input"),
        ("name_input = 'missing'\n", "name_input"),
        ("tags_input = 'region'\n", "tags_input"),
        ("tags_input = 'lifecycle'\n", "tags_input"),
        ("[inputs.secret]\nsensitive = false\n", "inputs.secret.sensitive"),
        ("colour = 'blue'\n", "colour"),
        ("[inputs.name]\nwidget = true\n", "inputs.name.widget"),
        ("[inputs.name]\nimmutable = 'yes'\n", "inputs.name.immutable"),
        ("risk = 'extreme'\n", "risk"),
        ("[inputs.name]\nread_only = true\n", "inputs.name.read_only"),
        ("[[examples]]\ntitle = 'x'\ninputs = { nope = 1 }\n", "examples[0].inputs.nope"),
        ("[[examples]]\ntitle = 'x'\ninputs = { size_gb = 'ten' }\n", "examples[0].inputs.size_gb"),
        ("[inputs.lifecycle]\nallowed = [1]\n", "inputs.lifecycle.allowed"),
    ],
)
def test_metadata_disagreement_names_both_files_and_key(
    make_module: ModuleFactory, meta: str, key: str
) -> None:
    directory = make_module(meta=meta)
    with pytest.raises(ConfigError) as info:
        load(directory)
    message = str(info.value)
    assert str(directory / METADATA_FILE) in message
    assert str(directory / "variables.tf") in message
    assert info.value.key == key
    assert repr(key) in message


def test_all_metadata_problems_are_reported(make_module: ModuleFactory) -> None:
    directory = make_module(meta="colour = 'blue'\n[inputs.nope]\nlabel = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert "colour" in str(info.value) and "inputs.nope" in str(info.value)


def test_broken_hcl_names_the_file(make_module: ModuleFactory) -> None:
    directory = make_module()
    (directory / "main.tf").write_text('resource "x" "y" {\n  a = \n')
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert str(directory / "main.tf") in str(info.value)


def test_broken_toml_names_the_file(make_module: ModuleFactory) -> None:
    directory = make_module(meta="risk = \n")
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert str(directory / METADATA_FILE) in str(info.value)


@pytest.mark.parametrize(
    ("tf", "key"),
    [
        ('variable "x" {\n  type = strng\n}\n', "variable.x.type"),
        ('variable "x" {\n  type = number\n  default = "ten"\n}\n', "variable.x.default"),
    ],
)
def test_bad_variables_are_config_errors(make_module: ModuleFactory, tf: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(make_module(tf=tf, meta=None))
    assert info.value.key == key


def test_duplicate_variable_across_files(make_module: ModuleFactory) -> None:
    directory = make_module(meta=None)
    (directory / "more.tf").write_text('variable "name" {\n  type = string\n}\n')
    with pytest.raises(ConfigError, match="declared twice"):
        load(directory)


def test_digest_tracks_files_but_not_terraform_dir(
    make_module: ModuleFactory, bucket_tf: str
) -> None:
    directory = make_module()
    first = module_digest(directory)
    assert module_digest(directory) == first
    (directory / ".terraform" / "providers").mkdir(parents=True)
    (directory / ".terraform" / "providers" / "p").write_bytes(b"binary")
    (directory / ".terraform.lock.hcl").write_text("# lock")
    (directory / "terraform.tfstate").write_text("{}")
    (directory / "terraform.tfstate.backup").write_text("{}")
    assert module_digest(directory) == first
    (directory / "variables.tf").write_text(bucket_tf + "\n# changed\n")
    second = module_digest(directory)
    assert second != first
    (directory / "sub").mkdir()
    (directory / "sub" / "main.tf").write_text("")
    assert module_digest(directory) != second
    assert load(directory).version == module_digest(directory)


def test_digest_depends_on_names_not_just_contents(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.tf").write_text("same")
    (b / "y.tf").write_text("same")
    assert module_digest(a) != module_digest(b)


def test_metadata_is_merged_not_required(make_module: ModuleFactory, bucket_meta: str) -> None:
    meta = bucket_meta.replace('risk = "low"', 'risk = "high"')
    assert load(make_module(meta=meta)).risk is Risk.HIGH
