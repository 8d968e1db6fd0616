"""A catalog module's specification: its inputs (from ``*.tf``) merged with ``tfpilot.module.toml``.

The Terraform files are the source of truth for what inputs exist and their types; the metadata
file only adds what Terraform cannot say (labels, risk, allowlists, which input carries the name).
Metadata that disagrees with the Terraform files is a :class:`~tfpilot_core.errors.ConfigError`
naming both files and the key, found when the catalog loads rather than when a user first trips
over it.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import threading
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

import tfpilot_core.parse_cache as parse_cache
from tfpilot_core.errors import ConfigError, FieldProblem
from tfpilot_core.locations import ModuleLocation

from .types import (
    Kind,
    TfType,
    TypeSyntaxError,
    coerce_into,
    field_path,
    nullable_schema,
    parse_literal,
    parse_type,
    to_json_schema,
    unescape_string,
)

__all__ = [
    "METADATA_FILE",
    "Example",
    "InputSpec",
    "ModuleSpec",
    "Risk",
    "VariableValidation",
    "example_name",
    "load_module",
    "module_digest",
]

#: The metadata file read from every module directory (optional).
METADATA_FILE = "tfpilot.module.toml"

#: Longest resource name a module's name input may produce (DNS label length).
MAX_NAME_LENGTH = 63


class Risk(enum.StrEnum):
    """How much damage a module can do; policy and approval rules may depend on it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class _Model(BaseModel):
    # defer_build: built when first validated, not at import (read commands that never load a
    # module spec import this module through the kernel, and paid for every schema).
    model_config = ConfigDict(extra="forbid", defer_build=True)


class VariableValidation(_Model):
    """A ``validation`` block of a variable, kept as text (Terraform evaluates it at plan time)."""

    condition: str
    error_message: str = ""


