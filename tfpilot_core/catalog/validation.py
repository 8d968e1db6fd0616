"""Request input normalisation: from what a user sent to the inputs a request stores.

:func:`normalize_inputs` applies every rule of a module's inputs and reports every problem of a
request together, in one :class:`~tfpilot_core.errors.ValidationError` whose problems name the
field (``inputs.<name>...``) and the rule:

``inputs_type``   the inputs are not an object with string keys
``unknown_key``   an input (or object attribute) the module does not have
``type``          a value that cannot be converted to the input's type
``required``      a required input (or object attribute) is missing
``allowlist``     a value outside the input's ``allowed`` list
``read_only``     a user tried to set a read-only input
``immutable``     an update tried to change an immutable input
``reserved_tag``  a user tag with the ``tfpilot:`` prefix
``name_pattern``  a name that breaks the naming rules (or is too long for its suffix)
``id_pattern``    the request id is malformed
``validation``    a ``validation`` block of the module's variable refused the value (checked by
                  Terraform itself, :mod:`~tfpilot_core.catalog.terraform_check`; the message is
                  the module's own)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import tfpilot_core.catalog.terraform_check as terraform_check
from tfpilot_core.errors import FieldProblem, ValidationError

from .ids import SUFFIX_LENGTH, request_suffix, validate_request_id
from .spec import MAX_NAME_LENGTH, InputSpec, ModuleSpec, Naming
from .types import Kind, coerce_into, field_path

__all__ = ["RESERVED_TAG_PREFIX", "normalize_inputs", "split_name"]

#: Tags with this prefix belong to the server; users can never set them.
RESERVED_TAG_PREFIX = "tfpilot:"

#: The longest base name a user may give: base + "-" + suffix fits in a DNS label.
MAX_BASE_NAME_LENGTH = MAX_NAME_LENGTH - 1 - SUFFIX_LENGTH
_NAME = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")


def split_name(value: str, request_id: str) -> str:
    """The base of a name: ``value`` without the request's ``-<suffix>`` if it carries it."""
    tail = "-" + request_suffix(request_id)
    return value[: -len(tail)] if value.endswith(tail) else value


