"""The built-in rules: naming, regions, tags, public access, encryption, destruction, sizes.

Each rule knows the resource types it judges. On AWS, S3 public access and encryption live on
separate resources (``aws_s3_bucket_public_access_block``,
``aws_s3_bucket_server_side_encryption_configuration``) linked to the bucket through the plan's
configuration (see :mod:`tfpilot_policy_builtin.index`); a bucket without them is a finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from tfpilot_core.levels import PolicyLevel
from tfpilot_policy_builtin.api import Hit, PlanContext, RequestContext, Rule
from tfpilot_policy_builtin.index import Resource, shape_error

#: The attribute holding a resource's name, per type.
NAME_ATTRIBUTES: dict[str, str] = {
    "aws_s3_bucket": "bucket",
    "aws_sqs_queue": "name",
    "aws_ecr_repository": "name",
    "aws_cloudwatch_log_group": "name",
    "aws_db_instance": "identifier",
    "aws_rds_cluster": "cluster_identifier",
    "aws_iam_role": "name",
    "aws_sns_topic": "name",
    "sandbox_bucket": "name",
    "sandbox_queue": "name",
    "sandbox_instance": "name",
}

#: The prefix of the tag keys tfpilot sets on its own requests' resources.
RESERVED_TAG_PREFIX = "tfpilot:"

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_ACCESS_FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
#: Resource policies that can open a resource to everyone.
POLICY_TYPES = ("aws_s3_bucket_policy", "aws_sqs_queue_policy", "aws_ecr_repository_policy")
S3_SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


def _live(ctx: PlanContext, *types: str) -> Iterator[Resource]:
    for resource_type in types:
        for resource in ctx.index.by_type.get(resource_type, ()):
            if resource.live:
                yield resource


def _input_str(ctx: RequestContext, key: str) -> str | None:
    value = ctx.inputs.get(key)
    return value if isinstance(value, str) else None


class PlanCompleteRule(Rule):
    """An errored or incomplete plan is never judged as if it were whole (a security default)."""

    id = "plan.complete"
    title = "The plan is complete"
    description = (
        "Terraform writes a plan file even when planning fails (`errored: true`, "
        "`complete: false`, `applyable: false`); such a plan holds only part of the change, so "
        "every other rule would judge too little. It blocks, as does a plan Terraform marks "
        "incomplete (deferred changes)."
    )
    default_level = PolicyLevel.BLOCKING
    security_default = True

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        reason = ctx.plan.incomplete()
        if reason is not None:
            yield Hit(None, reason)


class NamingRule(Rule):
    """Resource names follow the naming pattern (per type, or the default one)."""

    id = "naming.pattern"
    title = "Names follow the naming convention"
    description = (
        "Names of buckets, queues, repositories, log groups, databases and sandbox resources "
        "match `naming_pattern` (or `naming_patterns[<type or module>]`)."
    )
    default_level = PolicyLevel.MANDATORY

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        pattern = ctx.params.naming_patterns.get(ctx.module, ctx.params.naming_pattern)
        for key in ctx.params.name_inputs:
            name = _input_str(ctx, key)
            if name is not None and not pattern.fullmatch(name):
                yield Hit(f"inputs.{key}", f"name {name!r} does not match {pattern.pattern}")

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        for resource_type, attribute in NAME_ATTRIBUTES.items():
            pattern = ctx.params.pattern_for(resource_type)
            for resource in _live(ctx, resource_type):
                name = resource.str_attr(attribute)
                if name is not None and not pattern.fullmatch(name):
                    yield Hit(
                        resource.address,
                        f"{attribute} {name!r} does not match {pattern.pattern}",
                        attribute=attribute,
                    )


class RegionRule(Rule):
    """Providers and resources use allowed regions only."""

    id = "region.allowed"
    title = "Only allowed regions"
    description = (
        "Provider `region` settings, resource `region` attributes and the request's region "
        "input are in `allowed_regions`."
    )
    default_level = PolicyLevel.BLOCKING

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        allowed = ctx.params.allowed_regions
        if allowed is None:
            return
        for key in ctx.params.region_inputs:
            region = _input_str(ctx, key)
            if region is not None and region not in allowed:
                yield Hit(f"inputs.{key}", f"region {region!r} is not allowed ({_list(allowed)})")

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        allowed = ctx.params.allowed_regions
        if allowed is None:
            return
        for key, region in ctx.index.provider_regions():
            if not isinstance(region, str) or region not in allowed:
                yield Hit(
                    f"provider.{key}",
                    f"provider region {region!r} is not allowed ({_list(allowed)})",
                )
        for resource in ctx.index.resources:
            if resource.live and "region" in resource.after:
                region = resource.str_attr("region")
                if region is not None and region not in allowed:
                    yield Hit(
                        resource.address,
                        f"region {region!r} is not allowed ({_list(allowed)})",
                        attribute="region",
                    )


class TagsRule(Rule):
    """Taggable resources carry the required tags (provider default tags count)."""

    id = "tags.required"
    title = "Required tags are present"
    description = (
        "Every taggable resource (one with `tags`) carries each of `required_tags`, counting "
        "the provider's `default_tags`; the request's tags input too. The keys tfpilot writes "
        "itself (`tfpilot:*`) are required only on plans of tfpilot's own requests, unless "
        "`tfpilot_tags_everywhere` is set: a plan made elsewhere cannot carry them."
    )
    default_level = PolicyLevel.MANDATORY

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        required = ctx.params.required_tags
        for key in ctx.params.tags_inputs:
            tags = ctx.inputs.get(key)
            if isinstance(tags, dict):
                missing = [t for t in required if t not in tags]
                if missing:
                    yield Hit(
                        f"inputs.{key}",
                        f"missing required tags: {', '.join(missing)}",
                        attribute=key,
                    )

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        required = self.required_on(ctx)
        if not required:
            return
        for resource in ctx.index.resources:
            if not resource.live or not resource.taggable:
                continue
            if resource.is_unknown("tags") or resource.is_unknown("tags_all"):
                # Tags computed from values known only after apply: nothing to judge yet.
                continue
            tags = resource.tags()
            if tags is None:
                continue  # no key/value tags in this provider's shape (the reason is logged)
            missing = [t for t in required if t not in tags]
            if missing:
                defaults = ctx.index.provider_default_tags(resource)
                missing = [t for t in missing if t not in defaults]
            if missing:
                yield Hit(
                    resource.address,
                    f"missing required tags: {', '.join(missing)}",
                    attribute="tags",
                )

    @staticmethod
    def required_on(ctx: PlanContext) -> tuple[str, ...]:
        """The tags required on this plan: ``tfpilot:*`` keys only when tfpilot made the plan
        for a request (or ``tfpilot_tags_everywhere`` says so)."""
        required = ctx.params.required_tags
        if ctx.request is not None or ctx.params.tfpilot_tags_everywhere:
            return required
        return tuple(t for t in required if not t.startswith(RESERVED_TAG_PREFIX))


def _policy_is_public(document: Any) -> bool:
    """Whether an IAM policy document allows anyone (``Principal: "*"``) without a condition."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return False
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        everyone = principal == "*" or aws == "*" or (isinstance(aws, list) and "*" in aws)
        if everyone and not statement.get("Condition"):
            return True
    return False


