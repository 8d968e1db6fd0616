"""Rendering a request as a JSON root module: determinism, and user values only in tfvars."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.errors import ConfigError, ValidationError
from tfpilot_core.interfaces import RunSpec
from tfpilot_core.terraform.render import (
    CONFIG_FILE,
    TFVARS_FILE,
    ModuleInterface,
    canonical_json,
    module_interface,
    normalize_source,
    render,
    rendered_digest,
)

HOSTILE = [
    '"}, "resource": {"x": {}}, "a": {"',
    '${file("/etc/passwd")}',
    "%{ for x in [1] }${x}%{ endfor }",
    "line\nbreak\r\n",
    'variable "x" { default = 1 }',
    "\\u0000 \\ \x00",
]


def config(spec: RunSpec, **kwargs: Any) -> dict[str, Any]:
    """The rendered main.tf.json, decoded."""
    parsed: dict[str, Any] = json.loads(render(spec, **kwargs).files[CONFIG_FILE])
    return parsed


def test_shape_of_the_root_module(make_spec: Callable[..., RunSpec], module_path: Path) -> None:
    """One module call with var references, variables, outputs, and the mirrored provider."""
    spec = make_spec({"name": "logs", "tags": {"team": "a"}, "region": None})
    rendered = render(spec)
    assert sorted(rendered.files) == [CONFIG_FILE, TFVARS_FILE]
    main = json.loads(rendered.files[CONFIG_FILE])
    assert main["module"] == {
        "this": {
            "source": str(module_path.resolve()),
            "name": "${var.name}",
            "tags": "${var.tags}",
        }
    }
    # A null input is not passed: the module's own default applies.
    assert main["variable"] == {"name": {}, "tags": {}}
    assert main["output"] == {
        "id": {"value": "${module.this.id}"},
        "name": {"value": "${module.this.name}"},
        "region": {"value": "${module.this.region}"},
    }
    assert main["terraform"] == {
        "required_providers": {"sandbox": {"source": "registry.terraform.io/tfpilot/sandbox"}}
    }
    assert "provider" not in main
    assert json.loads(rendered.files[TFVARS_FILE]) == {"name": "logs", "tags": {"team": "a"}}


def test_sensitive_inputs_and_outputs_are_marked(make_spec: Callable[..., RunSpec]) -> None:
    """Sensitive inputs (from the spec or the module) and outputs carry ``sensitive``."""
    spec = make_spec({"name": "logs", "tags": {"k": "v"}}, sensitive_inputs=("tags",))
    interface = ModuleInterface(
        inputs=("name", "tags"),
        sensitive_inputs=frozenset({"name"}),
        outputs=("id", "secret"),
        sensitive_outputs=frozenset({"secret"}),
    )
    main = config(spec, interface=interface)
    assert main["variable"] == {"name": {"sensitive": True}, "tags": {"sensitive": True}}
    assert main["output"]["secret"] == {"value": "${module.this.secret}", "sensitive": True}
    assert main["output"]["id"] == {"value": "${module.this.id}"}
    assert "terraform" not in main  # no provider of this interface is mirrored


def test_rendering_is_deterministic(make_spec: Callable[..., RunSpec]) -> None:
    """The same request renders the same bytes whatever the order of its inputs."""
    a = render(make_spec({"name": "logs", "tags": {"b": "2", "a": "1"}, "versioning": False}))
    b = render(make_spec({"versioning": False, "tags": {"a": "1", "b": "2"}, "name": "logs"}))
    assert a.files == b.files
    assert a.rendered_digest() == b.rendered_digest() == rendered_digest(dict(a.files))
    c = render(make_spec({"name": "logs", "tags": {"a": "1", "b": "3"}, "versioning": False}))
    assert c.rendered_digest() != a.rendered_digest()
    assert a.files[CONFIG_FILE] == c.files[CONFIG_FILE]  # only values changed
    assert a.files[TFVARS_FILE].endswith(b"\n")


def test_digest_framing_is_unambiguous() -> None:
    """Moving bytes from one file to the next changes the digest."""
    assert rendered_digest({"a": b"xy", "b": b"z"}) != rendered_digest({"a": b"x", "b": b"yz"})


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_only_reach_the_tfvars_file(
    make_spec: Callable[..., RunSpec], value: str
) -> None:
    """Quotes, ``${}``, directives, newlines, HCL: config bytes do not depend on values at all."""
    plain = render(make_spec({"name": "logs", "tags": {"k": "v"}}))
    hostile = render(make_spec({"name": "logs", "tags": {value: value, "k": value}}))
    assert hostile.files[CONFIG_FILE] == plain.files[CONFIG_FILE]
    assert json.loads(hostile.files[TFVARS_FILE])["tags"] == {value: value, "k": value}


# make_spec only builds objects, so sharing it between examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tags=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5),
    name=st.text(max_size=30),
)
def test_any_value_round_trips_through_tfvars(
    make_spec: Callable[..., RunSpec], tags: dict[str, str], name: str
) -> None:
    """Whatever the strings, tfvars decodes to exactly the inputs and the config is unchanged."""
    rendered = render(make_spec({"name": name, "tags": tags}))
    assert json.loads(rendered.files[TFVARS_FILE]) == {"name": name, "tags": tags}
    reference = render(make_spec({"name": "x", "tags": {}}))
    assert rendered.files[CONFIG_FILE] == reference.files[CONFIG_FILE]


def test_unknown_and_malformed_input_names_are_refused(
    make_spec: Callable[..., RunSpec],
) -> None:
    """Input names become JSON keys of the config: only the module's own, valid identifiers."""
    with pytest.raises(ValidationError) as caught:
        render(make_spec({"name": "logs", "extra": 1, 'x"}': 2}))
    fields = {p.field: p.rule for p in caught.value.problems}
    assert fields == {"inputs.extra": "unknown_input", 'inputs.x"}': "identifier"}