def normalize_inputs(
    spec: ModuleSpec,
    raw_inputs: Mapping[str, Any] | None,
    *,
    previous: Mapping[str, Any] | None = None,
    request_id: str,
    server_tags: Mapping[str, str],
) -> dict[str, Any]:
    """Validate and normalise a request's inputs for ``spec``; return the inputs to store.

    * keys the module does not have are refused;
    * values are converted to their Terraform types (``"3"`` -> ``3``), object attribute defaults
      filled; missing inputs take their default, or on an update (``previous`` given) their
      previous value; a missing required input is refused; ``None`` means "not given";
    * allowlists are enforced; read-only inputs can never be set (a value equal to the current
      one is accepted, so a read-modify-write round trip works); on update immutable inputs cannot
      change;
    * the ``tags_input`` gets ``server_tags`` merged in, winning over user tags; users may not
      set any ``tfpilot:`` tag;
    * the ``name_input`` must be a lowercase name starting with a letter and gets the request
      id's suffix (``logs`` -> ``logs-k3x9pq``); a value already carrying the suffix (an update)
      keeps it, without doubling it.

    Every problem is reported together in one :class:`ValidationError`.
    """
    problems: list[FieldProblem] = []
    try:
        validate_request_id(request_id)
    except ValidationError as exc:
        # A bad id is a caller bug as much as bad input; report it with the rest.
        problems.extend(exc.problems)
        request_id = ""
    if raw_inputs is None:
        raw_inputs = {}
    if not isinstance(raw_inputs, Mapping) or not all(isinstance(k, str) for k in raw_inputs):
        raise ValidationError(
            [
                *problems,
                FieldProblem("inputs", "inputs_type", "must be an object with string keys"),
            ],
            subject="inputs",
        )

    for key in raw_inputs:
        if key not in spec.inputs:
            close = difflib.get_close_matches(key, list(spec.inputs), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(
                FieldProblem(
                    field_path("inputs", key),
                    "unknown_key",
                    f"is not an input of {spec.name}{hint}",
                )
            )

    result: dict[str, Any] = {}
    for name, input_spec in spec.inputs.items():
        path = field_path("inputs", name)
        given = raw_inputs.get(name)
        has_previous = previous is not None and name in previous
        current = previous[name] if previous is not None and has_previous else input_spec.default
        before = len(problems)
        if given is None and name in raw_inputs and not input_spec.read_only:
            # An explicit null, as Terraform reads it: kept where the variable is nullable;
            # with `nullable = false` the default, and refused when there is none.
            if input_spec.nullable and name not in (spec.tags_input, spec.name_input):
                result[name] = None
                continue
            if not input_spec.nullable and input_spec.required:
                problems.append(
                    FieldProblem(path, "required", "may not be null (the variable is not nullable)")
                )
                continue
            if not input_spec.nullable:
                given, current, has_previous = None, input_spec.default, False
        value = _normalize_one(spec, input_spec, given, current, has_previous, path, problems)
        if name == spec.tags_input:
            value = _merge_tags(value, given, server_tags, path, problems, spec.tags_format)
        elif name == spec.name_input and request_id and (given is not None or not has_previous):
            # New names get the suffix, including one taken from the module's default (names
            # must be unique); a previous value kept as is already carries it.
            value = _suffix_name(
                value, request_id, path, problems, spec.naming, from_default=given is None
            )
        if (
            input_spec.immutable
            and previous is not None
            and has_previous
            and given is not None
            and len(problems) == before
            and value != previous[name]
        ):
            problems.append(
                FieldProblem(path, "immutable", "cannot change after the request is created")
            )
        result[name] = value

    if not problems and terraform_check.enabled():
        # The module's own rules (validation blocks), evaluated by Terraform itself.
        problems = terraform_check.default_checker().check(spec, result)
    if problems:
        raise ValidationError(problems, subject=f"inputs for {spec.name}")
    return result


def _normalize_one(
    spec: ModuleSpec,
    input_spec: InputSpec,
    given: Any,
    current: Any,
    has_previous: bool,
    path: str,
    problems: list[FieldProblem],
) -> Any:
    """Convert, default and check one input (tags merging and name suffixing come after)."""
    if input_spec.read_only:
        if given is not None:
            found: list[FieldProblem] = []
            converted = coerce_into(given, input_spec.tftype, path, found)
            if found or converted != current:
                problems.append(
                    FieldProblem(path, "read_only", "is read-only and set by the module")
                )
        return current
    if given is None:
        if not has_previous and input_spec.required and input_spec.name != spec.tags_input:
            problems.append(FieldProblem(path, "required", "is required"))
        return current
    before = len(problems)
    value = coerce_into(given, input_spec.tftype, path, problems)
    if len(problems) == before and input_spec.allowed is not None:
        _check_allowlist(input_spec, value, path, problems)
    return value


def _check_allowlist(
    input_spec: InputSpec, value: Any, path: str, problems: list[FieldProblem]
) -> None:
    allowed = input_spec.allowed or []
    shown = ", ".join(repr(v) for v in allowed[:20])
    if input_spec.tftype.kind in (Kind.LIST, Kind.SET) and isinstance(value, list):
        for i, item in enumerate(value):
            if item is not None and item not in allowed:
                problems.append(
                    FieldProblem(field_path(path, i), "allowlist", f"must be one of {shown}")
                )
    elif value not in allowed:
        problems.append(FieldProblem(path, "allowlist", f"must be one of {shown}"))


#: GCP label keys and values: lowercase letters, digits, "_" and "-", at most 63 characters.
_LABEL_CHARS = re.compile(r"[^a-z0-9_-]")


def provider_tags(server_tags: Mapping[str, str], tags_format: str) -> dict[str, str]:
    """tfpilot's tags written in a form the provider accepts.

    ``tags`` keeps them as they are (``tfpilot:request_id``); ``gcp-labels`` writes keys and
    values GCP accepts (``tfpilot_request_id``, lowercase, other characters as ``_``, 63 at
    most), since a colon in a label key is refused by the provider at plan time.
    """
    if tags_format != "gcp-labels":
        return dict(server_tags)
    return {
        _LABEL_CHARS.sub("_", key.lower())[:63]: _LABEL_CHARS.sub("_", str(value).lower())[:63]
        for key, value in server_tags.items()
    }


def _reserved_prefix(tags_format: str) -> str:
    return "tfpilot_" if tags_format == "gcp-labels" else RESERVED_TAG_PREFIX


def _merge_tags(
    value: Any,
    given: Any,
    server_tags: Mapping[str, str],
    path: str,
    problems: list[FieldProblem],
    tags_format: str = "tags",
) -> Any:
    """User tags (without reserved keys) plus the server's tags, which win."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return value  # a type problem is already reported
    prefixes = {RESERVED_TAG_PREFIX, _reserved_prefix(tags_format)}
    if isinstance(given, Mapping):
        for key in given:
            if isinstance(key, str) and key.lower().startswith(tuple(prefixes)):
                problems.append(
                    FieldProblem(
                        field_path(path, key),
                        "reserved_tag",
                        f"tags starting with {_reserved_prefix(tags_format)!r} are set by "
                        "tfpilot only",
                    )
                )
    # Stale server tags from a previous revision are dropped; the current ones are added last.
    merged = {
        k: v
        for k, v in value.items()
        if not (isinstance(k, str) and k.lower().startswith(tuple(prefixes)))
    }
    merged.update(provider_tags(server_tags, tags_format))
    return merged


def _suffix_name(
    value: Any,
    request_id: str,
    path: str,
    problems: list[FieldProblem],
    naming: Naming,
    *,
    from_default: bool = False,
) -> Any:
    """Check a name and form it as the module says (by default: append the request's suffix,
    once)."""
    if not isinstance(value, str) or (value == "" and from_default):
        # A type problem is already reported; a module whose name defaults to "" builds it
        # from other inputs: a request without a name is the module's to handle.
        return value
    if naming != _DEFAULT_NAMING:
        return _module_name(value, request_id, path, problems, naming)
    base = split_name(value, request_id)
    if not _NAME.fullmatch(base):
        problems.append(
            FieldProblem(
                path,
                "name_pattern",
                "must start with a lowercase letter and contain only lowercase letters, digits"
                " and hyphens, not ending with a hyphen",
            )
        )
        return value
    if len(base) > MAX_BASE_NAME_LENGTH:
        problems.append(
            FieldProblem(
                path,
                "name_pattern",
                f"must be at most {MAX_BASE_NAME_LENGTH} characters (a {SUFFIX_LENGTH}-character"
                " suffix is added)",
            )
        )
        return value
    return f"{base}-{request_suffix(request_id)}"


_DEFAULT_NAMING = Naming()


def _module_name(
    value: str, request_id: str, path: str, problems: list[FieldProblem], naming: Naming
) -> str:
    """A name formed by the module's ``[naming]`` rules, checked against its pattern and length."""
    keep = next((s for s in naming.keep_suffixes if s and value.endswith(s)), "")
    core = value[: -len(keep)] if keep else value
    tail = naming.separator + request_suffix(request_id) if naming.suffix else ""
    base = core[: -len(tail)] if tail and core.endswith(tail) else core
    name = base + tail + keep
    if naming.pattern is not None and not re.fullmatch(naming.pattern, name):
        problems.append(
            FieldProblem(
                path,
                "name_pattern",
                f"{name!r} does not match the module's pattern "
                f"{naming.pattern}" + (" (the request suffix included)" if tail else ""),
            )
        )
    elif len(name) > naming.max_length:
        problems.append(
            FieldProblem(
                path,
                "name_pattern",
                f"must be at most {naming.max_length - len(tail) - len(keep)} characters"
                + (f" (a {len(tail)}-character suffix is added)" if tail else ""),
            )
        )
    return name
