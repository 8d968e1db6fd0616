"""``tfpilot policy show`` and ``tfpilot policy check`` with every output format.

SARIF is read into the SARIF 2.1.0 object model of ``sarif-om`` (Microsoft's classes generated
from the schema; unknown properties and missing required ones are refused) and validated by
``sarif-pydantic``; GitHub code scanning's required fields are checked one by one. JUnit is read
back by ``junitparser``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tfpilot_core.cli import cli as root
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode
from tfpilot_core.plugins import load_plugins
from tfpilot_policy_builtin import plugin as builtin_plugin
from tfpilot_policy_builtin.testing import PlanBuilder

CONFIG = """
[core]
environments = [
  { key = "dev", slug = "development" },
  { key = "prod", slug = "production", protected = true },
]

[plugins.policy_builtin]
required_tags = ["owner"]
allowed_regions = ["eu-west-1"]

[plugins.policy_builtin.environments.prod]
levels = { "tags.required" = "blocking" }
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    config = tmp_path / "tfpilot.toml"
    config.write_text(CONFIG)
    bad = PlanBuilder()
    bad.s3_bucket("acme-open", module='module.data["b"]', tags={"owner": "o"}, block=False)
    bad.s3_bucket("acme-untagged", module='module.data["c"]')
    good = PlanBuilder()
    good.s3_bucket("acme-good", module='module.data["a"]', tags={"owner": "o"})
    (tmp_path / "bad.json").write_text(json.dumps(bad.build()))
    (tmp_path / "good.json").write_text(json.dumps(good.build()))
    (tmp_path / "broken.json").write_text('{"format_version": "1.2", "resource_changes": 5}')
    home = tmp_path / "home"
    home.mkdir()
    return {"config": config, "bad": tmp_path / "bad.json", "good": tmp_path / "good.json",
            "broken": tmp_path / "broken.json", "home": home}  # fmt: skip


def invoke(files: dict[str, Path], *args: str) -> Any:
    """Run the real root group with only this plugin (and the defaults) loaded."""
    loaded = load_plugins(
        entry_points=False, environ={}, extra=[("policy_builtin", builtin_plugin)]
    )
    builtin_plugin.tfpilot_register_commands(cli=root)
    runner = CliRunner()
    return runner.invoke(
        root,
        ["--config", str(files["config"]), *args],
        obj=App(loaded=loaded),
        env={"TFPILOT_HOME": str(files["home"])},
    )


def test_show_prints_the_effective_policy(files: dict[str, Path]) -> None:
    result = invoke(files, "policy", "show", "--json")
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    assert set(policy["environments"]) == {"dev", "prod"}
    assert policy["environments"]["prod"]["levels"]["tags.required"] == "blocking"
    assert policy["environments"]["dev"]["parameters"]["required_tags"] == ["owner"]
    text = invoke(files, "policy", "show", "--env", "prod")
    assert text.exit_code == 0
    assert "environment prod (protected)" in text.output
    assert "public_access.blocked" in text.output and "[security default]" in text.output


def test_check_passes_a_compliant_plan(files: dict[str, Path]) -> None:
    result = invoke(files, "policy", "check", str(files["good"]))
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_check_blocks_a_violating_plan_with_exit_9(files: dict[str, Path], fmt: str) -> None:
    result = invoke(files, "policy", "check", str(files["bad"]), "--format", fmt)
    assert result.exit_code == ExitCode.POLICY == 9
    # Quotes of the address are escaped differently per format.
    assert "aws_s3_bucket.this" in result.stdout
    assert "policy: 2 finding(s) at or above mandatory" in result.stderr


def test_fail_on_and_environment(files: dict[str, Path]) -> None:
    untagged = PlanBuilder()
    untagged.s3_bucket("acme-untagged")
    path = files["good"].with_name("untagged.json")
    path.write_text(json.dumps(untagged.build()))
    assert invoke(files, "policy", "check", str(path), "--fail-on", "blocking").exit_code == 0
    prod = invoke(files, "policy", "check", str(path), "--env", "prod", "--fail-on", "blocking")
    assert prod.exit_code == 9  # tags.required is blocking in prod
    unknown = invoke(files, "policy", "check", str(path), "--env", "qa")
    assert unknown.exit_code == ExitCode.VALIDATION and "unknown environment" in unknown.output


def test_check_refuses_malformed_plans_clearly(files: dict[str, Path]) -> None:
    result = invoke(files, "policy", "check", str(files["broken"]))
    assert result.exit_code == ExitCode.VALIDATION
    assert "resource_changes: must be an array" in result.output
    missing = invoke(files, "policy", "check", str(files["home"] / "nope.json"))
    assert missing.exit_code == ExitCode.VALIDATION


# -- SARIF ------------------------------------------------------------------------------------

