"""Failures explained (issue 28 item 3): masked facts of a failed run, and the rule-based cause."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.failures import CAUSES, explain_failure, failure_facts, render_failure

SECRET = "Sup3r-Secret-Passw0rd-4711"

#: (log as Terraform prints it, expected cause)
LOGS = [
    (
        "Error: error configuring Terraform AWS Provider: no valid credential sources for "
        'Terraform AWS Provider found.\n\n  with provider["registry.terraform.io/hashicorp/aws"],',
        "provider_auth",
    ),
    (
        "aws_s3_bucket.logs: Creating...\n╷\n│ Error: creating S3 Bucket (logs): operation error "
        "S3: CreateBucket, https response error StatusCode: 403, api error AccessDenied: Access "
        "Denied\n│\n│   with aws_s3_bucket.logs,\n╵",
        "provider_auth",
    ),
    (
        "Error: creating EC2 Instance: VcpuLimitExceeded: You have requested more vCPU capacity "
        "than your current vCPU limit of 32 allows",
        "quota",
    ),
    ("Error: creating SQS Queue: RequestThrottled: Rate exceeded", "quota"),
    (
        "│ Error: creating S3 Bucket (logs-abc234): BucketAlreadyExists: The requested bucket "
        "name is not available",
        "name_conflict",
    ),
    ("Error: name taken\n\nsandbox_bucket 'events' already exists", "name_conflict"),
    (
        'Error: Invalid value for variable\n\n  on variables.tf line 1:\n   1: variable "size" '
        "{\n\nsize must be one of small, medium, large.",
        "validation",
    ),
    (
        'Error: Unsupported argument\n\nAn argument named "sizee" is not expected here.',
        "validation",
    ),
    (
        "Error: Error acquiring the state lock\n\nError message: ConditionalCheckFailedException: "
        "The conditional request failed\nLock Info:\n  ID: 1234",
        "state_lock",
    ),
    (
        "Error: waiting for RDS Cluster (db) create: timeout while waiting for state to become "
        "'available' (last state: 'creating', timeout: 1h0m0s)",
        "timeout",
    ),
    ("Error: something nobody has seen before", "unknown"),
]


@pytest.mark.parametrize(("log", "cause"), LOGS, ids=[c for _, c in LOGS])
def test_common_failures_are_recognised(log: str, cause: str) -> None:
    explained = explain_failure("apply", f"Terraform will perform the actions\n{log}\n")
    assert explained.cause == cause
    assert explained.text.startswith("The apply failed.")
    assert explained.hints
    if cause != "unknown":
        assert explained.evidence is not None and explained.evidence in log.replace("│ ", "")


def test_every_cause_has_a_test() -> None:
    assert {c.id for c in CAUSES} <= {cause for _, cause in LOGS}


def test_json_diagnostics_are_read() -> None:
    lines = [
        json.dumps({"@level": "info", "@message": "Plan: 1 to add"}),
        json.dumps(
            {
                "@level": "error",
                "@message": "Error: creating queue",
                "diagnostic": {
                    "severity": "error",
                    "summary": "creating queue",
                    "detail": "QueueAlreadyExists: a queue already exists with the same name",
                    "address": "aws_sqs_queue.jobs",
                },
            }
        ),
    ]
    explained = explain_failure("apply", "\n".join(lines))
    [diag] = explained.facts.diagnostics
    assert diag.address == "aws_sqs_queue.jobs"
    assert explained.cause == "name_conflict"


def test_secrets_are_masked_in_facts_evidence_and_rendering() -> None:
    log = (
        f"Error: connecting to postgres://admin:{SECRET}@db.internal:5432/app: "
        f"access denied for user admin (password {SECRET})\n"
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 rejected"
    )
    explained = explain_failure("plan", log, secrets=[SECRET])
    assert explained.cause == "provider_auth"
    everything = json.dumps(explained.to_dict()) + render_failure(explained)
    everything += render_failure(explained, markdown=True)
    assert SECRET not in everything
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in everything


def test_the_tail_is_bounded() -> None:
    log = "\n".join(f"line {i} " + "x" * 200 for i in range(1000)) + "\nError: boom"
    facts = failure_facts("apply", log)
    assert facts.log_tail[-1] == "Error: boom"
    assert sum(len(line) for line in facts.log_tail) <= 4000
    assert facts.omitted_lines == 1001 - len(facts.log_tail)


def test_rendering_has_the_runbook_and_the_source() -> None:
    explained = explain_failure(
        "drift", "Error: Error acquiring the state lock", runbook="https://runbooks/state-lock"
    )
    text = render_failure(explained)
    assert text.splitlines()[0] == "The state is locked (state_lock)"
    assert "The drift check failed." in text
    assert "Runbook: https://runbooks/state-lock" in text
    assert "Explained by tfpilot's rules." in text
    assert "**The state is locked** (state_lock)" in render_failure(explained, markdown=True)


@given(st.text(max_size=3000))
def test_any_log_gives_an_explanation(log: str) -> None:
    explained = explain_failure("apply", log)
    assert explained.cause in {c.id for c in CAUSES} | {"unknown"}
    render_failure(explained)
    render_failure(explained, markdown=True)
