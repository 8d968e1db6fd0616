"""Every rule, passing and failing, on AWS-shaped plans as ``terraform show -json`` prints them.

AWS modules cannot be planned offline, so these plans are built by
:class:`tfpilot_policy_builtin.testing.PlanBuilder` with the exact shapes of real output: unknown
ids in ``after_unknown``, module addresses, and a ``configuration`` section whose references are
what links a bucket's public access block and encryption configuration to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.models import PolicyFinding, PolicyLevel
from tfpilot_core.plan import Plan
from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
from tfpilot_policy_builtin.testing import PlanBuilder, const, ref

from .conftest import DEV, PROD

Make = Callable[..., BuiltinPolicyEngine]
OWNER = {"owner": "data"}


def evaluate(
    engine: BuiltinPolicyEngine, plan: dict[str, Any], env: Any = DEV
) -> list[PolicyFinding]:
    # Through JSON text, as a file would arrive.
    return engine.evaluate_plan(Plan.parse(json.dumps(plan)), env)


def found(findings: list[PolicyFinding], rule_id: str) -> dict[str | None, PolicyFinding]:
    return {f.address: f for f in findings if f.rule_id == rule_id}


# -- S3: public access and encryption on separate, linked resources ----------------------------


def test_compliant_bucket_in_a_module_passes(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.s3_bucket("acme-logs-k3x9pq", module='module.logs["eu"]', tags=OWNER)
    assert evaluate(make_engine(), plan.build()) == []


@pytest.mark.parametrize(
    ("block", "sse", "rule", "at"),
    [
        (False, "AES256", "public_access.blocked", "bucket"),
        ({"restrict_public_buckets": False}, "AES256", "public_access.blocked", "block"),
        (True, None, "encryption.enabled", "bucket"),
    ],
    ids=["no-block", "block-flag-off", "no-encryption"],
)
def test_bucket_missing_or_weak_companion_is_a_finding(
    make_engine: Make, block: Any, sse: str | None, rule: str, at: str
) -> None:
    plan = PlanBuilder()
    bucket = plan.s3_bucket("acme-logs", module="module.logs", block=block, sse=sse, tags=OWNER)
    findings = evaluate(make_engine(), plan.build())
    assert {f.rule_id for f in findings} == {rule}
    address = bucket if at == "bucket" else "module.logs.aws_s3_bucket_public_access_block.this"
    assert set(found(findings, rule)) == {address}
    assert found(findings, rule)[address].level is PolicyLevel.BLOCKING


def test_links_follow_references_not_values_and_stay_in_their_module_instance(
    make_engine: Make,
) -> None:
    """Two instances of one module: only the instance without a block is reported, although
    every block's ``bucket`` is unknown (so values alone cannot link anything)."""
    plan = PlanBuilder()
    plan.s3_bucket("acme-a", module='module.data["a"]', tags=OWNER)
    lonely = plan.s3_bucket("acme-b", module='module.data["b"]', tags=OWNER, block=False)
    findings = evaluate(make_engine(), plan.build())
    assert [(f.rule_id, f.address) for f in findings] == [("public_access.blocked", lonely)]


