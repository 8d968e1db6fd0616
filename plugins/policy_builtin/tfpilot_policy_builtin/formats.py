"""Output formats of ``tfpilot policy check``: text, JSON, SARIF 2.1.0 and JUnit XML.

SARIF carries what GitHub code scanning requires (``version``, ``$schema``, ``tool.driver`` with
``name`` and ``rules``, and per result ``ruleId``, ``message.text``, a physical location with a
``startLine``, plus ``partialFingerprints`` so alerts keep their identity across runs). A plan has
no source lines, so each result points at line 1 of the plan file and names the resource address
as its logical location.

Every renderer reads findings by their fields only (``FindingLike`` in
:mod:`tfpilot_policy_builtin.judge`), so the engine's ``PolicyFinding`` objects and the quick
``policy check``'s plain records render to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tfpilot_policy_builtin.api import Rule
    from tfpilot_policy_builtin.judge import FindingLike


class RuleSet(Protocol):
    """What the formats read of the engine: its rules, in order."""

    @property
    def rules(self) -> Sequence[Rule]: ...


class Keyed(Protocol):
    """What the formats read of the environment: its key."""

    @property
    def key(self) -> str: ...


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"blocking": "error", "mandatory": "warning", "advisory": "note"}
#: GitHub ranks security alerts by this (0-10); only security-default rules carry one.
_SECURITY_SEVERITY = {"blocking": "8.0", "mandatory": "5.0", "advisory": "2.0"}


def render(
    fmt: str,
    findings: Sequence[FindingLike],
    *,
    engine: RuleSet,
    plan_path: str,
    environment: Keyed,
) -> str:
    """``findings`` in format ``fmt`` (one of text, json, sarif, junit)."""
    if fmt == "json":
        return to_json(findings, environment)
    if fmt == "sarif":
        return json.dumps(to_sarif(findings, engine, plan_path), indent=2)
    if fmt == "junit":
        return to_junit(findings, engine, plan_path)
    return to_text(findings)


def _summary(findings: Sequence[FindingLike]) -> dict[str, int]:
    counts = {"blocking": 0, "mandatory": 0, "advisory": 0}
    for finding in findings:
        counts[finding.level.value] += 1
    return counts


def to_text(findings: Sequence[FindingLike]) -> str:
    """One line per finding, then a summary line."""
    lines = [
        f"{f.level.value.upper():<10} {f.rule_id:<24} {f.address or '-'}: {f.message}"
        for f in findings
    ]
    counts = _summary(findings)
    lines.append(
        "no findings"
        if not findings
        else ", ".join(f"{n} {level}" for level, n in counts.items() if n)
    )
    return "\n".join(lines) + "\n"


def to_json(findings: Sequence[FindingLike], environment: Keyed) -> str:
    """``{"environment", "summary", "findings"}``, findings as in the ``policy_evaluated`` event."""
    return json.dumps(
        {
            "environment": environment.key,
            "summary": _summary(findings),
            "findings": [finding_record(f) for f in findings],
        },
        indent=2,
    )


def finding_record(finding: FindingLike) -> dict[str, Any]:
    """A finding as JSON data: what ``PolicyFinding.model_dump(mode="json")`` gives (tested)."""
    return {
        "rule_id": finding.rule_id,
        "level": finding.level.value,
        "message": finding.message,
        "address": finding.address,
        "engine": finding.engine,
        "stage": finding.stage,
        "attribute": finding.attribute,
    }


def _fingerprint(finding: FindingLike) -> str:
    return hashlib.sha256(f"{finding.rule_id}|{finding.address}".encode()).hexdigest()


def to_sarif(findings: Sequence[FindingLike], engine: RuleSet, plan_path: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of tool ``tfpilot-policy``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("tfpilot-policy-builtin")
    except PackageNotFoundError:
        tool_version = "0.0.0"
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    for rule in engine.rules:
        rule_index[rule.id] = len(rules)
        properties: dict[str, Any] = {"tags": ["terraform", "policy"], "plugin": rule.plugin}
        if rule.security_default:
            properties["tags"].append("security")
            properties["security-severity"] = _SECURITY_SEVERITY[rule.default_level.value]
        rules.append(
            {
                "id": rule.id,
                "name": "".join(p.capitalize() for p in rule.id.replace(".", "_").split("_")),
                "shortDescription": {"text": rule.title or rule.id},
                "fullDescription": {"text": rule.description or rule.title or rule.id},
                "help": {"text": rule.description or rule.title or rule.id},
                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.default_level.value]},
                "properties": properties,
            }
        )
    uri = plan_path if plan_path != "-" else "plan.json"
    results = []
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "level": _SARIF_LEVEL[finding.level.value],
            "message": {"text": f"{finding.address or 'plan'}: {finding.message}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [
                        {"fullyQualifiedName": finding.address or "plan", "kind": "resource"}
                    ],
                }
            ],
            "partialFingerprints": {"tfpilotFinding/v1": _fingerprint(finding)},
            "properties": {"tfpilotLevel": finding.level.value, "stage": finding.stage},
        }
        if finding.rule_id in rule_index:
            result["ruleIndex"] = rule_index[finding.rule_id]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tfpilot-policy",
                        "version": tool_version,
                        "informationUri": "https://github.com/tfpilot/tfpilot",
                        "rules": rules,
                    }
                },
                "artifacts": [{"location": {"uri": uri}}],
                "results": results,
            }
        ],
    }


def to_junit(findings: Sequence[FindingLike], engine: RuleSet, plan_path: str) -> str:
    """JUnit XML: one test suite per rule; a test case per finding (blocking and mandatory
    findings fail, advisory ones pass with their message as output) and one passing case for a
    rule without findings."""
    import xml.etree.ElementTree as ET

    by_rule: dict[str, list[FindingLike]] = {r.id: [] for r in engine.rules}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    root = ET.Element("testsuites", name=f"tfpilot policy {plan_path}")
    total = failures = 0
    for rule_id, found in by_rule.items():
        suite = ET.SubElement(root, "testsuite", name=rule_id)
        suite_failures = 0
        if not found:
            ET.SubElement(suite, "testcase", classname=rule_id, name="all resources")
        for finding in found:
            case = ET.SubElement(
                suite, "testcase", classname=rule_id, name=finding.address or "request"
            )
            if finding.level.value == "advisory":
                ET.SubElement(case, "system-out").text = f"advisory: {finding.message}"
            else:
                failure = ET.SubElement(
                    case, "failure", message=finding.message, type=finding.level.value
                )
                failure.text = f"{finding.level.value}: {finding.message}"
                suite_failures += 1
        cases = max(len(found), 1)
        suite.set("tests", str(cases))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        total += cases
        failures += suite_failures
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