class PublicAccessRule(Rule):
    """Public access is blocked (a security default)."""

    id = "public_access.blocked"
    title = "Public access is blocked"
    description = (
        "S3 buckets have a linked aws_s3_bucket_public_access_block with all four flags on and "
        'no public ACL; no resource policy allows Principal "*" without a condition; RDS '
        "instances are not publicly accessible; EC2 instances get no public IP; sandbox buckets "
        "have public_access off and sandbox instances no public_ip."
    )
    default_level = PolicyLevel.BLOCKING
    security_default = True

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        for key in ("public_access", "public_ip", "publicly_accessible"):
            if ctx.inputs.get(key) is True:
                yield Hit(
                    f"inputs.{key}",
                    f"{key} is on: public access is blocked by default",
                    attribute=key,
                )

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        index = ctx.index
        for resource in _live(ctx, "sandbox_bucket"):
            if resource.bool_attr("public_access") is True:
                yield Hit(resource.address, "public_access is on", attribute="public_access")
        for resource in _live(ctx, "sandbox_instance"):
            if resource.bool_attr("public_ip") is True:
                yield Hit(
                    resource.address, "the instance gets a public IP address", attribute="public_ip"
                )
        for resource in _live(ctx, "aws_instance"):
            if resource.bool_attr("associate_public_ip_address") is True:
                yield Hit(
                    resource.address,
                    "the instance gets a public IP address",
                    attribute="associate_public_ip_address",
                )
        for resource in _live(ctx, "aws_db_instance", "aws_rds_cluster_instance"):
            if resource.bool_attr("publicly_accessible") is True:
                yield Hit(
                    resource.address,
                    "the database is publicly accessible",
                    attribute="publicly_accessible",
                )
        blocks = index.linked(
            "aws_s3_bucket", "aws_s3_bucket_public_access_block", "bucket", "bucket"
        )
        for bucket in _live(ctx, "aws_s3_bucket"):
            if not blocks.get(bucket.address):
                yield Hit(bucket.address, "the bucket has no aws_s3_bucket_public_access_block")
            acl = bucket.str_attr("acl")
            if acl in PUBLIC_ACLS:
                yield Hit(bucket.address, f"the bucket ACL {acl!r} is public", attribute="acl")
        for block in _live(ctx, "aws_s3_bucket_public_access_block"):
            off = [f for f in PUBLIC_ACCESS_FLAGS if block.bool_attr(f) is not True]
            off = [f for f in off if not block.is_unknown(f)]
            if off:
                yield Hit(
                    block.address,
                    f"public access block flags not on: {', '.join(off)}",
                    attribute=off[0],
                )
        for acl_resource in _live(ctx, "aws_s3_bucket_acl"):
            acl = acl_resource.str_attr("acl")
            if acl in PUBLIC_ACLS:
                yield Hit(
                    acl_resource.address, f"the bucket ACL {acl!r} is public", attribute="acl"
                )
        for policy in _live(ctx, *POLICY_TYPES):
            if _policy_is_public(policy.value("policy")):
                yield Hit(
                    policy.address,
                    'the policy allows Principal "*" without a condition',
                    attribute="policy",
                )


