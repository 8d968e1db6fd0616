"""Run a workflow job's steps locally, in order, the way an Actions runner would.

Each ``run:`` step runs in its own ``bash -e`` process, with the environment Actions sets
(``GITHUB_*``, ``RUNNER_TEMP``, the workflow, job and step ``env:`` with their expressions
evaluated) in the checked-out workspace. ``uses:`` steps are played by their local equivalents:
checkout (the workspace is there), setup-python (the test's virtualenv is on ``PATH``), the OIDC
credentials action (exports the moto credentials it would have obtained), upload-artifact and
download-artifact (a directory per artifact, and download checks the run id it is asked for).
The install step is skipped: tfpilot is installed in the test's virtualenv already.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)


@dataclass
class JobResult:
    """What a job did: each run step's output, its step outputs, the artifacts it uploaded."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    job_outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalActions:
    """An Actions runner for one repository workspace; artifacts live under ``artifacts``."""

    workspace: Path
    artifacts: Path
    token: str
    repository: str = "acme/infra"
    env: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    #: artifact name -> the run id that uploaded it
    uploaded_by: dict[str, str] = field(default_factory=dict)

    def load(self, name: str) -> dict[Any, Any]:
        data = yaml.safe_load((self.workspace / ".github" / "workflows" / name).read_text())
        if True in data:
            data["on"] = data.pop(True)
        return dict(data)

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
        """Run ``job_id`` of ``workflow``; raises ``AssertionError`` when a step fails."""
        wf = self.load(workflow)
        job = wf["jobs"][job_id]
        temp = home / "runner-temp"
        temp.mkdir(parents=True, exist_ok=True)
        context: dict[str, Any] = {
            "inputs": inputs or {},
            "github": {"token": self.token, "repository": self.repository, "run_id": run_id},
            "vars": self.vars,
            "runner": {"temp": str(temp)},
            "matrix": matrix or {},
            "needs": {k: {"outputs": v} for k, v in (needs or {}).items()},
            "steps": {},
        }
        base = {
            **self.env,
            "HOME": str(home),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
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
            "GITHUB_JOB": job_id,
            "GITHUB_WORKFLOW": str(wf.get("name", workflow)),
            "RUNNER_TEMP": str(temp),
            "RUNNER_OS": "Linux",
        }
        env = {**base, **self._env(wf.get("env"), context), **self._env(job.get("env"), context)}
        result = JobResult()
        for i, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {i}"
            if "uses" in step:
                self._uses(step, context, env, run_id)
                continue
            if name == "Install tfpilot":
                continue
            step_env = {**env, **self._env(step.get("env"), context)}
            output_file = temp / f"output-{i}"
            output_file.write_text("")
            step_env["GITHUB_OUTPUT"] = str(output_file)
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
                }
            )
            assert done.returncode == 0, (
                f"{workflow}/{job_id}: {name} failed:\n{done.stderr[-4000:]}"
            )
            if "id" in step:
                outputs = dict(
                    line.split("=", 1)
                    for line in output_file.read_text().splitlines()
                    if "=" in line
                )
                context["steps"][step["id"]] = {"outputs": outputs}
                result.outputs[step["id"]] = outputs
        for key, value in (job.get("outputs") or {}).items():
            result.job_outputs[key] = self.evaluate(value, context)
        return result

    # -- expressions --------------------------------------------------------------------------

    def _env(self, values: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, str]:
        return {k: self.evaluate(str(v), context) for k, v in (values or {}).items()}

    def evaluate(self, text: str, context: dict[str, Any]) -> str:
        """``text`` with each ``${{ }}`` replaced (the forms the tfpilot workflows use)."""

        def one(match: re.Match[str]) -> str:
            value = _value(match.group(1), context)
            if isinstance(value, (dict, list)):
                return json.dumps(value)
            return "" if value is None else str(value)

        return _EXPRESSION.sub(one, text)

    # -- actions ------------------------------------------------------------------------------

    def _uses(
        self, step: dict[str, Any], context: dict[str, Any], env: dict[str, str], run_id: str
    ) -> None:
        action = step["uses"].split("@")[0]
        given = {k: self.evaluate(str(v), context) for k, v in (step.get("with") or {}).items()}
        if action in ("actions/checkout", "actions/setup-python"):
            return
        if action == "aws-actions/configure-aws-credentials":
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


def _value(expression: str, context: dict[str, Any]) -> Any:
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