def test_count_and_for_each_instances_link_by_index(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.s3_bucket("acme-0", index=0, tags=OWNER)
    plan.s3_bucket("acme-1", index=1, tags=OWNER, sse=None)
    plan.s3_bucket("acme-x", name="each", index="x", tags=OWNER)
    plan.s3_bucket("acme-y", name="each", index="y", tags=OWNER, block=False)
    findings = evaluate(make_engine(), plan.build())
    assert {(f.rule_id, f.address) for f in findings} == {
        ("encryption.enabled", "aws_s3_bucket.this[1]"),
        ("public_access.blocked", 'aws_s3_bucket.each["y"]'),
    }


def test_block_in_a_child_module_links_through_var_to_the_callers_bucket(
    make_engine: Make,
) -> None:
    """``module "pab" { bucket = aws_s3_bucket.this.id }`` with ``bucket = var.bucket`` inside."""
    plan = PlanBuilder()
    bucket = plan.s3_bucket("acme-logs", module="module.store", block=False, tags=OWNER)
    plan.resource(
        "aws_s3_bucket_public_access_block",
        "this",
        dict.fromkeys(
            [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ],
            True,
        ),
        module="module.store.module.pab",
        unknown={"bucket": True, "id": True},
        expressions={"bucket": ref("var.bucket")},
    )
    plan.call_expressions("module.store.module.pab")["bucket"] = ref(
        "aws_s3_bucket.this.id", "aws_s3_bucket.this"
    )
    assert evaluate(make_engine(), plan.build()) == []
    # Without the module call's argument the block links to nothing: the bucket is reported.
    plan.call_expressions("module.store.module.pab")["bucket"] = const("other")
    assert set(found(evaluate(make_engine(), plan.build()), "public_access.blocked")) == {bucket}


def test_known_bucket_name_links_when_the_configuration_does_not(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.s3_bucket("acme-logs", tags=OWNER, block=False)
    plan.resource(
        "aws_s3_bucket_public_access_block",
        "literal",
        {
            "bucket": "acme-logs",
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
        expressions={"bucket": const("acme-logs")},
    )
    assert evaluate(make_engine(), plan.build()) == []


def test_deleted_bucket_needs_no_companions(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.resource("aws_s3_bucket", "old", None, actions=("delete",), before={"bucket": "old"})
    assert evaluate(make_engine(), plan.build()) == []


@pytest.mark.parametrize(
    ("rtype", "after", "rule"),
    [
        ("aws_s3_bucket_acl", {"acl": "public-read"}, "public_access.blocked"),
        (
            "aws_db_instance",
            {"identifier": "orders", "publicly_accessible": True, "storage_encrypted": True},
            "public_access.blocked",
        ),
        (
            "aws_instance",
            {"associate_public_ip_address": True, "root_block_device": [{"encrypted": True}]},
            "public_access.blocked",
        ),
        (
            "aws_sqs_queue_policy",
            {
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*"}]}
                )
            },
            "public_access.blocked",
        ),
        (
            "aws_ecr_repository_policy",
            {"policy": json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}}})},
            "public_access.blocked",
        ),
        (
            "aws_sqs_queue",
            {"name": "orders", "sqs_managed_sse_enabled": False, "kms_master_key_id": None},
            "encryption.enabled",
        ),
        ("aws_ebs_volume", {"encrypted": False}, "encryption.enabled"),
        ("aws_instance", {"root_block_device": [{"encrypted": False}]}, "encryption.enabled"),
        (
            "aws_instance",
            {
                "root_block_device": [{"encrypted": True}],
                "ebs_block_device": [{"device_name": "/dev/sdb", "encrypted": False}],
            },
            "encryption.enabled",
        ),
        (
            "aws_db_instance",
            {"identifier": "orders", "storage_encrypted": False},
            "encryption.enabled",
        ),
        (
            "aws_rds_cluster",
            {"cluster_identifier": "orders", "storage_encrypted": False},
            "encryption.enabled",
        ),
    ],
)
def test_security_rules_by_resource_type_fail(
    make_engine: Make, rtype: str, after: dict[str, Any], rule: str
) -> None:
    plan = PlanBuilder()
    address = plan.resource(rtype, "this", after)
    findings = evaluate(make_engine(), plan.build())
    assert [(f.rule_id, f.address) for f in findings] == [(rule, address)]


