"""Terraform type constraints: parsing, conversion of input values, and JSON Schema.

python-hcl2 (8.x) returns a variable's ``type`` as an expression string, such as ``string``,
``${map(string)}`` or ``${object({days = optional(number, 30)})}``. :func:`parse_type` turns such
a string into a :class:`TfType`; :func:`coerce` converts a user's value to that type the way
Terraform would (``"3"`` -> ``3``, ``"true"`` -> ``True``, ``3`` -> ``"3"``, object attribute
defaults filled in), collecting every problem as a
:class:`~tfpilot_core.errors.FieldProblem` with a readable path (``inputs.lifecycle.days``,
``inputs.ports[2]``).

This module is pure Python (no hcl2 import) so that it stays cheap to import.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfpilot_core.errors import FieldProblem, ValidationError

__all__ = [
    "Attribute",
    "Kind",
    "TfType",
    "TypeSyntaxError",
    "coerce",
    "coerce_into",
    "field_path",
    "nullable_schema",
    "parse_literal",
    "parse_type",
    "render_literal",
    "to_json_schema",
]


class Kind(enum.StrEnum):
    """The kinds of Terraform type."""

    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"
    ANY = "any"
    LIST = "list"
    SET = "set"
    MAP = "map"
    TUPLE = "tuple"
    OBJECT = "object"


_PRIMITIVES = {Kind.STRING, Kind.NUMBER, Kind.BOOL, Kind.ANY}
_COLLECTIONS = {Kind.LIST, Kind.SET, Kind.MAP}


@dataclass(frozen=True)
class Attribute:
    """One attribute of an object type.

    ``optional`` attributes may be left out; when left out (or null) they take ``default`` (which
    is ``None`` when ``optional(T)`` has no second argument).
    """

    type: TfType
    optional: bool = False
    default: Any = None


@dataclass(frozen=True)
class TfType:
    """A parsed Terraform type constraint.

    ``element`` is set for list/set/map, ``elements`` for tuple, ``attributes`` for object (in
    declaration order).
    """

    kind: Kind
    element: TfType | None = None
    elements: tuple[TfType, ...] = ()
    attributes: dict[str, Attribute] = field(default_factory=dict)

    @property
    def is_primitive(self) -> bool:
        """True for string, number, bool and any."""
        return self.kind in _PRIMITIVES

    def expression(self) -> str:
        """The canonical Terraform expression for this type (``map(string)``)."""
        if self.kind in _PRIMITIVES:
            return self.kind.value
        if self.kind in _COLLECTIONS:
            assert self.element is not None
            return f"{self.kind.value}({self.element.expression()})"
        if self.kind is Kind.TUPLE:
            return "tuple([" + ", ".join(e.expression() for e in self.elements) + "])"
        parts = []
        for name, attr in self.attributes.items():
            key = name if _IDENT.fullmatch(name) else _quote(name)
            inner = attr.type.expression()
            if attr.optional:
                if attr.default is None:
                    inner = f"optional({inner})"
                else:
                    inner = f"optional({inner}, {render_literal(attr.default)})"
            parts.append(f"{key} = {inner}")
        return "object({" + ", ".join(parts) + "})"

    def __str__(self) -> str:
        return self.expression()


ANY = TfType(Kind.ANY)
STRING = TfType(Kind.STRING)


class TypeSyntaxError(ValueError):
    """A type constraint or literal that this parser cannot read."""


# ---------------------------------------------------------------------------------------------
# Tokenizer and parser (a small recursive-descent parser: types and literal values only)
# ---------------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
    |(?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<punct>[()\[\]{},=:])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def unescape_string(body: str) -> str:
    """Decode the escapes of an HCL quoted string's body (without the quotes)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt == "U" and re.fullmatch(r"[0-9a-fA-F]{8}", body[i + 2 : i + 10]):
            out.append(chr(int(body[i + 2 : i + 10], 16)))
            i += 10
        else:
            out.append(ch)
            i += 1
    text = "".join(out)
    try:
        # \uD83D\uDE00-style surrogate pairs (as JSON writes them) make one character.
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text


