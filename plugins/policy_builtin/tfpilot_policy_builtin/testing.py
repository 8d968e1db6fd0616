"""Build AWS-shaped plan documents, exactly as ``terraform show -json`` prints them, for tests.

AWS modules are never planned offline (no AWS provider), so tests of AWS rules, here and in
policy packs, build their plans with :class:`PlanBuilder`: resource changes with ``after`` and
``after_unknown`` (ids unknown until apply), module addresses, and the ``configuration``
section with each resource's expressions and references, the part that links a public access
block to its bucket.
"""

from __future__ import annotations

import re
from typing import Any

AWS = "registry.terraform.io/hashicorp/aws"
_STEP = re.compile(r"module\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?")

#: A bucket's computed attributes (unknown in a plan that creates it).
BUCKET_UNKNOWN = ("arn", "bucket_domain_name", "bucket_regional_domain_name", "id", "region")


def ref(*refs: str) -> dict[str, Any]:
    """An expression made of references (``{"references": [...]}``)."""
    return {"references": list(refs)}


def const(value: Any) -> dict[str, Any]:
    """A constant expression."""
    return {"constant_value": value}


class PlanBuilder:
    """Accumulates resource changes and their configuration; :meth:`build` returns the plan."""

    def __init__(
        self,
        *,
        region: str | None = "eu-west-1",
        default_tags: dict[str, str] | None = None,
        provider_expressions: dict[str, Any] | None = None,
    ) -> None:
        expressions: dict[str, Any] = dict(provider_expressions or {})
        if region is not None:
            expressions.setdefault("region", const(region))
        if default_tags:
            expressions["default_tags"] = [{"tags": const(default_tags)}]
        self.providers: dict[str, Any] = {
            "aws": {"name": "aws", "full_name": AWS, "expressions": expressions}
        }
        self.changes: list[dict[str, Any]] = []
        self.root: dict[str, Any] = {"resources": [], "module_calls": {}}
        self.variables: dict[str, Any] = {}

    # -- generic ------------------------------------------------------------------------------

    def module_config(self, module: str | None) -> dict[str, Any]:
        """The configuration node of a module address (created on demand)."""
        node = self.root
        for name in _STEP.findall(module or ""):
            calls = node.setdefault("module_calls", {})
            call = calls.setdefault(
                name, {"source": f"./modules/{name}", "expressions": {}, "module": {}}
            )
            node = call["module"]
            node.setdefault("resources", [])
        return node

    def call_expressions(self, module: str) -> dict[str, Any]:
        """The expressions of the call of ``module`` (its last step), to add arguments."""
        names = _STEP.findall(module)
        parent = "".join(f"module.{n}." for n in names[:-1]).rstrip(".") or None
        self.module_config(module)
        calls = self.module_config(parent)["module_calls"]
        expressions: dict[str, Any] = calls[names[-1]]["expressions"]
        return expressions

    def resource(
        self,
        rtype: str,
        name: str,
        after: dict[str, Any] | None,
        *,
        module: str | None = None,
        index: int | str | None = None,
        actions: tuple[str, ...] = ("create",),
        unknown: dict[str, Any] | None = None,
        expressions: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        action_reason: str | None = None,
    ) -> str:
        """Add one resource change (and its configuration once per module); its address."""
        suffix = "" if index is None else f'["{index}"]' if isinstance(index, str) else f"[{index}]"
        address = f"{module + '.' if module else ''}{rtype}.{name}{suffix}"
        item: dict[str, Any] = {"address": address}
        if module:
            item["module_address"] = module
        item.update({"mode": "managed", "type": rtype, "name": name})
        if index is not None:
            item["index"] = index
        if action_reason:
            item["action_reason"] = action_reason
        item["provider_name"] = AWS if rtype.startswith("aws_") else ""
        deleting = actions == ("delete",)
        item["change"] = {
            "actions": list(actions),
            "before": before,
            "after": None if deleting else after,
            "after_unknown": {} if deleting else dict(unknown or {}),
            "before_sensitive": False if before is None else {},
            "after_sensitive": False if deleting else {},
        }
        self.changes.append(item)
        config = self.module_config(module)
        local = f"{rtype}.{name}"
        if not any(r["address"] == local for r in config["resources"]):
            config["resources"].append(
                {
                    "address": local,
                    "mode": "managed",
                    "type": rtype,
                    "name": name,
                    "provider_config_key": "aws",
                    "expressions": dict(expressions or {}),
                    "schema_version": 0,
                }
            )
        return address

    # -- AWS building blocks, as modules/aws/* write them -------------------------------------

    def s3_bucket(
        self,
        bucket: str,
        *,
        module: str | None = None,
        name: str = "this",
        tags: dict[str, str] | None = None,
        block: dict[str, bool] | bool | None = True,
        sse: str | None = "AES256",
        index: int | str | None = None,
    ) -> str:
        """A bucket with (by default) a public access block and an encryption configuration
        that refer to it by ``aws_s3_bucket.<name>.id``, unknown until apply."""
        tags = {"tfpilot:request_id": "req_dev_bkt_abc123", **(tags or {})}
        address = self.resource(
            "aws_s3_bucket",
            name,
            {"bucket": bucket, "force_destroy": False, "tags": tags, "tags_all": tags},
            module=module,
            index=index,
            unknown={**dict.fromkeys(BUCKET_UNKNOWN, True), "tags": {}, "tags_all": {}},
            expressions={"bucket": ref("var.name"), "tags": ref("local.tags")},
        )
        link = (
            ref(f"aws_s3_bucket.{name}[each.key].id", f"aws_s3_bucket.{name}", "each.key")
            if isinstance(index, str)
            else ref(
                f"aws_s3_bucket.{name}[count.index].id", f"aws_s3_bucket.{name}", "count.index"
            )
            if isinstance(index, int)
            else ref(f"aws_s3_bucket.{name}.id", f"aws_s3_bucket.{name}")
        )
        if block:
            flags = {
                "block_public_acls": True,
                "block_public_policy": True,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
            }
            if isinstance(block, dict):
                flags.update(block)
            self.resource(
                "aws_s3_bucket_public_access_block",
                name,
                flags,
                module=module,
                index=index,
                unknown={"bucket": True, "id": True},
                expressions={"bucket": link, **{k: const(v) for k, v in flags.items()}},
            )
        if sse:
            self.resource(
                "aws_s3_bucket_server_side_encryption_configuration",
                name,
                {
                    "expected_bucket_owner": None,
                    "rule": [
                        {
                            "apply_server_side_encryption_by_default": [
                                {"kms_master_key_id": None, "sse_algorithm": sse}
                            ],
                            "bucket_key_enabled": False,
                        }
                    ],
                },
                module=module,
                index=index,
                unknown={"bucket": True, "id": True},
                expressions={"bucket": link},
            )
        return address

    def build(self) -> dict[str, Any]:
        """The plan document."""
        return {
            "format_version": "1.2",
            "terraform_version": "1.15.5",
            "variables": self.variables,
            "resource_changes": self.changes,
            "configuration": {"provider_config": self.providers, "root_module": self.root},
            "applyable": True,
            "complete": True,
            "errored": False,
        }