class EncryptionRule(Rule):
    """Data at rest is encrypted (a security default)."""

    id = "encryption.enabled"
    title = "Encryption at rest is on"
    description = (
        "S3 buckets have a linked aws_s3_bucket_server_side_encryption_configuration; SQS "
        "queues use SSE; EBS volumes, EC2 block devices and RDS storage are encrypted; ECR "
        "repositories use AES256 or KMS; sandbox buckets and queues have encryption on. Types "
        "in `kms_required_types` must use a KMS key."
    )
    default_level = PolicyLevel.BLOCKING
    security_default = True

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        for key in ("encryption", "storage_encrypted", "encrypted"):
            if ctx.inputs.get(key) is False:
                yield Hit(
                    f"inputs.{key}", f"{key} is off: encryption is on by default", attribute=key
                )

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        kms = ctx.params.kms_required_types
        yield from self._sandbox(ctx)
        yield from self._s3(ctx, "aws_s3_bucket" in kms)
        for queue in _live(ctx, "aws_sqs_queue"):
            key = queue.value("kms_master_key_id") or queue.is_unknown("kms_master_key_id")
            if "aws_sqs_queue" in kms and not key:
                yield Hit(queue.address, "the queue is not encrypted with a KMS key")
            elif not key and queue.bool_attr("sqs_managed_sse_enabled") is False:
                yield Hit(queue.address, "the queue has neither SSE-SQS nor a KMS key")
        for volume in _live(ctx, "aws_ebs_volume"):
            if volume.bool_attr("encrypted") is not True and not volume.is_unknown("encrypted"):
                yield Hit(volume.address, "the volume is not encrypted", attribute="encrypted")
            elif "aws_ebs_volume" in kms and not self._has(volume, "kms_key_id"):
                yield Hit(
                    volume.address,
                    "the volume is not encrypted with a KMS key",
                    attribute="kms_key_id",
                )
        for instance in _live(ctx, "aws_instance"):
            yield from self._instance(instance)
        for db in _live(ctx, "aws_db_instance", "aws_rds_cluster"):
            if db.bool_attr("storage_encrypted") is not True and not db.is_unknown(
                "storage_encrypted"
            ):
                yield Hit(
                    db.address, "database storage is not encrypted", attribute="storage_encrypted"
                )
            elif db.type in kms and not self._has(db, "kms_key_id"):
                yield Hit(
                    db.address,
                    "database storage is not encrypted with a KMS key",
                    attribute="kms_key_id",
                )
        for repo in _live(ctx, "aws_ecr_repository"):
            kinds = [b.get("encryption_type") for b in repo.blocks("encryption_configuration")]
            kind = kinds[0] if kinds else "AES256"
            if kind not in ("AES256", "KMS", None):
                yield Hit(repo.address, f"unknown encryption type {kind!r}")
            elif "aws_ecr_repository" in kms and kind != "KMS":
                yield Hit(repo.address, "the repository is not encrypted with a KMS key")
        if "aws_cloudwatch_log_group" in kms:
            for group in _live(ctx, "aws_cloudwatch_log_group"):
                if not self._has(group, "kms_key_id"):
                    yield Hit(group.address, "the log group is not encrypted with a KMS key")

    @staticmethod
    def _has(resource: Resource, attribute: str) -> bool:
        return bool(resource.value(attribute)) or resource.is_unknown(attribute)

    def _sandbox(self, ctx: PlanContext) -> Iterator[Hit]:
        for resource in _live(ctx, "sandbox_bucket", "sandbox_queue"):
            if resource.bool_attr("encryption") is not True and not resource.is_unknown(
                "encryption"
            ):
                yield Hit(resource.address, "encryption is off", attribute="encryption")

    def _s3(self, ctx: PlanContext, kms: bool) -> Iterator[Hit]:
        configs = ctx.index.linked(
            "aws_s3_bucket",
            "aws_s3_bucket_server_side_encryption_configuration",
            "bucket",
            "bucket",
        )
        for bucket in _live(ctx, "aws_s3_bucket"):
            algorithms = [
                self._sse_algorithm(c) for c in configs.get(bucket.address, ())
            ] + self._inline_algorithms(bucket)
            if not algorithms:
                yield Hit(
                    bucket.address,
                    "the bucket has no aws_s3_bucket_server_side_encryption_configuration",
                )
            elif kms and not any(a is None or str(a).startswith("aws:kms") for a in algorithms):
                yield Hit(bucket.address, "the bucket is not encrypted with a KMS key")

    @staticmethod
    def _sse_algorithm(config: Resource) -> str | None:
        for rule in config.blocks("rule"):
            defaults = rule.get("apply_server_side_encryption_by_default")
            if isinstance(defaults, list) and defaults and isinstance(defaults[0], dict):
                algorithm = defaults[0].get("sse_algorithm")
                if algorithm is None or isinstance(algorithm, str):
                    return algorithm
                raise shape_error(f"{config.where}.change.after.rule", "sse_algorithm")
        return "AES256" if not config.blocks("rule") else None

    @staticmethod
    def _inline_algorithms(bucket: Resource) -> list[str | None]:
        # Provider v3 kept the configuration inline on the bucket; v4+ reports it computed.
        if bucket.is_unknown("server_side_encryption_configuration"):
            return []
        found: list[str | None] = []
        for block in bucket.blocks("server_side_encryption_configuration"):
            rules = block.get("rule")
            for rule in rules if isinstance(rules, list) else []:
                defaults = (
                    rule.get("apply_server_side_encryption_by_default")
                    if isinstance(rule, dict)
                    else None
                )
                if isinstance(defaults, list) and defaults and isinstance(defaults[0], dict):
                    algorithm = defaults[0].get("sse_algorithm")
                    found.append(algorithm if isinstance(algorithm, str) else None)
        return found

    @staticmethod
    def _instance(instance: Resource) -> Iterator[Hit]:
        roots = instance.blocks("root_block_device")
        if not any(b.get("encrypted") is True for b in roots):
            yield Hit(instance.address, "the root volume is not encrypted")
        for device in instance.blocks("ebs_block_device"):
            if device.get("encrypted") is not True:
                name = device.get("device_name")
                yield Hit(instance.address, f"EBS volume {name!r} is not encrypted")