def _string_token(token: str) -> str:
    # "$${" and "%%{" are HCL's escapes for a literal "${" and "%{".
    return unescape_string(token[1:-1]).replace("$${", "${").replace("%%{", "%{")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TypeSyntaxError(f"unexpected {text[pos : pos + 10]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append((kind, m.group()))
    return tokens


def _strip_template(text: str) -> str:
    # hcl2 8.x wraps non-trivial expressions as "${...}"; bare keywords (string, any) come as is.
    text = text.strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].strip()
    return text


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise TypeSyntaxError(f"unexpected end of {self.text!r}")
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        kind, got = self.next()
        if got != value or kind not in ("punct", "ident"):
            raise TypeSyntaxError(f"expected {value!r}, got {got!r} in {self.text!r}")

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "punct" and tok[1] == value:
            self.pos += 1
            return True
        return False

    def done(self) -> None:
        tok = self.peek()
        if tok is not None:
            raise TypeSyntaxError(f"unexpected {tok[1]!r} in {self.text!r}")

    # type := primitive | list(T) | set(T) | map(T) | tuple([T, ...]) | object({k = A, ...})
    def type_(self) -> TfType:
        kind, word = self.next()
        if kind != "ident":
            raise TypeSyntaxError(f"expected a type, got {word!r} in {self.text!r}")
        if word in ("string", "number", "bool", "any"):
            return TfType(Kind(word))
        if word in ("list", "set", "map"):
            self.expect("(")
            element = self.type_()
            self.expect(")")
            return TfType(Kind(word), element=element)
        if word == "tuple":
            self.expect("(")
            self.expect("[")
            elements: list[TfType] = []
            while not self.accept("]"):
                elements.append(self.type_())
                if not self.accept(","):
                    self.expect("]")
                    break
            self.expect(")")
            return TfType(Kind.TUPLE, elements=tuple(elements))
        if word == "object":
            self.expect("(")
            self.expect("{")
            attributes: dict[str, Attribute] = {}
            while not self.accept("}"):
                name = self.key()
                if name in attributes:
                    raise TypeSyntaxError(f"attribute {name!r} declared twice in {self.text!r}")
                if not self.accept("="):
                    self.expect(":")
                attributes[name] = self.attribute()
                self.accept(",")  # commas are optional between attributes (newlines separate)
            self.expect(")")
            return TfType(Kind.OBJECT, attributes=attributes)
        raise TypeSyntaxError(f"unknown type {word!r} in {self.text!r}")

    def attribute(self) -> Attribute:
        tok = self.peek()
        if tok is not None and tok == ("ident", "optional"):
            self.next()
            self.expect("(")
            inner = self.type_()
            default: Any = None
            if self.accept(","):
                literal = self.literal()
                # The default is converted to the attribute's type, as Terraform does.
                problems: list[FieldProblem] = []
                default = coerce_into(literal, inner, "default", problems)
                if problems:
                    raise TypeSyntaxError(
                        f"default {render_literal(literal)} does not fit {inner}: {problems[0]}"
                    )
            self.expect(")")
            return Attribute(inner, optional=True, default=default)
        return Attribute(self.type_())

    def key(self) -> str:
        kind, word = self.next()
        if kind == "ident":
            return word
        if kind == "string":
            return _string_token(word)
        raise TypeSyntaxError(f"expected an attribute name, got {word!r} in {self.text!r}")

    # literal := number | string | true | false | null | [lit, ...] | {key = lit, ...}
    def literal(self) -> Any:
        kind, word = self.next()
        if kind == "number":
            return _number(word)
        if kind == "string":
            return _string_token(word)
        if kind == "ident":
            if word in ("true", "false"):
                return word == "true"
            if word == "null":
                return None
            raise TypeSyntaxError(f"{word!r} is not a literal value in {self.text!r}")
        if word == "[":
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.literal())
                if not self.accept(","):
                    self.expect("]")
                    break
            return items
        if word == "{":
            obj: dict[str, Any] = {}
            while not self.accept("}"):
                name = self.key()
                if not self.accept("="):
                    self.expect(":")
                obj[name] = self.literal()
                self.accept(",")
            return obj
        raise TypeSyntaxError(f"unexpected {word!r} in {self.text!r}")


