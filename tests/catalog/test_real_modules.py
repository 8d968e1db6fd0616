"""The modules shipped in this repository load, and their schemas come from their variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfpilot_core.catalog import Catalog, normalize_inputs
from tfpilot_core.catalog.modules_dir import ModulesDirSource
from tfpilot_core.catalog.types import nullable_schema, to_json_schema

REPO = Path(__file__).resolve().parents[2]
ROOTS = {
    "modules_dir": REPO / "modules",
    "sandbox": REPO / "plugins" / "sandbox" / "tfpilot_sandbox" / "modules",
}
SOURCES = {name: ModulesDirSource([root], source=name) for name, root in ROOTS.items()}
LOCATIONS = [(name, loc) for name, source in SOURCES.items() for loc in source.modules()]
VARIABLE = re.compile(r'^variable\s+"([A-Za-z0-9_-]+)"', re.MULTILINE)

pytestmark = pytest.mark.skipif(not LOCATIONS, reason="no modules in this checkout")


@pytest.mark.parametrize(
    ("source", "name"), [(s, loc.name) for s, loc in LOCATIONS], ids=lambda v: str(v)
)
def test_module_loads_with_schema_from_variables(source: str, name: str) -> None:
    catalog = Catalog([(s, loc) for s, loc in LOCATIONS if s == source])
    spec = catalog.get(name)
    declared = [
        m.group(1)
        for tf in sorted(spec.path.glob("*.tf"))
        for m in VARIABLE.finditer(tf.read_text())
    ]
    schema = spec.input_json_schema()
    assert list(schema["properties"]) == declared
    for input_name, input_spec in spec.inputs.items():
        derived = to_json_schema(input_spec.tftype)
        if input_spec.nullable and input_name != spec.name_input:
            derived = nullable_schema(derived)  # Terraform accepts null for it
        assert schema["properties"][input_name].get("type") == derived.get("type")
    assert set(schema.get("required", [])) <= set(declared)
    assert len(spec.version) == 64


@pytest.mark.parametrize(
    ("source", "name"), [(s, loc.name) for s, loc in LOCATIONS], ids=lambda v: str(v)
)
def test_module_examples_are_valid_requests(source: str, name: str) -> None:
    catalog = Catalog([(s, loc) for s, loc in LOCATIONS if s == source])
    spec = catalog.get(name)
    for example in spec.examples:
        normalize_inputs(
            spec,
            example.inputs,
            request_id="req_dev_example_k3x9pq",
            server_tags={"tfpilot:request_id": "req_dev_example_k3x9pq"},
        )