class DestroyProtectedRule(Rule):
    """No deletes or replacements in protected environments without an approver's decision."""

    id = "destroy.protected"
    title = "No destructive changes in protected environments"
    description = (
        "A delete or a replacement (delete then create, or create then delete) of a managed "
        "resource in a protected environment."
    )
    default_level = PolicyLevel.MANDATORY

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        if not ctx.environment.protected:
            return
        for resource in ctx.index.resources:
            change = resource.change
            if change.destructive:
                what = "delete" if change.action.value == "delete" else "replace"
                reason = f" ({change.action_reason})" if change.action_reason else ""
                yield Hit(
                    change.address,
                    f"would {what} a resource in protected environment "
                    f"{ctx.environment.key!r}{reason}",
                )


class SizeRule(Rule):
    """Instance sizes and types come from the environment's allowlist."""

    id = "size.allowed"
    title = "Only allowed sizes and instance types"
    description = (
        'Attributes named in `allowed_sizes` (`"<type>.<attribute>"`, e.g. '
        "`aws_instance.instance_type`) hold allowed values; the request's size inputs too."
    )
    default_level = PolicyLevel.MANDATORY

    def check_request(self, ctx: RequestContext) -> Iterable[Hit]:
        for key in ctx.params.size_inputs:
            value = _input_str(ctx, key)
            allowed = [
                v for k, v in ctx.params.allowed_sizes.items() if k.rsplit(".", 1)[-1] == key
            ]
            if value is not None and allowed and not any(value in a for a in allowed):
                union = frozenset().union(*allowed)
                yield Hit(f"inputs.{key}", f"{key} {value!r} is not allowed ({_list(union)})")

    def check_plan(self, ctx: PlanContext) -> Iterable[Hit]:
        for key, allowed in ctx.params.allowed_sizes.items():
            resource_type, _, attribute = key.rpartition(".")
            for resource in _live(ctx, resource_type):
                value = resource.str_attr(attribute)
                if value is not None and value not in allowed:
                    yield Hit(
                        resource.address,
                        f"{attribute} {value!r} is not allowed here ({_list(allowed)})",
                    )


def _list(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def builtin_rules() -> list[Rule]:
    """A fresh instance of every built-in rule, in the order findings are reported."""
    return [
        PlanCompleteRule(),
        PublicAccessRule(),
        EncryptionRule(),
        RegionRule(),
        DestroyProtectedRule(),
        SizeRule(),
        TagsRule(),
        NamingRule(),
    ]