def _number(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise TypeSyntaxError(f"{text!r} is not a finite number")
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def parse_type(expression: str | None) -> TfType:
    """Parse a Terraform type constraint as python-hcl2 returns it.

    ``None`` (a variable without ``type``) is ``any``, as in Terraform. Raises
    :class:`TypeSyntaxError` for anything else that is not a type.
    """
    if expression is None:
        return ANY
    parser = _Parser(_strip_template(expression))
    result = parser.type_()
    parser.done()
    return result


def parse_literal(text: str) -> Any:
    """Parse a literal HCL value (number, string, bool, null, list, object) into Python."""
    parser = _Parser(_strip_template(text))
    result = parser.literal()
    parser.done()
    return result


_QUOTE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(text: str) -> str:
    """An HCL quoted string (only HCL's escapes; "${" and "%{" escaped so they stay literal)."""
    out = []
    for ch in text:
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def render_literal(value: Any) -> str:
    """Render a Python value as an HCL literal (the inverse of :func:`parse_literal`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        parts = []
        for k, v in value.items():
            key = k if _IDENT.fullmatch(k) else _quote(k)
            parts.append(f"{key} = {render_literal(v)}")
        return "{" + ", ".join(parts) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


# ---------------------------------------------------------------------------------------------
# Conversion of values
# ---------------------------------------------------------------------------------------------


def field_path(base: str, key: str | int) -> str:
    """Extend a field path: ``a.b`` for names, ``a[2]`` for indexes, ``a["x y"]`` otherwise."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENT.fullmatch(key):
        return f"{base}.{key}" if base else key
    return f"{base}[{json.dumps(key)}]"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


#: The strings Terraform converts to a number (cty parses them as a decimal ``big.Float``): a sign,
#: digits with an optional point (``5.``, ``.5``), an exponent. No surrounding spaces (``" 3"`` is
#: refused), no hex, no underscores. (Terraform also reads ``Inf``; tfpilot refuses it: a stored
#: request is JSON, which has no infinity.)
_NUMBER_STRING = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: The strings Terraform converts to a bool.
_BOOL_STRINGS = {"true": True, "false": False, "1": True, "0": False}


def _number_to_string(value: int | float) -> str:
    """A number as Terraform writes it in a string: every digit, never an exponent
    (``1e21`` -> ``"1000000000000000000000"``, ``1e-7`` -> ``"0.0000001"``)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    from decimal import Decimal

    # repr() is the shortest text that reads back as this float: the number the user wrote.
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def coerce_into(value: Any, tftype: TfType, path: str, problems: list[FieldProblem]) -> Any:
    """Convert ``value`` to ``tftype``, appending every problem found to ``problems``.

    Returns the converted value (or the value as given where it could not be converted).
    ``None`` (null) is accepted for every type, as Terraform does for nullable values; optional
    object attributes that are missing or null take their default.
    """

    def fail(message: str, rule: str = "type") -> Any:
        problems.append(FieldProblem(path or "value", rule, message))
        return value

    kind = tftype.kind
    if value is None:
        return None
    if kind is Kind.ANY:
        return _plain(value, path, problems)
    if kind is Kind.STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return fail("must be a finite number")
            try:
                return _number_to_string(value)
            except ValueError:  # an int too long for str() (Python's digit limit)
                return fail("number is too large")
        return fail(f"must be a string, got {_describe(value)}")
    if kind is Kind.NUMBER:
        if isinstance(value, bool):
            return fail("must be a number, got a bool")
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                return fail("must be a finite number")
            return value
        if isinstance(value, str):
            text = value
            if _NUMBER_STRING.fullmatch(text):
                try:
                    return _number(text.lstrip("+"))
                except (TypeSyntaxError, ValueError, OverflowError):
                    return fail("must be a finite number of reasonable size")
            return fail("must be a number, got a string that is not one")
        return fail(f"must be a number, got {_describe(value)}")
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in _BOOL_STRINGS:
            return _BOOL_STRINGS[value]
        return fail(f"must be true or false, got {_describe(value)}")
    if kind in (Kind.LIST, Kind.SET, Kind.TUPLE):
        if not isinstance(value, list | tuple):
            return fail(f"must be a list, got {_describe(value)}")
        if kind is Kind.TUPLE:
            if len(value) != len(tftype.elements):
                return fail(f"must have exactly {len(tftype.elements)} element(s)")
            return [
                coerce_into(v, t, field_path(path, i), problems)
                for i, (v, t) in enumerate(zip(value, tftype.elements, strict=True))
            ]
        assert tftype.element is not None
        items = [
            coerce_into(v, tftype.element, field_path(path, i), problems)
            for i, v in enumerate(value)
        ]
        items = _unify(items, tftype.element, path, problems)
        if kind is Kind.SET:
            # Sets have no duplicates; keep the first occurrence so the order stays the user's.
            unique: list[Any] = []
            for item in items:
                if item not in unique:
                    unique.append(item)
            items = unique
        return items
    if not isinstance(value, Mapping):
        return fail(f"must be an object, got {_describe(value)}")
    bad_keys = [k for k in value if not isinstance(k, str)]
    if bad_keys:
        return fail("object keys must be strings")
    if kind is Kind.MAP:
        assert tftype.element is not None
        converted = {
            k: coerce_into(v, tftype.element, field_path(path, k), problems)
            for k, v in value.items()
        }
        unified = _unify(list(converted.values()), tftype.element, path, problems)
        return dict(zip(converted, unified, strict=True))
    result: dict[str, Any] = {}
    for key in value:
        if key not in tftype.attributes:
            problems.append(
                FieldProblem(
                    field_path(path, key),
                    "unknown_key",
                    "is not an attribute of this object (expected one of: "
                    + ", ".join(tftype.attributes)
                    + ")",
                )
            )
    for name, attr in tftype.attributes.items():
        sub = field_path(path, name)
        given = value.get(name)
        if given is None and attr.optional:
            # The default was converted when the type was parsed; copy so callers can't share it.
            result[name] = _copy(attr.default)
        elif name not in value:
            problems.append(FieldProblem(sub, "required", "is required"))
        else:
            result[name] = coerce_into(given, attr.type, sub, problems)
    return result


def _any_leaves(value: Any, tftype: TfType, out: list[Any]) -> bool:
    """Collect the values at ``any`` positions of ``tftype`` (through nested list/set/map);
    False when ``tftype`` has no such position this function follows."""
    if tftype.kind is Kind.ANY:
        out.append(value)
        return True
    if tftype.kind in _COLLECTIONS and tftype.element is not None:
        children = value.values() if isinstance(value, dict) else value
        if not isinstance(children, list | type({}.values())):
            return True  # null or a refused value: nothing to unify
        found = True
        for child in children:
            found = _any_leaves(child, tftype.element, out) and found
        return found
    return False


def _unify(items: list[Any], element: TfType, path: str, problems: list[FieldProblem]) -> list[Any]:
    """The elements of a collection whose element type holds ``any``, made one type as Terraform
    makes them: the ``any`` values of every element share one type. Where they are primitives of
    different types, a string among them makes every number and bool a string
    (``{"a": 1, "b": "x"}`` -> ``{"a": "1", "b": "x"}``); numbers with bools cannot be unified.
    Structured values at ``any`` positions are kept as given."""
    leaves: list[Any] = []
    if not items or not _any_leaves(items, TfType(Kind.LIST, element=element), leaves):
        return items
    kinds = {_primitive_kind(v) for v in leaves if v is not None}
    if len(kinds) <= 1 or None in kinds:
        return items  # one type already, or structures (kept as given)
    if Kind.STRING not in kinds:
        problems.append(
            FieldProblem(path or "value", "type", "all elements must have the same type")
        )
        return items

    def to_string(value: Any, tftype: TfType) -> Any:
        if tftype.kind is Kind.ANY:
            return coerce_into(value, STRING, path, problems)
        if isinstance(value, dict) and tftype.element is not None:
            return {k: to_string(v, tftype.element) for k, v in value.items()}
        if isinstance(value, list) and tftype.element is not None:
            return [to_string(v, tftype.element) for v in value]
        return value

    return [to_string(item, element) for item in items]


def _primitive_kind(value: Any) -> Kind | None:
    if isinstance(value, bool):
        return Kind.BOOL
    if isinstance(value, int | float):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _plain(value: Any, path: str, problems: list[FieldProblem]) -> Any:
    """Check that an ``any`` value is plain JSON data (what a tfvars.json file can hold)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(FieldProblem(path, "type", "must be a finite number"))
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, field_path(path, i), problems) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            problems.append(FieldProblem(path, "type", "object keys must be strings"))
            return value
        return {k: _plain(v, field_path(path, k), problems) for k, v in value.items()}
    problems.append(FieldProblem(path, "type", f"{_describe(value)} is not a JSON value"))
    return value


