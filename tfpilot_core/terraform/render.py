"""Render a request as a Terraform root module, written as JSON.

The root module is two files:

``main.tf.json``
    a ``terraform`` block (``required_providers`` for the mirrored providers the module uses, and
    the configured backend, if any), configured provider blocks, one ``module "this"`` call whose
    ``source`` is the catalog module's absolute path and whose arguments are all
    ``var.<name>`` references, one ``variable`` per input (``sensitive`` where the module says so)
    and one ``output`` per module output (``sensitive`` where the module marks it).
``terraform.tfvars.json``
    the request's input values.

Why JSON and two files: a user's value never becomes configuration. Input *names* come from the
module's own variables (and must also match Terraform's identifier syntax); input *values* go only
into ``terraform.tfvars.json``, whose strings Terraform reads as literals (a ``${...}`` there is
text, not a template), so no value can inject an expression. Both files are serialised with sorted
keys, so the same request renders the same bytes and :func:`rendered_digest` is stable.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpilot_core.catalog import ephemeral as ephemeral_inputs
from tfpilot_core.catalog.spec import load_module
from tfpilot_core.errors import ConfigError, FieldProblem, ValidationError
from tfpilot_core.files import private_dir
from tfpilot_core.interfaces import ModuleLocation

if TYPE_CHECKING:
    from tfpilot_core.interfaces import RunSpec
    from tfpilot_core.registrations import ProviderMirror

__all__ = [
    "CONFIG_FILE",
    "IDENTIFIER",
    "TFVARS_FILE",
    "ModuleInterface",
    "RenderedModule",
    "canonical_json",
    "mirror_sources",
    "module_interface",
    "normalize_source",
    "render",
    "rendered_digest",
    "write_atomic",
]

CONFIG_FILE = "main.tf.json"
TFVARS_FILE = "terraform.tfvars.json"
#: The name of the module call in the root module (addresses read ``module.this.<resource>``).
MODULE_CALL = "this"
#: Terraform identifiers (variable, output and provider local names).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_SOURCE = re.compile(
    r"(?:(?P<host>[a-z0-9][a-z0-9.-]*[a-z0-9])/)?(?P<ns>[a-z0-9][a-z0-9_-]*)/(?P<type>[a-z0-9][a-z0-9_-]*)"
)
#: Terraform's default provider registry host.
DEFAULT_HOST = "registry.terraform.io"


def normalize_source(source: str) -> str:
    """A provider source address in its full form, ``host/namespace/type`` (lowercase).

    :raises ConfigError: the address is not a provider source address.
    """
    match = _SOURCE.fullmatch(source.strip().lower())
    if match is None:
        raise ConfigError(
            f"{source!r} is not a provider source address (expected [host/]namespace/type)",
            key="provider_mirror.source",
        )
    return f"{match.group('host') or DEFAULT_HOST}/{match.group('ns')}/{match.group('type')}"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, two-space indent, UTF-8, final newline.

    :raises ValueError: the value holds something JSON cannot carry exactly (NaN, infinity,
        non-string keys, objects).
    """
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def rendered_digest(files: Mapping[str, bytes]) -> str:
    """sha256 over rendered files: each file's name, length and bytes, in name order.

    Length-prefixing keeps the framing unambiguous (no two file sets hash alike by shifting
    bytes from one file to the next).
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class RenderedModule:
    """The rendered root module: file name -> bytes."""

    files: Mapping[str, bytes]
    #: ``TF_VAR_<name>`` -> value of each ephemeral input: given to every Terraform command
    #: (plan and apply alike, as Terraform requires), never written to a file or a saved plan.
    environment: Mapping[str, str] = field(default_factory=dict)

    def rendered_digest(self) -> str:
        """sha256 of the rendered files (see :func:`rendered_digest`)."""
        return rendered_digest(self.files)

    def write(self, directory: Path) -> None:
        """Write every file into ``directory`` atomically (temp file + rename), if it changed.

        Unchanged files are left alone so their modification times stay meaningful.
        """

        private_dir(directory)
        for name, data in sorted(self.files.items()):
            target = directory / name
            try:
                if target.read_bytes() == data:
                    continue
            except FileNotFoundError:
                pass
            write_atomic(target, data)

    def matches(self, directory: Path) -> bool:
        """Whether ``directory`` holds exactly these files' bytes."""
        try:
            return all((directory / n).read_bytes() == d for n, d in self.files.items())
        except FileNotFoundError:
            return False


def write_atomic(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``target`` through a temp file in the same directory and a rename.

    Files are private (0600 by default): the tfvars file holds sensitive input values.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ModuleInterface:
    """What rendering needs to know about a catalog module, read from its ``*.tf`` files."""

    inputs: tuple[str, ...]
    sensitive_inputs: frozenset[str]
    outputs: tuple[str, ...]
    sensitive_outputs: frozenset[str]
    #: Provider local name -> full source address, from the module's ``required_providers``.
    providers: Mapping[str, str] = field(default_factory=dict)
    #: Inputs the module declares ``ephemeral = true`` (Terraform 1.10+).
    ephemeral_inputs: frozenset[str] = frozenset()


def module_interface(path: Path, version: str = "") -> ModuleInterface:
    """The interface of the module at ``path`` (cached per path and version)."""
    return _module_interface(str(Path(path).resolve()), version)


@functools.lru_cache(maxsize=256)
def _module_interface(path: str, version: str) -> ModuleInterface:
    # ``version`` is part of the cache key only: a changed module has a new digest.

    spec = load_module(ModuleLocation(name=Path(path).name, path=Path(path)))
    return ModuleInterface(
        inputs=tuple(spec.inputs),
        sensitive_inputs=frozenset(spec.sensitive_inputs),
        outputs=tuple(spec.outputs),
        sensitive_outputs=frozenset(spec.sensitive_outputs),
        providers=_required_providers(Path(path)),
        ephemeral_inputs=frozenset(spec.ephemeral_inputs),
    )


def _unquote(text: Any) -> str:
    # python-hcl2 8.x keeps the quotes of string values; a plain JSON string decode removes them.
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except ValueError:
            return text[1:-1]
        return decoded if isinstance(decoded, str) else text
    return str(text)


def _required_providers(path: Path) -> dict[str, str]:
    """Local name -> full source address of every provider the module requires."""
    import hcl2  # only needed here; the catalog imports it the same lazy way

    found: dict[str, str] = {}
    for file in sorted(path.glob("*.tf")):
        try:
            parsed = hcl2.loads(file.read_text(encoding="utf-8"))
        except Exception as exc:  # lark raises many types; all mean "broken file"
            raise ConfigError(f"cannot parse Terraform file: {exc}", source=str(file)) from exc
        for block in parsed.get("terraform", []) or []:
            for providers in block.get("required_providers", []) or []:
                for name, requirement in providers.items():
                    if name.startswith("__") or not isinstance(requirement, dict):
                        continue
                    source = requirement.get("source")
                    if source is None:
                        continue
                    try:
                        found[_unquote(name)] = normalize_source(_unquote(source))
                    except ConfigError:
                        continue  # not a registry address: nothing a mirror could serve
    return found


def _input_problem(name: str, rule: str, message: str) -> FieldProblem:
    return FieldProblem(f"inputs.{name}", rule, message)


def _backend_block(backend: Mapping[str, Any], placeholders: Mapping[str, str]) -> dict[str, Any]:
    """The backend block with ``{request_id}``-style placeholders filled in (strings only)."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            # str.replace, not str.format: only the known placeholders, no format mini-language.
            for key, replacement in placeholders.items():
                value = value.replace(key, replacement)
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    if len(backend) != 1:
        raise ConfigError(
            "must name exactly one backend type, e.g. {s3 = {bucket = ..., key = ...}}",
            key="backend",
        )
    ((kind, body),) = backend.items()
    if not IDENTIFIER.fullmatch(kind) or not isinstance(body, Mapping):
        raise ConfigError(f"invalid backend {kind!r}: expected a table of settings", key="backend")
    return {kind: fill(dict(body))}


def render(
    spec: RunSpec,
    *,
    backend: Mapping[str, Any] | None = None,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    interface: ModuleInterface | None = None,
) -> RenderedModule:
    """Render ``spec`` as a root module (see the module docstring for its shape).

    :param backend: a backend block from the runner's settings, e.g. ``{"s3": {...}}``; string
        values may use ``{request_id}``, ``{environment}`` and ``{project}``.
    :param providers: provider configuration blocks from the runner's settings (local name ->
        arguments); operator configuration, never user input.
    :param interface: the module's interface (read from ``spec.module_path`` when omitted).
    :raises ValidationError: an input the module does not declare, a name that is not an
        identifier, or a value JSON cannot carry exactly.
    """
    module_path = Path(spec.module_path).resolve()
    info = interface or module_interface(module_path, spec.module_version)
    inputs = spec.request.inputs
    declared = set(info.inputs)
    problems: list[FieldProblem] = []
    for name in sorted(inputs):
        if not IDENTIFIER.fullmatch(name):
            problems.append(_input_problem(name, "identifier", "not a Terraform identifier"))
        elif name not in declared:
            problems.append(
                _input_problem(
                    name, "unknown_input", f"module {spec.module_name} has no such input"
                )
            )
    if problems:
        raise ValidationError(problems, subject=f"inputs of {spec.request.id}")

    sensitive = info.sensitive_inputs | set(spec.sensitive_inputs)
    # A null input is left out rather than passed: Terraform passes null through to the module,
    # where it would override the module's default instead of falling back to it.
    given = sorted(n for n, v in inputs.items() if v is not None)
    variables: dict[str, Any] = {}
    ephemeral = set(info.ephemeral_inputs)
    for name in given:
        if name in ephemeral:
            # Ephemeral at the root too: a plain root variable would put the value in the plan.
            variables[name] = {"ephemeral": True}
        else:
            variables[name] = {"sensitive": True} if name in sensitive else {}
    call: dict[str, Any] = {"source": str(module_path)}
    for name in given:
        call[name] = f"${{var.{name}}}"
    outputs: dict[str, Any] = {}
    for name in info.outputs:
        if not IDENTIFIER.fullmatch(name):
            continue  # cannot happen for a valid module; never render a broken key
        outputs[name] = {"value": f"${{module.{MODULE_CALL}.{name}}}"}
        if name in info.sensitive_outputs:
            outputs[name]["sensitive"] = True

    terraform: dict[str, Any] = {}
    mirrored = {normalize_source(m.source) for m in spec.mirrors}
    required = {
        local: {"source": source}
        for local, source in sorted(info.providers.items())
        if source in mirrored and IDENTIFIER.fullmatch(local)
    }
    if required:
        terraform["required_providers"] = required
    if backend:
        placement = spec.request.placement
        terraform["backend"] = _backend_block(
            backend,
            {
                "{request_id}": spec.request.id,
                "{environment}": spec.environment.key,
                "{project}": placement.project,
            },
        )

    config: dict[str, Any] = {"module": {MODULE_CALL: call}}
    if terraform:
        config["terraform"] = terraform
    if variables:
        config["variable"] = variables
    if outputs:
        config["output"] = outputs
    if providers:
        config["provider"] = {k: dict(v) for k, v in sorted(providers.items())}

    values = {name: inputs[name] for name in given if name not in ephemeral}
    # A string variable takes TF_VAR_ literally; other types are read as HCL, which JSON is.
    # An ephemeral input is stored as a reference, read from this process's environment now.
    resolved = {
        n: ephemeral_inputs.resolve(n, inputs[n], os.environ) for n in given if n in ephemeral
    }
    environment = {
        f"TF_VAR_{name}": value if isinstance(value, str) else json.dumps(value)
        for name, value in resolved.items()
    }
    try:
        tfvars = canonical_json(values)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            [FieldProblem("inputs", "json", f"an input value cannot be written as JSON: {exc}")],
            subject=f"inputs of {spec.request.id}",
        ) from None
    return RenderedModule({CONFIG_FILE: canonical_json(config), TFVARS_FILE: tfvars}, environment)


def mirror_sources(mirrors: Sequence[ProviderMirror]) -> list[str]:
    """The full source addresses of ``mirrors``, sorted and de-duplicated."""
    return sorted({normalize_source(m.source) for m in mirrors})