@pytest.mark.parametrize(
    ("rtype", "after", "unknown"),
    [
        ("aws_s3_bucket_acl", {"acl": "private"}, {}),
        (
            "aws_db_instance",
            {"identifier": "orders", "publicly_accessible": False, "storage_encrypted": True},
            {},
        ),
        ("aws_instance", {"root_block_device": [{"encrypted": True}]}, {}),
        (
            "aws_sqs_queue_policy",
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Condition": {"ArnEquals": {"aws:SourceArn": "arn:x"}},
                            }
                        ]
                    }
                )
            },
            {},
        ),
        (
            "aws_sqs_queue",
            {"name": "orders", "kms_master_key_id": None},
            {"sqs_managed_sse_enabled": True},
        ),
        ("aws_sqs_queue", {"name": "orders", "sqs_managed_sse_enabled": True}, {}),
        ("aws_ebs_volume", {"encrypted": True}, {}),
        (
            "aws_ecr_repository",
            {"name": "acme/orders", "encryption_configuration": [{"encryption_type": "AES256"}]},
            {},
        ),
        ("aws_ecr_repository", {"name": "acme/orders", "encryption_configuration": []}, {}),
        ("aws_cloudwatch_log_group", {"name": "/app/orders", "kms_key_id": None}, {}),
        ("aws_rds_cluster", {"cluster_identifier": "orders", "storage_encrypted": True}, {}),
    ],
)
def test_security_rules_by_resource_type_pass(
    make_engine: Make, rtype: str, after: dict[str, Any], unknown: dict[str, Any]
) -> None:
    plan = PlanBuilder()
    plan.resource(rtype, "this", after, unknown=unknown)
    assert evaluate(make_engine(), plan.build()) == []


KEY = "arn:aws:kms:eu-west-1:1:key/x"


@pytest.mark.parametrize(
    ("rtype", "after", "with_kms"),
    [
        ("aws_cloudwatch_log_group", {"name": "/app/orders"}, {"kms_key_id": KEY}),
        (
            "aws_ecr_repository",
            {"name": "acme/orders", "encryption_configuration": []},
            {"encryption_configuration": [{"encryption_type": "KMS", "kms_key": KEY}]},
        ),
        ("aws_sqs_queue", {"name": "orders"}, {"kms_master_key_id": KEY}),
        ("aws_ebs_volume", {"encrypted": True}, {"kms_key_id": KEY}),
    ],
)
def test_kms_required_types(
    make_engine: Make, rtype: str, after: dict[str, Any], with_kms: dict[str, Any]
) -> None:
    engine = make_engine(kms_required_types=[rtype])
    plan = PlanBuilder()
    address = plan.resource(rtype, "this", after)
    assert [(f.rule_id, f.address) for f in evaluate(engine, plan.build())] == [
        ("encryption.enabled", address)
    ]
    kms_plan = PlanBuilder()
    kms_plan.resource(rtype, "this", {**after, **with_kms})
    assert evaluate(engine, kms_plan.build()) == []
    # Without the requirement the service default encryption is enough.
    assert evaluate(make_engine(), plan.build()) == []


# -- naming, tags, regions, sizes, destruction -------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "attribute", "good", "bad"),
    [
        ("aws_s3_bucket", "bucket", "acme-logs.eu", "Acme_Logs"),
        ("aws_sqs_queue", "name", "orders-k3x9pq", "Orders"),
        ("aws_ecr_repository", "name", "acme/orders", "Acme/Orders"),
        ("aws_cloudwatch_log_group", "name", "/app/orders", "/app/orders with space"),
        ("aws_db_instance", "identifier", "orders-db", "orders_db"),
    ],
)
def test_naming(make_engine: Make, rtype: str, attribute: str, good: str, bad: str) -> None:
    extra = {"storage_encrypted": True} if rtype == "aws_db_instance" else {}
    for name, expected in ((good, []), (bad, ["naming.pattern"])):
        plan = PlanBuilder()
        if rtype == "aws_s3_bucket":
            plan.s3_bucket(name, tags=OWNER)
        else:
            plan.resource(rtype, "this", {attribute: name, **extra})
        assert [f.rule_id for f in evaluate(make_engine(), plan.build())] == expected, name


