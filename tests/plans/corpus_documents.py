"""Plan documents written by hand for each ``format_version`` and each provider shape.

Each mirrors what that Terraform version prints (keys added by later formats are absent from
older ones: no sensitive marks or ``resource_drift`` in 0.1, no ``previous_address`` or
``action_reason`` before 1.0, no ``checks``/``importing``/``errored`` before 1.2), and each comes
with what a reader must find in it: the counts, the addresses in the summary, the policy result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def change(
    address: str,
    rtype: str,
    actions: list[str],
    after: dict[str, Any] | None,
    *,
    before: dict[str, Any] | None = None,
    provider: str = "registry.terraform.io/hashicorp/aws",
    **extra: Any,
) -> dict[str, Any]:
    """One ``resource_changes`` entry (root module)."""
    name = address.rsplit(".", 1)[-1]
    body: dict[str, Any] = {"actions": actions, "before": before, "after": after}
    body["after_unknown"] = extra.pop("after_unknown", {})
    body.update(extra.pop("change_extra", {}))
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": provider,
        "change": body,
        **extra,
    }


@dataclass
class Case:
    """A document and what reading it must give."""

    name: str
    document: dict[str, Any]
    counts: dict[str, int]
    #: (rule id, address) of every policy finding with the corpus settings.
    findings: set[tuple[str, str | None]] = field(default_factory=set)
    #: Strings that must never appear in any masked output.
    secrets: tuple[str, ...] = ()


REQUIRED_TAGS = ["team"]


def _format_0_1() -> Case:
    # Terraform 0.12-0.14: no sensitive marks anywhere; outputs' sensitivity only in
    # planned_values; no resource_drift.
    doc = {
        "format_version": "0.1",
        "terraform_version": "0.12.31",
        "planned_values": {
            "outputs": {"token": {"sensitive": True, "value": "tok-0123456789"}},
            "root_module": {},
        },
        "resource_changes": [
            change(
                "aws_sqs_queue.orders",
                "aws_sqs_queue",
                ["create"],
                {"name": "orders", "tags": {"team": "shop"}},
                after_unknown={"arn": True},
            ),
            change(
                "aws_sqs_queue.old",
                "aws_sqs_queue",
                ["delete"],
                None,
                before={"name": "old", "tags": {"team": "shop"}},
            ),
        ],
        "output_changes": {
            "token": {"actions": ["create"], "before": None, "after": "tok-0123456789"}
        },
        "configuration": {"root_module": {}},
    }
    return Case(
        "format-0.1",
        doc,
        {"create": 1, "delete": 1},
        {("destroy.protected", "aws_sqs_queue.old")},
        ("tok-0123456789",),
    )


def _format_0_2() -> Case:
    # Terraform 0.15-1.0: sensitive marks and resource_drift appear.
    doc = {
        "format_version": "0.2",
        "terraform_version": "1.0.11",
        "resource_changes": [
            change(
                "aws_db_instance.main",
                "aws_db_instance",
                ["update"],
                {
                    "identifier": "main",
                    "password": "hunter2-secret",
                    "storage_encrypted": True,
                    "tags": {"team": "db"},
                },
                before={"identifier": "main", "password": "old-secret-1", "tags": {}},
                change_extra={
                    "before_sensitive": {"password": True},
                    "after_sensitive": {"password": True},
                },
            )
        ],
        "resource_drift": [
            change(
                "aws_db_instance.main",
                "aws_db_instance",
                ["update"],
                {"identifier": "main", "tags": {"team": "changed"}},
                before={"identifier": "main", "tags": {}},
            )
        ],
        "configuration": {"root_module": {}},
    }
    return Case("format-0.2", doc, {"update": 1}, set(), ("hunter2-secret", "old-secret-1"))


def _format_1_0() -> Case:
    # Terraform 1.1-1.2: moved resources (previous_address) and action_reason.
    doc = {
        "format_version": "1.0",
        "terraform_version": "1.1.9",
        "resource_changes": [
            change(
                "aws_sns_topic.new",
                "aws_sns_topic",
                ["delete", "create"],
                {"name": "alerts", "tags": {"team": "ops"}},
                before={"name": "alerts-old", "tags": {"team": "ops"}},
                previous_address="aws_sns_topic.old",
                action_reason="replace_because_cannot_update",
                change_extra={"replace_paths": [["name"]]},
            )
        ],
        "configuration": {"root_module": {}},
    }
    return Case("format-1.0", doc, {"replace": 1}, {("destroy.protected", "aws_sns_topic.new")})


def _format_1_1() -> Case:
    # Terraform 1.3-1.4: relevant_attributes.
    doc = {
        "format_version": "1.1",
        "terraform_version": "1.3.10",
        "resource_changes": [
            change(
                "aws_iam_role.app",
                "aws_iam_role",
                ["create"],
                {"name": "app", "tags": {}},
            )
        ],
        "relevant_attributes": [{"resource": "aws_iam_role.app", "attribute": ["name"]}],
        "configuration": {"root_module": {}},
    }
    return Case("format-1.1", doc, {"create": 1}, {("tags.required", "aws_iam_role.app")})


def _format_1_2() -> Case:
    # Terraform 1.5 on: checks, importing, errored, complete, applyable.
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "applyable": True,
        "complete": True,
        "errored": False,
        "resource_changes": [
            change(
                "aws_ecr_repository.app",
                "aws_ecr_repository",
                ["no-op"],
                {"name": "app", "tags": {"team": "x"}},
                before={"name": "app", "tags": {"team": "x"}},
                change_extra={"importing": {"id": "app"}},
            )
        ],
        "checks": [{"address": {"kind": "resource", "to_display": "x"}, "status": "pass"}],
        "configuration": {"root_module": {}},
    }
    return Case("format-1.2", doc, {})


def _gcp_network_tags() -> Case:
    # google_compute_instance: ``tags`` is a set of network tags (strings), labels are key/value.
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": [
            change(
                "google_compute_instance.web",
                "google_compute_instance",
                ["create"],
                {"name": "web", "tags": ["http-server", "https-server"], "labels": {}},
                provider="registry.terraform.io/hashicorp/google",
            )
        ],
        "configuration": {"root_module": {}},
    }
    return Case("gcp-network-tags", doc, {"create": 1})


def _aws_v3_asg_tags() -> Case:
    # aws provider v3/v4: aws_autoscaling_group ``tags`` is a list of maps.
    doc = {
        "format_version": "0.2",
        "terraform_version": "0.15.5",
        "resource_changes": [
            change(
                "aws_autoscaling_group.web",
                "aws_autoscaling_group",
                ["create"],
                {
                    "name": "web",
                    "tags": [{"key": "env", "value": "dev", "propagate_at_launch": "true"}],
                    "tag": [],
                },
                provider="registry.terraform.io/hashicorp/aws",
            ),
            change(
                "aws_autoscaling_group.api",
                "aws_autoscaling_group",
                ["create"],
                {
                    "name": "api",
                    "tags": [{"key": "team", "value": "web", "propagate_at_launch": "true"}],
                },
            ),
        ],
        "configuration": {"root_module": {}},
    }
    return Case(
        "aws-v3-asg-tags-list",
        doc,
        {"create": 2},
        {("tags.required", "aws_autoscaling_group.web")},
    )


def _aws_v4_asg_tag_blocks() -> Case:
    # aws provider v4/v5: ``tag`` blocks, each {key, value, propagate_at_launch}.
    doc = {
        "format_version": "1.0",
        "terraform_version": "1.1.9",
        "resource_changes": [
            change(
                "aws_autoscaling_group.ok",
                "aws_autoscaling_group",
                ["create"],
                {"name": "ok", "tag": [{"key": "team", "value": "a", "propagate_at_launch": True}]},
            ),
            change(
                "aws_autoscaling_group.bad",
                "aws_autoscaling_group",
                ["create"],
                {"name": "bad", "tag": [{"key": "env", "value": "a", "propagate_at_launch": True}]},
            ),
        ],
        "configuration": {"root_module": {}},
    }
    return Case(
        "aws-v4-asg-tag-blocks",
        doc,
        {"create": 2},
        {("tags.required", "aws_autoscaling_group.bad")},
    )


def _odd_attribute_shape() -> Case:
    # A provider whose ``name`` attribute is an object: a finding of the naming rule, not exit 3.
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "resource_changes": [
            change(
                "aws_sqs_queue.odd",
                "aws_sqs_queue",
                ["create"],
                {"name": {"prefix": "odd"}, "tags": {"team": "x"}},
            )
        ],
        "configuration": {"root_module": {}},
    }
    return Case(
        "odd-attribute-shape", doc, {"create": 1}, {("naming.pattern", "aws_sqs_queue.odd")}
    )


CASES = [
    _format_0_1(),
    _format_0_2(),
    _format_1_0(),
    _format_1_1(),
    _format_1_2(),
    _gcp_network_tags(),
    _aws_v3_asg_tags(),
    _aws_v4_asg_tag_blocks(),
    _odd_attribute_shape(),
]
