"""The ``[plugins.policy_builtin]`` section: rule parameters and levels, per environment.

Top-level keys are the defaults; ``[plugins.policy_builtin.environments.<key>]`` overrides any of
them for one environment (a list or a map replaces the default, it is not merged; ``levels`` and
``rule_params`` are merged key by key). Example::

    [plugins.policy_builtin]
    allowed_regions = ["eu-west-1", "local-1", "local-2"]
    required_tags = ["tfpilot:request_id", "owner"]
    levels = { "tags.required" = "advisory" }

    [plugins.policy_builtin.environments.prod]
    allowed_sizes = { "sandbox_instance.size" = ["small", "medium"] }
    levels = { "tags.required" = "blocking" }
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Re-exported: the compiled parameters are pydantic-free (``policy check`` builds them quickly).
from tfpilot_policy_builtin.params import EffectiveParams as EffectiveParams

LevelSetting = Literal["advisory", "mandatory", "blocking", "off"]

#: Names of most resources: DNS-label-like, lowercase, so they are valid almost everywhere.
DEFAULT_NAMING_PATTERN = r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$"
#: Types whose names legitimately hold other characters.
DEFAULT_NAMING_PATTERNS: dict[str, str] = {
    "aws_cloudwatch_log_group": r"^[A-Za-z0-9_/.#-]{1,512}$",
    "aws_ecr_repository": r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
    "aws_s3_bucket": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
}


def _check_pattern(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


class Overrides(BaseModel):
    """Settings of one environment; anything left out keeps the default."""

    model_config = ConfigDict(extra="forbid")

    naming_pattern: str | None = None
    naming_patterns: dict[str, str] | None = None
    allowed_regions: list[str] | None = None
    required_tags: list[str] | None = None
    allowed_sizes: dict[str, list[str]] | None = None
    kms_required_types: list[str] | None = None
    levels: dict[str, LevelSetting] = Field(default_factory=dict)
    rule_params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("naming_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return _check_pattern(value)

    @field_validator("naming_patterns")
    @classmethod
    def _patterns(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for pattern in (value or {}).values():
            _check_pattern(pattern)
        return value


class PolicySettings(BaseModel):
    """``[plugins.policy_builtin]``: defaults for every environment, and per-environment overrides.

    Rule ids of ``levels`` are checked when the engine is built (packs can add rules).
    """

    model_config = ConfigDict(extra="forbid")

    #: Pattern every resource name must match (``naming.pattern``).
    naming_pattern: str = DEFAULT_NAMING_PATTERN
    #: Per resource type patterns, replacing ``naming_pattern`` for that type.
    naming_patterns: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_NAMING_PATTERNS))
    #: Regions resources and providers may use; ``None``: any region.
    allowed_regions: list[str] | None = None
    #: Tags every taggable resource must carry (provider default tags count).
    required_tags: list[str] = Field(default_factory=lambda: ["tfpilot:request_id"])
    #: ``"<type>.<attribute>"`` -> allowed values, e.g. ``"aws_instance.instance_type"``.
    allowed_sizes: dict[str, list[str]] = Field(default_factory=dict)
    #: Require the ``tfpilot:*`` keys of ``required_tags`` on plans checked on their own (``policy
    #: check FILE``, made outside tfpilot) too; by default only plans of tfpilot's requests.
    tfpilot_tags_everywhere: bool = False
    #: Types whose encryption must use a customer managed KMS key, not a service default.
    kms_required_types: list[str] = Field(default_factory=list)
    #: Rule id -> level (``off`` disables a rule; refused for security defaults).
    levels: dict[str, LevelSetting] = Field(default_factory=dict)
    #: Rule id -> parameters for rules contributed by policy packs.
    rule_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Environment key -> overrides.
    environments: dict[str, Overrides] = Field(default_factory=dict)
    #: Plugins whose policy packs are used; ``None``: every installed pack.
    packs: list[str] | None = None
    #: Request inputs holding a resource name, a region, tags, and a size (request stage).
    name_inputs: list[str] = Field(default_factory=lambda: ["name"])
    region_inputs: list[str] = Field(default_factory=lambda: ["region"])
    tags_inputs: list[str] = Field(default_factory=lambda: ["tags"])
    size_inputs: list[str] = Field(
        default_factory=lambda: ["size", "instance_type", "instance_class"]
    )

    @field_validator("naming_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        _check_pattern(value)
        return value

    @field_validator("naming_patterns")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _check_pattern(pattern)
        return value

    def effective(self, environment: str | None) -> EffectiveParams:
        """The parameters in force in ``environment`` (``None``: the defaults)."""
        return EffectiveParams.from_settings(self.model_dump(), environment)
