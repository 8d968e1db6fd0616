"""Terraform type expressions: parsing, rendering, conversion, JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.catalog.types import (
    Attribute,
    Kind,
    TfType,
    TypeSyntaxError,
    coerce,
    coerce_into,
    parse_literal,
    parse_type,
    render_literal,
    to_json_schema,
)
from tfpilot_core.errors import FieldProblem, ValidationError

EXPRESSIONS = [
    "string",
    "${string}",
    "${map(string)}",
    "set(number)",
    "tuple([string, number, bool])",
    "any",
    "${list(object({a = string, b = optional(number, 3)}))}",
    "${object({enabled = optional(bool, false), days = optional(number, 30)})}",
    '${object({name = optional(string, "x y"), m = optional(map(string), {}),'
    " o = optional(object({q = number}), {q = 1}), neg = optional(number, -1.5),"
    ' l = optional(list(string), ["a", "b"]), "quoted key" = optional(bool, true)})}',
    # Raw HCL as written in a file: newlines instead of commas, comments.
    "object({\n  # the name\n  a = string\n  b = optional(list(string))\n})",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_parse_and_render_round_trip(expression: str) -> None:
    parsed = parse_type(expression)
    assert parse_type(parsed.expression()) == parsed
    assert parse_type(str(parsed)).expression() == parsed.expression()


def test_parse_structure() -> None:
    t = parse_type("${list(object({a = string, b = optional(number, 3)}))}")
    assert t.kind is Kind.LIST
    assert t.element is not None and t.element.kind is Kind.OBJECT
    b = t.element.attributes["b"]
    assert b.optional and b.default == 3 and b.type.kind is Kind.NUMBER
    assert not t.element.attributes["a"].optional
    assert parse_type(None) == TfType(Kind.ANY)
    assert parse_type("tuple([string, bool])").elements == (TfType(Kind.STRING), TfType(Kind.BOOL))


def test_optional_default_is_converted_to_attribute_type() -> None:
    t = parse_type(
        'object({a = optional(number, "5"), b = optional(object({c = optional(bool, true)}), {})})'
    )
    assert t.attributes["a"].default == 5
    assert t.attributes["b"].default == {"c": True}


@pytest.mark.parametrize(
    "bad",
    [
        "strin",
        "list(string",
        "map()",
        "object({a = })",
        "object({a = string, a = number})",
        "optional(string)",
        "list(string) extra",
        'object({a = optional(number, "x")})',
        "tuple(string)",
        "",
        "${}",
    ],
)
def test_parse_errors(bad: str) -> None:
    with pytest.raises(TypeSyntaxError):
        parse_type(bad)


def test_literals() -> None:
    assert parse_literal('{a = [1, 2.5, "x\\n"], "b c" = null, d = true}') == {
        "a": [1, 2.5, "x\n"],
        "b c": None,
        "d": True,
    }
    assert parse_literal("${1e3}") == 1000
    value = {"k": ["a", 1, -2.5, False, None, {"x y": "${not a template}"}]}
    assert parse_literal(render_literal(value)) == {
        "k": ["a", 1, -2.5, False, None, {"x y": "${not a template}"}]
    }


LIFECYCLE = parse_type("object({enabled = optional(bool, false), days = optional(number, 30)})")


@pytest.mark.parametrize(
    ("value", "expression", "expected"),
    [
        ("3", "number", 3),
        ("3.5", "number", 3.5),
        # Terraform's conversions (the engine agrees: tests/catalog/test_terraform_types.py).
        ("+3", "number", 3),
        (".5", "number", 0.5),
        ("5.", "number", 5),
        ("1", "bool", True),
        ("0", "bool", False),
        (1e21, "string", "1000000000000000000000"),
        (1e-7, "string", "0.0000001"),
        ({"a": 1, "b": "x"}, "map(any)", {"a": "1", "b": "x"}),
        (
            {"a": {"x": 1, "y": "s"}, "b": {"x": 2}},
            "map(map(any))",
            {"a": {"x": "1", "y": "s"}, "b": {"x": "2"}},
        ),
        ("1e3", "number", 1000),
        ("true", "bool", True),
        ("false", "bool", False),
        (3, "string", "3"),
        (2.5, "string", "2.5"),
        (4.0, "string", "4"),
        (True, "string", "true"),
        (["1", 2], "list(number)", [1, 2]),
        (["a", "b", "a"], "set(string)", ["a", "b"]),
        ({"a": 1}, "map(string)", {"a": "1"}),
        (["x", "2", "true"], "tuple([string, number, bool])", ["x", 2, True]),
        (
            {},
            "object({enabled = optional(bool, false), days = optional(number, 30)})",
            {"enabled": False, "days": 30},
        ),
        (
            {"days": "7", "enabled": None},
            "object({enabled = optional(bool, false), days = optional(number, 30)})",
            {"enabled": False, "days": 7},
        ),
        ({"a": [1, {"b": None}]}, "any", {"a": [1, {"b": None}]}),
        (None, "number", None),
    ],
)
def test_coerce(value: Any, expression: str, expected: Any) -> None:
    assert coerce(value, parse_type(expression), "inputs.x") == expected


def test_coerce_reports_all_problems_with_paths() -> None:
    t = parse_type("object({lifecycle = object({days = number}), ports = list(number), b = bool})")
    value = {"lifecycle": {"days": "soon", "extra": 1}, "ports": [1, 2, "x"], "b": 1, "zz": 0}
    with pytest.raises(ValidationError) as info:
        coerce(value, t, "inputs")
    found = {(p.field, p.rule) for p in info.value.problems}
    assert found == {
        ("inputs.zz", "unknown_key"),
        ("inputs.lifecycle.extra", "unknown_key"),
        ("inputs.lifecycle.days", "type"),
        ("inputs.ports[2]", "type"),
        ("inputs.b", "type"),
    }


@pytest.mark.parametrize(
    ("value", "expression"),
    [
        ("yes", "bool"),
        ("True", "bool"),
        (1, "bool"),
        (" 42 ", "number"),
        ("0x10", "number"),
        ({"a": 1, "b": True}, "map(any)"),
        (True, "number"),
        ("3 apples", "number"),
        ("nan", "number"),
        (float("inf"), "number"),
        ("1e999", "number"),
        ([1], "string"),
        ("a,b", "list(string)"),
        ({"a": 1}, "list(string)"),
        ([1, 2], "tuple([number])"),
        ({"a": {"b": 1}}, "map(string)"),
        ({"enabled": True, "unknown": 1}, "object({enabled = optional(bool, false)})"),
        ({}, "object({a = string})"),
        ({1: "x"}, "map(string)"),
        (object(), "any"),
    ],
)
def test_coerce_refuses(value: Any, expression: str) -> None:
    with pytest.raises(ValidationError) as info:
        coerce(value, parse_type(expression), "inputs.x")
    assert all(p.field.startswith("inputs.x") for p in info.value.problems)


def test_map_keys_in_paths_are_quoted_when_needed() -> None:
    problems: list[FieldProblem] = []
    coerce_into({"a b": [1]}, parse_type("map(string)"), "inputs.tags", problems)
    assert problems[0].field == 'inputs.tags["a b"]'


def test_json_schema() -> None:
    # Values inside collections and objects may be null, as in Terraform.
    schema = to_json_schema(parse_type("list(object({a = string, b = optional(number, 3)}))"))
    assert schema == {
        "type": "array",
        "items": {
            "type": ["object", "null"],
            "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"type": ["number", "null"], "default": 3},
            },
            "required": ["a"],
            "additionalProperties": False,
        },
    }
    assert to_json_schema(parse_type("set(bool)")) == {
        "type": "array",
        "items": {"type": ["boolean", "null"]},
        "uniqueItems": True,
    }
    assert to_json_schema(parse_type("map(any)")) == {"type": "object", "additionalProperties": {}}
    assert to_json_schema(parse_type("tuple([string])"))["prefixItems"] == [
        {"type": ["string", "null"]}
    ]


# -- property tests ---------------------------------------------------------------------------

_names = st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True) | st.text(min_size=1, max_size=6)
_primitive = st.sampled_from(
    [TfType(Kind.STRING), TfType(Kind.NUMBER), TfType(Kind.BOOL), TfType(Kind.ANY)]
)


def _extend(children: st.SearchStrategy[TfType]) -> st.SearchStrategy[TfType]:
    collection = st.builds(
        TfType, st.sampled_from([Kind.LIST, Kind.SET, Kind.MAP]), element=children
    )
    tuple_ = st.builds(
        lambda els: TfType(Kind.TUPLE, elements=tuple(els)), st.lists(children, max_size=3)
    )
    attribute = st.builds(lambda t, opt: Attribute(t, optional=opt), children, st.booleans())
    object_ = st.builds(
        lambda attrs: TfType(Kind.OBJECT, attributes=attrs),
        st.dictionaries(_names, attribute, max_size=3),
    )
    return collection | tuple_ | object_


types = st.recursive(_primitive, _extend, max_leaves=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(types)
def test_rendered_types_parse_back(t: TfType) -> None:
    assert parse_type(t.expression()) == t
    assert isinstance(to_json_schema(t), dict)


@given(types, json_values)
def test_coerce_only_raises_validation_error(t: TfType, value: Any) -> None:
    try:
        result = coerce(value, t, "inputs.v")
    except ValidationError as exc:
        assert exc.problems
        assert all(p.field.startswith("inputs.v") and p.rule for p in exc.problems)
    else:
        # Converting a converted value changes nothing (conversion is idempotent).
        assert coerce(result, t, "inputs.v") == result


@pytest.mark.parametrize("expression", ["number", "bool", "list(string)", "map(number)"])
def test_problems_never_echo_the_value(expression: str) -> None:
    # Inputs may be sensitive: messages describe the value's kind, never its content.
    with pytest.raises(ValidationError) as info:
        coerce("hunter2-secret", parse_type(expression), "inputs.password")
    assert "hunter2" not in str(info.value)