def test_values_json_cannot_carry_are_refused(make_spec: Callable[..., RunSpec]) -> None:
    """NaN and infinity have no exact JSON form."""
    with pytest.raises(ValidationError, match="cannot be written as JSON"):
        render(make_spec({"name": "logs", "tags": {"x": float("nan")}}))


def test_backend_and_provider_blocks(make_spec: Callable[..., RunSpec]) -> None:
    """The backend gets per-request placeholders filled; provider blocks come from settings."""
    spec = make_spec({"name": "logs"})
    main = config(
        spec,
        backend={"s3": {"bucket": "state", "key": "tfpilot/{environment}/{request_id}.tfstate"}},
        providers={"aws": {"region": "eu-west-1"}},
    )
    assert main["terraform"]["backend"] == {
        "s3": {"bucket": "state", "key": f"tfpilot/dev/{spec.request.id}.tfstate"}
    }
    assert main["provider"] == {"aws": {"region": "eu-west-1"}}
    with pytest.raises(ConfigError, match="exactly one backend"):
        render(spec, backend={"s3": {}, "gcs": {}})


def test_module_interface_of_the_sandbox_bucket(module_path: Path) -> None:
    """Inputs, outputs and providers read from the module's files."""
    found = module_interface(module_path, "v1")
    assert set(found.inputs) == {"name", "region", "tags", "versioning"}
    assert found.outputs == ("id", "name", "region")
    assert found.providers == {"sandbox": "registry.terraform.io/tfpilot/sandbox"}


def test_canonical_json_and_sources() -> None:
    """Sorted keys, UTF-8, newline; provider addresses normalised or refused."""
    assert canonical_json({"b": 1, "a": "é"}) == b'{\n  "a": "\xc3\xa9",\n  "b": 1\n}\n'
    assert normalize_source("tfpilot/sandbox") == "registry.terraform.io/tfpilot/sandbox"
    assert normalize_source("example.com/Ns/t") == "example.com/ns/t"
    with pytest.raises(ConfigError):
        normalize_source('x"/y')