def coerce(value: Any, tftype: TfType, path: str) -> Any:
    """Convert ``value`` to ``tftype`` like Terraform; one ValidationError lists every problem."""
    problems: list[FieldProblem] = []
    result = coerce_into(value, tftype, path, problems)
    if problems:
        raise ValidationError(problems)
    return result


# ---------------------------------------------------------------------------------------------
# JSON Schema
# ---------------------------------------------------------------------------------------------


def nullable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` also allowing null (``"type": ["string", "null"]``, null added to an enum)."""
    if not schema:
        return schema  # {} allows everything already
    result = dict(schema)
    kind = result.get("type")
    if isinstance(kind, str):
        result["type"] = [kind, "null"]
    elif isinstance(kind, list):
        result["type"] = kind if "null" in kind else [*kind, "null"]
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in result and None not in result["enum"]:
        result["enum"] = [*result["enum"], None]
    return result


def to_json_schema(tftype: TfType) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) describing values of ``tftype`` after conversion.

    As in Terraform, every value *inside* a collection, tuple or object may be null; the value
    itself is listed without null: the input says whether it is nullable
    (:func:`nullable_schema`).
    """
    return _schema(tftype)


def _schema(tftype: TfType) -> dict[str, Any]:
    kind = tftype.kind
    if kind is Kind.ANY:
        return {}
    if kind is Kind.STRING:
        return {"type": "string"}
    if kind is Kind.NUMBER:
        return {"type": "number"}
    if kind is Kind.BOOL:
        return {"type": "boolean"}
    if kind in (Kind.LIST, Kind.SET):
        assert tftype.element is not None
        schema: dict[str, Any] = {
            "type": "array",
            "items": nullable_schema(_schema(tftype.element)),
        }
        if kind is Kind.SET:
            schema["uniqueItems"] = True
        return schema
    if kind is Kind.MAP:
        assert tftype.element is not None
        return {"type": "object", "additionalProperties": nullable_schema(_schema(tftype.element))}
    if kind is Kind.TUPLE:
        n = len(tftype.elements)
        return {
            "type": "array",
            "prefixItems": [nullable_schema(_schema(e)) for e in tftype.elements],
            "items": False,
            "minItems": n,
            "maxItems": n,
        }
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, attr in tftype.attributes.items():
        prop = nullable_schema(_schema(attr.type))
        if attr.optional:
            if attr.default is not None:
                prop["default"] = attr.default
        else:
            required.append(name)
        properties[name] = prop
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema
