"""The reusable workflows, the setup action and the callers ``tfpilot init github`` writes:
GitHub's schema, and checks of our own beside actionlint and zizmor (which ``.ci/run`` runs).

Every ``${{ }}`` expression names a context, input, secret, matrix key, job or step output that
exists (and a context that is available where the expression sits), no expression is pasted
into a ``run:`` script (script injection), every ``run:`` script passes ``bash -n``, each job's
permissions are explicit, every third-party action is pinned by commit SHA, and each caller
grants exactly what the job it calls declares.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[3]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("tfpilot-*.yml"))
NAMES = {"plan", "plan-sarif", "apply", "destroy", "cleanup", "drift", "notify"}
SETUP = ROOT / ".github" / "actions" / "setup-tfpilot" / "action.yml"
SETUP_USES = "./.tfpilot/.github/actions/setup-tfpilot"

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
FUNCTIONS = {"fromJSON", "toJSON", "format", "contains", "startsWith", "endsWith", "join"}
FUNCTIONS |= {"hashFiles", "success", "failure", "always", "cancelled"}
#: Contexts available where the expression sits (GitHub's "context availability" table).
WORKFLOW_LEVEL = {"github", "inputs", "vars"}
JOB_LEVEL = WORKFLOW_LEVEL | {"needs", "strategy", "matrix"}
STEP_LEVEL = JOB_LEVEL | {"secrets", "steps", "job", "runner", "env"}
#: A `uses:` action whose inputs are checked against what the workflow passes.
KNOWN_ACTION_INPUTS = {
    "actions/checkout": {"persist-credentials", "ref", "fetch-depth", "repository", "path"},
    "actions/setup-python": {"python-version", "cache", "cache-dependency-path"},
    "hashicorp/setup-terraform": {"terraform_version", "terraform_wrapper"},
    "opentofu/setup-opentofu": {"tofu_version", "tofu_wrapper"},
    "infracost/actions/setup": {"api-key"},
    "aws-actions/configure-aws-credentials": {"role-to-assume", "aws-region"},
    "actions/upload-artifact": {"name", "path", "if-no-files-found", "retention-days"},
    "actions/download-artifact": {"name", "run-id", "github-token", "path"},
}


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


#: What tfpilot's dispatch input holds (tfpilot_core.runs.dispatch_payload, plus what the
#: github runner adds for apply and destroy).
PAYLOAD_KEYS = {
    "request_id",
    "revision",
    "attempt_id",
    "kind",
    "environment",
    "plan_digest",
    "correlation_id",
    "traceparent",
    "plan_attempt_id",
    "plan_run_id",
}
PAYLOAD_ACCESS = re.compile(r"fromJSON\(\s*inputs\.request\s*\)\.([A-Za-z_][A-Za-z0-9_]*)")


def references(expression: str) -> list[str]:
    """The dotted names an expression uses (string literals and function names removed)."""
    text = re.sub(r"'(?:[^']|'')*'", "''", expression)
    # A property of a function's result (fromJSON(x).key) is not a context.
    text = re.sub(r"\)(?:\.[A-Za-z_][A-Za-z0-9_-]*)+", ")", text)
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_*][A-Za-z0-9_-]*)*", text)
    return [n for n in names if n not in FUNCTIONS and n not in {"true", "false", "null"}]


class Checker:
    def __init__(self, workflow: dict[Any, Any]) -> None:
        self.workflow = workflow
        trigger = workflow["on"]
        self.inputs: set[str] = set()
        for kind in ("workflow_dispatch", "workflow_call"):
            declared = trigger.get(kind) if isinstance(trigger, dict) else None
            self.inputs |= set(((declared or {}).get("inputs") or {}).keys())
        self.problems: list[str] = []

    def check(
        self,
        value: Any,
        where: str,
        allowed: set[str],
        job: dict[Any, Any] | None = None,
        steps_before: dict[str, set[str]] | None = None,
        env: set[str] | None = None,
    ) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.check(item, f"{where}.{key}", allowed, job, steps_before, env)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.check(item, f"{where}[{i}]", allowed, job, steps_before, env)
            return
        if not isinstance(value, str):
            return
        for expression in EXPRESSION.findall(value):
            for key in PAYLOAD_ACCESS.findall(expression):
                if key not in PAYLOAD_KEYS:
                    self.problems.append(f"{where}: the dispatch input has no {key!r}")
            for name in references(expression):
                self._name(name, where, allowed, job, steps_before or {}, env or set())

    def _name(
        self,
        name: str,
        where: str,
        allowed: set[str],
        job: dict[Any, Any] | None,
        steps: dict[str, set[str]],
        env: set[str],
    ) -> None:
        parts = name.split(".")
        context = parts[0]
        if context not in allowed:
            self.problems.append(f"{where}: context {context!r} is not available here ({name})")
            return
        if context == "inputs" and (len(parts) < 2 or parts[1] not in self.inputs):
            self.problems.append(f"{where}: no input {name}")
        if context == "steps":
            if len(parts) < 4 or parts[1] not in steps or parts[2] != "outputs":
                self.problems.append(f"{where}: {name} is not an earlier step's output")
            elif parts[3] not in steps[parts[1]]:
                self.problems.append(f"{where}: step {parts[1]} does not write output {parts[3]}")
        if context == "needs":
            needs = (job or {}).get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            jobs = self.workflow["jobs"]
            if len(parts) < 4 or parts[1] not in needs or parts[2] != "outputs":
                self.problems.append(f"{where}: {name} is not a needed job's output")
            elif parts[3] not in (jobs[parts[1]].get("outputs") or {}):
                self.problems.append(f"{where}: job {parts[1]} has no output {parts[3]}")
        if context == "matrix":
            matrix = ((job or {}).get("strategy") or {}).get("matrix") or {}
            if len(parts) < 2 or parts[1] not in matrix:
                self.problems.append(f"{where}: no matrix key {name}")
        if context == "env" and (len(parts) < 2 or parts[1] not in env):
            self.problems.append(f"{where}: env {name} is not set")
        if context == "secrets" and len(parts) < 2:
            self.problems.append(f"{where}: {name} names no secret")

    def run(self) -> list[str]:
        wf = self.workflow
        for key in ("name", "run-name", "concurrency"):
            if key in wf:
                self.check(wf[key], key, WORKFLOW_LEVEL)
        workflow_env = set((wf.get("env") or {}).keys())
        self.check(wf.get("env"), "env", WORKFLOW_LEVEL | {"secrets"})
        if wf.get("permissions") != {}:
            self.problems.append("the workflow must grant no permissions by default")
        for job_id, job in wf["jobs"].items():
            where = f"jobs.{job_id}"
            if not isinstance(job.get("permissions"), dict):
                self.problems.append(f"{where}: permissions must be explicit per job")
            for key in ("runs-on", "concurrency", "environment", "strategy", "timeout-minutes"):
                self.check(job.get(key), f"{where}.{key}", JOB_LEVEL, job)
            env = workflow_env | set((job.get("env") or {}).keys())
            self.check(job.get("env"), f"{where}.env", JOB_LEVEL | {"secrets"}, job)
            for key in ("with", "secrets"):  # a caller's job: the called workflow's inputs
                self.check(job.get(key), f"{where}.{key}", JOB_LEVEL | {"secrets"}, job)
            outputs: dict[str, set[str]] = {}
            for i, step in enumerate(job.get("steps") or []):
                at = f"{where}.steps[{i}]"
                step_env = env | set((step.get("env") or {}).keys())
                for key in ("with", "env", "if", "name"):
                    self.check(step.get(key), f"{at}.{key}", STEP_LEVEL, job, outputs, step_env)
                if "uses" in step:
                    action, _, ref = step["uses"].partition("@")
                    if action == SETUP_USES:
                        known = set(yaml.safe_load(SETUP.read_text())["inputs"])
                    else:
                        known = KNOWN_ACTION_INPUTS.get(action)
                        if not re.fullmatch(r"[0-9a-f]{40}", ref):
                            self.problems.append(f"{at}: {action} is not pinned by commit SHA")
                    if known is None:
                        self.problems.append(f"{at}: unexpected action {action}")
                    elif set(step.get("with") or {}) - known:
                        self.problems.append(f"{at}: unknown inputs {set(step['with']) - known}")
                if "run" in step:
                    if EXPRESSION.search(step["run"]):
                        self.problems.append(f"{at}: an expression in run: (pass it via env:)")
                    if "id" in step:
                        written = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", step["run"])
                        printed = re.findall(r'print\(f"([a-z_]+)=', step["run"])
                        outputs[step["id"]] = set(written) | set(printed)
        return self.problems


def test_the_reusable_workflows_exist() -> None:
    assert {p.stem.removeprefix("tfpilot-") for p in WORKFLOWS} == NAMES
    for path in WORKFLOWS:
        assert set(load(path)["on"]) == {"workflow_call"}, path.name


def callers(tmp: Path, **options: Any) -> list[Path]:
    """The caller workflows ``tfpilot init github`` writes, in ``tmp``."""
    from tfpilot_core.scaffold.github import Options, files_for

    written = []
    for relative, text in files_for(
        Options(repository="acme/infra", ref="v0.1.0", **options)
    ).items():
        if relative.startswith(".github/"):
            path = tmp / Path(relative).name
            path.write_text(text)
            written.append(path)
    return sorted(written)


@pytest.mark.parametrize("sarif", [False, True])
def test_callers_grant_exactly_what_the_called_jobs_declare(tmp_path: Path, sarif: bool) -> None:
    for path in callers(tmp_path, sarif=sarif):
        caller = load(path)
        assert caller["permissions"] == {}
        assert Checker(caller).run() == [], path.name
        for job_id, job in caller["jobs"].items():
            match = re.fullmatch(r"tfpilot/tfpilot/\.github/workflows/(.+)@v0\.1\.0", job["uses"])
            assert match, job["uses"]
            called = load(ROOT / ".github" / "workflows" / match.group(1))
            declared = called["on"]["workflow_call"]
            assert set(job["with"]) <= set(declared["inputs"]), path.name
            assert set(job.get("secrets") or {}) <= set(declared["secrets"]), path.name
            asked: dict[str, str] = {}
            for inner in called["jobs"].values():
                for scope, level in inner["permissions"].items():
                    if asked.get(scope) != "write":
                        asked[scope] = level
            assert job["permissions"] == asked, (path.name, job_id)
            if match.group(1) == "tfpilot-plan-sarif.yml":
                assert sarif and asked["security-events"] == "write"
            else:
                assert "security-events" not in asked


def test_callers_validate_against_githubs_schema(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, callers(tmp_path, plugins=("store_s3", "cost_infracost"))),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_setup_action() -> None:
    action = yaml.safe_load(SETUP.read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert not EXPRESSION.search(step["run"]), step["name"]
            done = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True)
            assert done.returncode == 0, step["name"]
        else:
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_every_third_party_action_in_github_is_pinned_by_sha() -> None:
    found = []
    for path in (ROOT / ".github").rglob("*.y*ml"):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(?:-\s*)?uses:\s*(\S+)(.*)", line)
            if not match or match.group(1).startswith("./"):
                continue
            found.append(match.group(1))
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", match.group(1)), (path, line)
            assert re.search(r"#\s*v\d", match.group(2)), f"{path}: no tag comment: {line}"
    assert len(found) >= 10


def test_no_job_claims_a_user() -> None:
    # Jobs act through the configured identity (github_actions: the OIDC token), never a name.
    for path in (ROOT / ".github").rglob("*.y*ml"):
        assert "TFPILOT_USER" not in path.read_text(), path


def test_they_validate_against_githubs_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_expressions_name_what_exists(path: Path) -> None:
    assert Checker(load(path)).run() == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_scripts_pass_bash_n(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job.get("steps") or []:
            if "run" in step:
                result = subprocess.run(
                    ["bash", "-n"], input=step["run"], capture_output=True, text=True
                )
                assert result.returncode == 0, f"{step.get('name')}: {result.stderr}"


def test_the_checker_finds_mistakes() -> None:
    # The checks above can fail: each seeded mistake is reported.
    workflow = load(ROOT / ".github" / "workflows" / "tfpilot-plan.yml")
    job = workflow["jobs"]["plan"]
    job["env"]["X"] = "${{ inputs.nope }}"
    job["steps"][-1]["env"]["Y"] = "${{ steps.plan.outputs.missing }}"
    job["steps"][-1]["env"]["Z"] = "${{ steps.later.outputs.x }}"
    job["concurrency"] = {"group": "${{ runner.temp }}"}
    job["steps"][-1]["run"] += "\necho ${{ inputs.request }}\n"
    job["steps"][-1]["env"]["W"] = "${{ fromJSON(inputs.request).no_such_key }}"
    problems = "\n".join(Checker(workflow).run())
    assert "no input inputs.nope" in problems
    assert "does not write output missing" in problems
    assert "steps.later.outputs.x is not an earlier step's output" in problems
    assert "context 'runner' is not available here" in problems
    assert "an expression in run:" in problems
    assert "the dispatch input has no 'no_such_key'" in problems
    broken = subprocess.run(["bash", "-n"], input="if then fi", capture_output=True, text=True)
    assert broken.returncode != 0


def test_drift_matrix_stays_under_256_jobs() -> None:
    from tfpilot_core.runs.executor import shard_count, shard_of

    count = shard_count(10_000)
    assert count == 200 < 256
    sizes: dict[int, int] = {}
    for i in range(10_000):
        shard = shard_of(f"req_dev_bucket_{i:06d}", count)
        sizes[shard] = sizes.get(shard, 0) + 1
    assert len(sizes) == count and max(sizes.values()) < 100  # stable hash spreads them
    assert shard_count(0) == 1 and shard_count(1_000_000) == 200