class Example(_Model):
    """An example request for a module (shown in docs and the CLI, checked when loading).

    ``name`` is what ``tfpilot catalog request MODULE --example NAME`` selects (default: the
    title, lowercased, non-alphanumerics as hyphens). ``security_defaults`` names the security
    defaults (policy rule ids) the example keeps; ``opt_outs`` the ones it may be opted out of
    (each opt-out still needs a justification on the request).
    """

    title: str
    name: str = ""
    description: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    security_defaults: list[str] = Field(default_factory=list)
    opt_outs: list[str] = Field(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        """Derive the name from the title when none is given."""
        if not self.name:
            self.name = example_name(self.title)


def example_name(title: str) -> str:
    """The default name of an example: its title as a lowercase, hyphenated slug."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:63] or "example"


class InputSpec(_Model):
    """One input of a module: a Terraform variable plus its metadata.

    ``type_expr`` is the original type expression; :attr:`tftype` is its parsed form.
    ``required`` is true when the variable has no ``default``. ``allowed`` is an allowlist: for a
    list or set input it applies to each element.
    """

    name: str
    type_expr: str = "any"
    description: str = ""
    label: str = ""
    required: bool = False
    default: Any = None
    sensitive: bool = False
    #: ``ephemeral = true`` (Terraform 1.10+): never stored in a plan; implies ``sensitive``.
    ephemeral: bool = False
    immutable: bool = False
    read_only: bool = False
    nullable: bool = True
    allowed: list[Any] | None = None
    validations: list[VariableValidation] = Field(default_factory=list)
    #: The ``*.tf`` file that declares the variable.
    file: str = ""

    _tftype: TfType = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Parse the type expression once."""
        self._tftype = parse_type(self.type_expr)

    @property
    def tftype(self) -> TfType:
        """The parsed type constraint."""
        return self._tftype

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this input (type, title, description, default, enum, flags)."""
        schema = to_json_schema(self.tftype)
        schema["title"] = self.label or self.name
        if self.description:
            schema["description"] = self.description
        # A sensitive input's default is not published (schemas end up in UIs and docs).
        if not self.required and not self.sensitive and (self.default is not None or self.nullable):
            schema["default"] = self.default
        if self.allowed is not None:
            if self.tftype.kind in (Kind.LIST, Kind.SET):
                schema["items"] = {**schema.get("items", {}), "enum": list(self.allowed)}
            else:
                schema["enum"] = list(self.allowed)
        if self.nullable:
            # Terraform accepts null for a nullable variable (a null default is such a value).
            schema = nullable_schema(schema)
        if self.read_only:
            schema["readOnly"] = True
        if self.sensitive:
            schema["writeOnly"] = True
            schema["x-tfpilot-sensitive"] = True
        if self.immutable:
            schema["x-tfpilot-immutable"] = True
        return schema


class Naming(_Model):
    """How the module's name input is formed: ``[naming]`` in ``tfpilot.module.toml``.

    By default tfpilot appends ``-<request suffix>`` to a lowercase DNS-label-like base (unique
    names). A module whose names follow other rules says so: ``suffix = false`` (the user's name
    as is), ``separator = ""`` (Azure storage accounts allow no hyphen), ``pattern`` (the whole
    name as the provider allows it, e.g. ``^[a-z0-9]{3,24}$``, or IAM's ``^[A-Za-z0-9+=,.@_-]+$``
    for ``CiDeployer``), ``max_length`` (of the whole name), ``keep_suffixes`` (kept last, after
    the request suffix: SQS FIFO queues end in ``.fifo``).
    """

    suffix: bool = True
    separator: str = "-"
    max_length: int = Field(default=MAX_NAME_LENGTH, ge=1, le=1024)
    pattern: str | None = None
    keep_suffixes: list[str] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


#: What the tags input's keys must look like: ``tags`` (AWS/Azure style: any key) or
#: ``gcp-labels`` (lowercase letters, digits, ``_`` and ``-``; tfpilot's keys are written
#: ``tfpilot_request_id``).
TAGS_FORMATS = ("tags", "gcp-labels")


class ModuleSpec(_Model):
    """Everything tfpilot knows about a catalog module."""

    name: str
    path: Path
    #: sha256 (hex) of the module directory's files, see :func:`module_digest`.
    version: str
    source: str = ""
    description: str = ""
    category: str = "general"
    risk: Risk = Risk.MEDIUM
    #: Who looks after the module (a team or a person), shown in the service catalog.
    owner: str = ""
    #: The input carrying the resource name; it gets the request's id suffix.
    name_input: str | None = None
    #: The ``map(string)`` input into which server-authoritative tags are merged.
    tags_input: str | None = None
    #: How the name input is formed (suffix, separator, pattern, length).
    naming: Naming = Field(default_factory=Naming)
    #: The key rules of the tags input (see :data:`TAGS_FORMATS`).
    tags_format: str = "tags"
    examples: list[Example] = Field(default_factory=list)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list)
    sensitive_outputs: list[str] = Field(default_factory=list)

    @property
    def sensitive_inputs(self) -> list[str]:
        """Names of the inputs whose values must be masked wherever they could leave tfpilot."""
        return [name for name, item in self.inputs.items() if item.sensitive]

    @property
    def ephemeral_inputs(self) -> list[str]:
        """Names of the ``ephemeral`` inputs: passed to Terraform for each command, never
        written into the rendered files or a saved plan."""
        return [name for name, item in self.inputs.items() if item.ephemeral]

    def input_json_schema(self) -> dict[str, Any]:
        """A JSON Schema (draft 2020-12) for the ``inputs`` object of a request for this module.

        Read-only inputs are listed (``readOnly``) but never required; the tags input never
        allows ``tfpilot:`` keys; the name input carries the name pattern and length limit.
        """
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, spec in self.inputs.items():
            schema = spec.json_schema()
            if name == self.name_input:
                # tfpilot forms the name: a null is "not given", never a stored value.
                if isinstance(schema.get("type"), list):
                    schema["type"] = [t for t in schema["type"] if t != "null"]
                    schema["type"] = (
                        schema["type"][0] if len(schema["type"]) == 1 else schema["type"]
                    )
                naming = self.naming
                added = len(naming.separator) + 6 if naming.suffix else 0
                if naming.pattern is None:
                    schema["pattern"] = r"^[a-z]([a-z0-9-]*[a-z0-9])?$"
                elif not naming.suffix:
                    schema["pattern"] = naming.pattern  # the whole name: what the user types
                schema["maxLength"] = naming.max_length - added
            if name == self.tags_input:
                schema["propertyNames"] = {"not": {"pattern": "^tfpilot:"}}
            properties[name] = schema
            if spec.required and not spec.read_only and name != self.tags_input:
                required.append(name)
        result: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.name,
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if self.description:
            result["description"] = self.description
        if required:
            result["required"] = required
        return result


# ---------------------------------------------------------------------------------------------
# Module digest
# ---------------------------------------------------------------------------------------------


def _digest_ignored(rel: Path) -> bool:
    # .terraform/ (providers, modules), dotfiles (.terraform.lock.hcl, editor files) and state
    # files change without the module changing; they must not change its version.
    return any(part.startswith(".") for part in rel.parts) or ".tfstate" in rel.name


def module_digest(path: Path) -> str:
    """The version of a module: sha256 (hex) over its files' sorted relative paths and contents.

    Ignores ``.terraform/``, dotfiles and dot-directories, and ``*.tfstate*``. Symbolic links to
    directories are not followed (so a link loop cannot hang the catalog).
    """
    root = Path(path)
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root)
            if not _digest_ignored(rel):
                files.append(rel)
    digest = hashlib.sha256()
    for rel in sorted(files, key=lambda p: p.as_posix()):
        content = (root / rel).read_bytes()
        # Length-prefix every part so that no two different trees hash the same stream.
        rel_name = rel.as_posix().encode()
        digest.update(len(rel_name).to_bytes(8, "big") + rel_name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading the Terraform files (python-hcl2 8.x)
# ---------------------------------------------------------------------------------------------

_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)\n(.*?)\n?[ \t]*\2$", re.DOTALL)


def _unquote(text: str) -> str:
    """Strip the quotes that python-hcl2 8.x leaves on labels and strings, decoding escapes."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        body = text[1:-1]
        heredoc = _HEREDOC.fullmatch(body)
        if heredoc:
            content = heredoc.group(3)
            if heredoc.group(1):  # <<- strips the common indentation
                lines = content.split("\n")
                indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
                cut = min(indents, default=0)
                content = "\n".join(ln[cut:] for ln in lines)
            return content + "\n"
        # "$${" is HCL's escape for a literal "${".
        return unescape_string(body).replace("$${", "${").replace("%%{", "%{")
    return text


def _clean(value: Any) -> Any:
    """Turn python-hcl2 output into plain values: unquoted strings, literals for ``${...}``."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            try:
                return parse_literal(value)
            except TypeSyntaxError:
                return value  # a real expression; kept as text
        return _unquote(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {
            _unquote(k): _clean(v)
            for k, v in value.items()
            if not (k.startswith("__") and k.endswith("__"))
        }
    return value


def _blocks(parsed: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for block in parsed.get(kind, []) or []:
        if isinstance(block, dict):
            for label, body in block.items():
                found.append((_unquote(label), body if isinstance(body, dict) else {}))
    return found


_PARSE_LOCK = threading.Lock()


def _parse_tf(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse Terraform file: {exc}", source=str(file)) from exc
    cache = parse_cache.path_for(text)
    cached = parse_cache.load(cache)
    if cached is not None:
        return cached
    try:
        # One parse at a time: lark's parser and python-hcl2's module state are not documented
        # as thread-safe, and concurrent first loads (a server's first page views) once gave
        # spurious errors. Parsing holds the GIL anyway, so the lock costs no throughput.
        with _PARSE_LOCK:
            import hcl2  # imported here: parsing is the only place that needs lark and hcl2

            result = hcl2.loads(text)
    except Exception as exc:  # lark raises many unrelated types; all mean "broken file"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot parse Terraform file: {detail}", source=str(file)) from exc
    if not isinstance(result, dict):
        raise ConfigError("cannot parse Terraform file", source=str(file))
    parse_cache.store(cache, result)
    return result


# ---------------------------------------------------------------------------------------------
# Loading a module
# ---------------------------------------------------------------------------------------------

_TOP_KEYS: dict[str, type] = {
    "description": str,
    "category": str,
    "risk": str,
    "owner": str,
    "name_input": str,
    "tags_input": str,
    "naming": dict,
    "tags_format": str,
    "examples": list,
    "inputs": dict,
}
_INPUT_KEYS: dict[str, type] = {
    "label": str,
    "description": str,
    "sensitive": bool,
    "immutable": bool,
    "read_only": bool,
    "allowed": list,
}
_EXAMPLE_KEYS: dict[str, type] = {
    "title": str,
    "name": str,
    "description": str,
    "inputs": dict,
    "security_defaults": list,
    "opt_outs": list,
}
_EXAMPLE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def _type_name(t: type) -> str:
    return {str: "a string", bool: "true or false", list: "an array", dict: "a table"}[t]


def _check_keys(
    table: dict[str, Any], allowed: dict[str, type], prefix: str, problems: list[tuple[str, str]]
) -> None:
    for key, value in table.items():
        where = f"{prefix}{key}"
        if key not in allowed:
            problems.append((where, f"unknown key (known: {', '.join(allowed)})"))
        elif not isinstance(value, allowed[key]):
            problems.append((where, f"must be {_type_name(allowed[key])}"))


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def load_module(location: ModuleLocation) -> ModuleSpec:
    """Read a module directory: every ``*.tf`` file's variables and outputs, plus its metadata.

    Raises :class:`~tfpilot_core.errors.ConfigError` for a broken Terraform or metadata file
    (naming the file) and for metadata that disagrees with the Terraform files (naming both files
    and the key). A missing metadata file means defaults for everything.
    """
    root = Path(location.path)
    if not root.is_dir():
        raise ConfigError(f"module {location.name!r}: not a directory", source=str(root))
    tf_files = sorted(root.glob("*.tf"))
    if not tf_files:
        raise ConfigError(f"module {location.name!r}: no *.tf files", source=str(root))

    inputs: dict[str, InputSpec] = {}
    outputs: list[str] = []
    sensitive_outputs: list[str] = []
    tf_sensitive: dict[str, bool] = {}
    for file in tf_files:
        parsed = _parse_tf(file)
        for name, body in _blocks(parsed, "variable"):
            if name in inputs:
                raise ConfigError(
                    f"variable {name!r} is declared twice (also in {inputs[name].file})",
                    source=str(file),
                    key=f"variable.{name}",
                )
            inputs[name] = _input_from_variable(name, body, file)
            tf_sensitive[name] = inputs[name].sensitive
        for name, body in _blocks(parsed, "output"):
            outputs.append(name)
            if body.get("sensitive") is True:
                sensitive_outputs.append(name)

    meta_file = root / METADATA_FILE
    meta: dict[str, Any] = {}
    if meta_file.is_file():
        try:
            meta = tomllib.loads(meta_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot parse metadata: {exc}", source=str(meta_file)) from exc

    problems: list[tuple[str, str]] = []
    _check_keys(meta, _TOP_KEYS, "", problems)
    risk = meta.get("risk", Risk.MEDIUM.value)
    if isinstance(risk, str) and risk not in {r.value for r in Risk}:
        problems.append(("risk", "must be one of low, medium, high"))

    meta_inputs = meta.get("inputs", {})
    if isinstance(meta_inputs, dict):
        for name, table in meta_inputs.items():
            key = f"inputs.{name}"
            if name not in inputs:
                problems.append(
                    (key, f"describes a variable that no *.tf file declares ({name!r})")
                )
                continue
            if not isinstance(table, dict):
                problems.append((key, "must be a table"))
                continue
            _check_keys(table, _INPUT_KEYS, f"{key}.", problems)
            inputs[name] = _merge_input(inputs[name], table, key, tf_sensitive[name], problems)

    name_input = meta.get("name_input")
    if isinstance(name_input, str):
        found = inputs.get(name_input)
        if found is None:
            problems.append(
                ("name_input", f"names a variable that does not exist ({name_input!r})")
            )
        elif found.tftype.kind is not Kind.STRING:
            problems.append(("name_input", f"variable {name_input!r} must be of type string"))
    tags_input = meta.get("tags_input")
    if isinstance(tags_input, str):
        found = inputs.get(tags_input)
        if found is None:
            problems.append(
                ("tags_input", f"names a variable that does not exist ({tags_input!r})")
            )
        elif not (
            found.tftype.kind is Kind.MAP
            and found.tftype.element is not None
            and found.tftype.element.kind is Kind.STRING
        ):
            problems.append(("tags_input", f"variable {tags_input!r} must be of type map(string)"))

    naming = Naming()
    raw_naming = meta.get("naming")
    if isinstance(raw_naming, dict):
        try:
            naming = Naming.model_validate(raw_naming)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append((f"naming.{where}", str(error["msg"])))
    tags_format = meta.get("tags_format", "tags")
    if tags_format not in TAGS_FORMATS:
        problems.append(("tags_format", f"must be one of {', '.join(TAGS_FORMATS)}"))

    examples: list[Example] = []
    raw_examples = meta.get("examples", [])
    if isinstance(raw_examples, list):
        for i, raw in enumerate(raw_examples):
            key = f"examples[{i}]"
            if not isinstance(raw, dict):
                problems.append((key, "must be a table"))
                continue
            _check_keys(raw, _EXAMPLE_KEYS, f"{key}.", problems)
            if not isinstance(raw.get("title"), str):
                problems.append((f"{key}.title", "is required"))
                continue
            ex_inputs = raw.get("inputs", {})
            if not isinstance(ex_inputs, dict):
                continue
            for in_name, value in ex_inputs.items():
                if in_name not in inputs:
                    problems.append((f"{key}.inputs.{in_name}", "is not a variable of the module"))
                    continue
                found_problems: list[FieldProblem] = []
                coerce_into(value, inputs[in_name].tftype, in_name, found_problems)
                problems.extend((f"{key}.inputs.{p.field}", p.message) for p in found_problems)
            ex_name = raw.get("name", example_name(raw["title"]))
            if not isinstance(ex_name, str) or not _EXAMPLE_NAME.fullmatch(ex_name):
                problems.append((f"{key}.name", "use 1-63 lowercase letters, digits, hyphens"))
            elif ex_name in {e.name for e in examples}:
                problems.append((f"{key}.name", f"another example is named {ex_name!r}"))
            lists: dict[str, list[str]] = {}
            for list_key in ("security_defaults", "opt_outs"):
                values = raw.get(list_key, [])
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    problems.append((f"{key}.{list_key}", "must be an array of rule ids"))
                    values = []
                lists[list_key] = list(values)
            examples.append(
                Example(
                    title=raw["title"],
                    name=ex_name if isinstance(ex_name, str) else "",
                    description=str(raw.get("description", "")),
                    inputs=dict(ex_inputs),
                    **lists,
                )
            )

    if problems:
        declaring = sorted({spec.file for spec in inputs.values()}) or [str(f) for f in tf_files]
        sources = f"{meta_file} (against {', '.join(declaring)})"
        key, message = problems[0]
        if len(problems) > 1:
            message += "".join(f"\n  - key {k!r}: {m}" for k, m in problems[1:])
        raise ConfigError(message, source=sources, key=key)

    return ModuleSpec(
        name=location.name,
        path=root,
        version=module_digest(root),
        source=location.source,
        description=str(meta.get("description", "")),
        category=str(meta.get("category", "general")),
        risk=Risk(risk),
        owner=str(meta.get("owner", "")),
        name_input=name_input if isinstance(name_input, str) else None,
        tags_input=tags_input if isinstance(tags_input, str) else None,
        naming=naming,
        tags_format=str(tags_format),
        examples=examples,
        inputs=inputs,
        outputs=outputs,
        sensitive_outputs=sensitive_outputs,
    )


def _input_from_variable(name: str, body: dict[str, Any], file: Path) -> InputSpec:
    """Build an input from a ``variable`` block, checking its type and default."""
    raw_type = body.get("type")
    key = f"variable.{name}"
    try:
        tftype = parse_type(raw_type if isinstance(raw_type, str) else None)
    except TypeSyntaxError as exc:
        raise ConfigError(f"cannot read type: {exc}", source=str(file), key=f"{key}.type") from exc
    type_expr = tftype.expression() if raw_type is None else str(raw_type)
    if type_expr.startswith("${") and type_expr.endswith("}"):
        type_expr = type_expr[2:-1].strip()
    required = "default" not in body
    default = None
    if not required:
        problems: list[FieldProblem] = []
        # Convert the default like Terraform would, which also fills optional attribute defaults.
        default = coerce_into(_clean(body["default"]), tftype, "default", problems)
        if problems:
            raise ConfigError(
                f"default does not fit type {tftype}: {problems[0]}",
                source=str(file),
                key=f"{key}.default",
            )
    validations = []
    for block in body.get("validation", []) or []:
        if isinstance(block, dict):
            condition = block.get("condition", "")
            message = _clean(block.get("error_message", ""))
            if (
                isinstance(condition, str)
                and condition.startswith("${")
                and condition.endswith("}")
            ):
                condition = condition[2:-1]
            validations.append(
                VariableValidation(condition=str(condition), error_message=str(message))
            )
    description = _clean(body.get("description", ""))
    return InputSpec(
        name=name,
        type_expr=type_expr,
        description=description if isinstance(description, str) else "",
        label=_label(name),
        required=required,
        default=default,
        sensitive=body.get("sensitive") is True or body.get("ephemeral") is True,
        ephemeral=body.get("ephemeral") is True,
        nullable=body.get("nullable") is not False,
        validations=validations,
        file=str(file),
    )


def _merge_input(
    spec: InputSpec,
    table: dict[str, Any],
    key: str,
    tf_sensitive: bool,
    problems: list[tuple[str, str]],
) -> InputSpec:
    """Apply one ``[inputs.X]`` table to the input built from variables.tf."""
    changes: dict[str, Any] = {}
    for flag in ("label", "description", "immutable", "read_only"):
        if isinstance(table.get(flag), _INPUT_KEYS[flag]):
            changes[flag] = table[flag]
    sensitive = table.get("sensitive")
    if isinstance(sensitive, bool):
        if tf_sensitive and not sensitive:
            problems.append(
                (f"{key}.sensitive", "is false but the variable is declared sensitive = true")
            )
        changes["sensitive"] = sensitive or tf_sensitive
    if changes.get("read_only") and spec.required:
        problems.append((f"{key}.read_only", "a read-only input needs a default in variables.tf"))
    allowed = table.get("allowed")
    if isinstance(allowed, list):
        changes["allowed"] = _check_allowed(spec, allowed, key, problems)
    return spec.model_copy(update=changes)


def _check_allowed(
    spec: InputSpec, allowed: list[Any], key: str, problems: list[tuple[str, str]]
) -> list[Any]:
    """Convert the allowlist to the input's (element) type; it must keep the default allowed."""
    tftype = spec.tftype
    per_element = tftype.kind in (Kind.LIST, Kind.SET)
    target = tftype.element if per_element and tftype.element is not None else tftype
    if not target.is_primitive or target.kind is Kind.ANY:
        problems.append(
            (f"{key}.allowed", f"an allowlist needs a string, number or bool type, not {tftype}")
        )
        return allowed
    converted: list[Any] = []
    for i, value in enumerate(allowed):
        found: list[FieldProblem] = []
        result = coerce_into(value, target, field_path(f"{key}.allowed", i), found)
        if found or value is None:
            problems.append((f"{key}.allowed", f"value {value!r} does not fit type {target}"))
        else:
            converted.append(result)
    if spec.default is not None:
        values = spec.default if per_element and isinstance(spec.default, list) else [spec.default]
        excluded = [v for v in values if v not in converted]
        if excluded and converted:
            problems.append(
                (f"{key}.allowed", f"excludes the default {excluded[0]!r} from variables.tf")
            )
    return converted