#: Which sarif-om class each nested property holds (lists hold one class each).
_SARIF_CHILDREN: dict[tuple[str, str], str] = {
    ("SarifLog", "runs"): "Run",
    ("Run", "tool"): "Tool",
    ("Run", "results"): "Result",
    ("Run", "artifacts"): "Artifact",
    ("Artifact", "location"): "ArtifactLocation",
    ("Tool", "driver"): "ToolComponent",
    ("ToolComponent", "rules"): "ReportingDescriptor",
    ("ReportingDescriptor", "shortDescription"): "MultiformatMessageString",
    ("ReportingDescriptor", "fullDescription"): "MultiformatMessageString",
    ("ReportingDescriptor", "help"): "MultiformatMessageString",
    ("ReportingDescriptor", "defaultConfiguration"): "ReportingConfiguration",
    ("Result", "message"): "Message",
    ("Result", "locations"): "Location",
    ("Location", "physicalLocation"): "PhysicalLocation",
    ("Location", "logicalLocations"): "LogicalLocation",
    ("PhysicalLocation", "artifactLocation"): "ArtifactLocation",
    ("PhysicalLocation", "region"): "Region",
}


def into_sarif_om(cls_name: str, data: Any) -> Any:
    """Build sarif-om objects from JSON, refusing properties the object model does not have."""
    import attr
    import sarif_om

    cls = getattr(sarif_om, cls_name)
    assert isinstance(data, dict), f"{cls_name} must be an object"
    by_property = {f.metadata["schema_property_name"]: f.name for f in attr.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        assert key in by_property, f"{cls_name} has no property {key!r}"
        child = _SARIF_CHILDREN.get((cls_name, key))
        if child is not None:
            value = (
                [into_sarif_om(child, v) for v in value]
                if isinstance(value, list)
                else into_sarif_om(child, value)
            )
        kwargs[by_property[key]] = value
    return cls(**kwargs)  # a missing required property is a TypeError


def test_sarif_is_valid_2_1_0_with_github_fields(files: dict[str, Path]) -> None:
    result = invoke(files, "policy", "check", str(files["bad"]), "--format", "sarif")
    document = json.loads(result.stdout)
    log = into_sarif_om("SarifLog", document)
    assert log.version == "2.1.0"
    from sarif_pydantic import Sarif

    parsed = Sarif.model_validate(document)
    assert len(parsed.runs[0].results or []) == 2
    # GitHub code scanning: https://docs.github.com/en/code-security/code-scanning (SARIF support)
    assert document["$schema"].endswith("sarif-2.1.0.json")
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] and driver["rules"]
    rule_ids = {r["id"] for r in driver["rules"]}
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    for item in run["results"]:
        assert item["ruleId"] in rule_ids and item["message"]["text"]
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
        location = item["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] and location["region"]["startLine"] >= 1
        assert item["partialFingerprints"]
    security = [r for r in driver["rules"] if "security" in r["properties"]["tags"]]
    assert all(float(r["properties"]["security-severity"]) > 0 for r in security)


def test_sarif_of_a_clean_plan_has_no_results(files: dict[str, Path]) -> None:
    result = invoke(files, "policy", "check", str(files["good"]), "--format", "sarif")
    document = json.loads(result.stdout)
    into_sarif_om("SarifLog", document)
    assert document["runs"][0]["results"] == []


# -- JUnit ------------------------------------------------------------------------------------


def test_junit_is_read_back_by_a_junit_parser(files: dict[str, Path], tmp_path: Path) -> None:
    from junitparser import Failure, JUnitXml

    out = tmp_path / "policy.xml"
    result = invoke(
        files, "policy", "check", str(files["bad"]), "--format", "junit", "-o", str(out)
    )
    assert result.exit_code == 9
    xml = JUnitXml.fromfile(str(out))
    suites = {suite.name: suite for suite in xml}
    assert suites["public_access.blocked"].failures == 1
    assert suites["tags.required"].failures == 1
    assert suites["naming.pattern"].failures == 0
    failed = {
        (case.classname, case.name)
        for suite in xml
        for case in suite
        if any(isinstance(r, Failure) for r in case.result)
    }
    assert failed == {
        ("public_access.blocked", 'module.data["b"].aws_s3_bucket.this'),
        ("tags.required", 'module.data["c"].aws_s3_bucket.this'),
    }
    assert xml.tests >= len(suites) and xml.failures == 2


# -- the installed command ----------------------------------------------------------------------


@pytest.mark.slow
def test_installed_tfpilot_has_the_policy_commands(files: dict[str, Path]) -> None:
    tfpilot = Path(sys.executable).parent / "tfpilot"
    env = {
        **os.environ,
        "TFPILOT_HOME": str(files["home"]),
        "TFPILOT_LOAD_PLUGINS": "policy_builtin",
    }
    run = subprocess.run(
        [str(tfpilot), "--config", str(files["config"]), "policy", "check", str(files["bad"]),
         "--format", "json"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert run.returncode == 9, run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["blocking"] == 1 and report["summary"]["mandatory"] == 1


def test_commands_register_on_any_group() -> None:
    @click.group()
    def bare() -> None:
        """A root group."""

    builtin_plugin.tfpilot_register_commands(cli=bare)
    assert set(bare.commands["policy"].commands) == {"show", "check"}  # type: ignore[attr-defined]