def test_required_tags_count_provider_default_tags(make_engine: Make) -> None:
    engine = make_engine(required_tags=["owner", "cost-center"])
    plan = PlanBuilder(default_tags={"cost-center": "cc-1"})
    plan.s3_bucket("acme-a", tags={"owner": "x"})
    plan.resource(
        "aws_sqs_queue",
        "q",
        {"name": "orders", "tags": {"owner": "x"}, "sqs_managed_sse_enabled": True},
        unknown={"tags_all": True},
    )
    assert evaluate(engine, plan.build()) == []
    bare = PlanBuilder()
    bucket = bare.s3_bucket("acme-a", tags={"owner": "x"})
    (finding,) = evaluate(engine, bare.build())
    assert (finding.rule_id, finding.address) == ("tags.required", bucket)
    assert "cost-center" in finding.message and "owner" not in finding.message


def test_tags_known_only_after_apply_count_as_present(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.resource(
        "aws_ebs_volume",
        "v",
        {"encrypted": True, "tags": {}},
        unknown={"tags": {"owner": True}},
    )
    assert evaluate(make_engine(required_tags=["owner"]), plan.build()) == []


def test_untaggable_resources_are_not_judged_for_tags(make_engine: Make) -> None:
    plan = PlanBuilder()
    plan.s3_bucket("acme-a", tags=OWNER)  # its block and encryption configuration have no tags
    assert evaluate(make_engine(required_tags=["owner"]), plan.build()) == []


def test_regions_from_provider_config_variables_and_attributes(make_engine: Make) -> None:
    engine = make_engine(allowed_regions=["eu-west-1"])
    ok = PlanBuilder(region="eu-west-1")
    ok.s3_bucket("acme-a", tags=OWNER)
    assert evaluate(engine, ok.build()) == []
    bad = PlanBuilder(region=None, provider_expressions={"region": ref("var.region")})
    bad.variables = {"region": {"value": "us-east-1"}}
    bad.s3_bucket("acme-a", tags=OWNER)
    bad.resource("aws_sqs_queue", "q", {"name": "queue-1", "region": "ap-south-1"})
    assert {(f.rule_id, f.address) for f in evaluate(engine, bad.build())} == {
        ("region.allowed", "provider.aws"),
        ("region.allowed", "aws_sqs_queue.q"),
    }


def test_sizes_per_environment(make_engine: Make) -> None:
    engine = make_engine(
        allowed_sizes={"aws_instance.instance_type": ["t3.micro", "t3.small", "m5.large"]},
        environments={"prod": {"allowed_sizes": {"aws_instance.instance_type": ["m5.large"]}}},
    )
    plan = PlanBuilder()
    plan.resource(
        "aws_instance",
        "web",
        {"instance_type": "t3.small", "root_block_device": [{"encrypted": True}]},
    )
    assert evaluate(engine, plan.build(), DEV) == []
    (finding,) = evaluate(engine, plan.build(), PROD)
    assert (finding.rule_id, finding.level) == ("size.allowed", PolicyLevel.MANDATORY)


@pytest.mark.parametrize("actions", [("delete",), ("delete", "create"), ("create", "delete")])
def test_destructive_changes_only_matter_in_protected_environments(
    make_engine: Make, actions: tuple[str, ...]
) -> None:
    plan = PlanBuilder()
    address = plan.resource(
        "aws_sqs_queue",
        "q",
        {"name": "orders", "sqs_managed_sse_enabled": True},
        actions=actions,
        before={"name": "orders"},
        module="module.queue",
    )
    assert evaluate(make_engine(), plan.build(), DEV) == []
    (finding,) = evaluate(make_engine(), plan.build(), PROD)
    assert (finding.rule_id, finding.address, finding.level) == (
        "destroy.protected",
        address,
        PolicyLevel.MANDATORY,
    )
    assert "prod" in finding.message


def test_every_module_depth_is_judged(make_engine: Make) -> None:
    plan = PlanBuilder()
    deep = 'module.a.module.b["x"].module.c[0]'
    plan.resource("aws_ebs_volume", "v", {"encrypted": False}, module=deep)
    (finding,) = evaluate(make_engine(), plan.build())
    assert finding.address == f"{deep}.aws_ebs_volume.v"
