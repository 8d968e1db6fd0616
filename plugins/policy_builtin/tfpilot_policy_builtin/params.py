"""The rule parameters in force in one environment, computed from validated settings as plain data.

No pydantic here: ``tfpilot policy check`` computes them from the configuration snapshot
(:mod:`tfpilot_policy_builtin.quick`), the engine from ``PolicySettings.model_dump()``
(:meth:`~tfpilot_policy_builtin.settings.PolicySettings.effective`). The defaults live in the
settings model only; :meth:`EffectiveParams.from_settings` expects a complete dump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EffectiveParams:
    """Parameters in force in one environment, compiled for evaluation."""

    environment: str | None
    naming_pattern: re.Pattern[str]
    naming_patterns: dict[str, re.Pattern[str]]
    allowed_regions: frozenset[str] | None
    required_tags: tuple[str, ...]
    allowed_sizes: dict[str, frozenset[str]]
    kms_required_types: frozenset[str]
    levels: dict[str, str]
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    name_inputs: tuple[str, ...] = ("name",)
    region_inputs: tuple[str, ...] = ("region",)
    tags_inputs: tuple[str, ...] = ("tags",)
    size_inputs: tuple[str, ...] = ("size",)
    #: Require ``tfpilot:*`` tags on plans checked on their own (made outside tfpilot) too.
    tfpilot_tags_everywhere: bool = False

    @classmethod
    def from_settings(cls, dump: Mapping[str, Any], environment: str | None) -> EffectiveParams:
        """The parameters in force in ``environment`` (``None``: the defaults).

        ``dump`` is validated ``[plugins.policy_builtin]`` settings as plain data
        (``PolicySettings.model_dump()``, either mode): every key present, defaults applied. An
        environment's override replaces a list or a map; ``levels`` and ``rule_params`` are
        merged key by key.
        """
        over: Mapping[str, Any] = dump["environments"].get(environment or "") or {}

        def pick(name: str) -> Any:
            value = over.get(name)
            return dump[name] if value is None else value

        allowed_regions = pick("allowed_regions")
        return cls(
            environment=environment,
            naming_pattern=re.compile(pick("naming_pattern")),
            naming_patterns={k: re.compile(v) for k, v in pick("naming_patterns").items()},
            allowed_regions=None if allowed_regions is None else frozenset(allowed_regions),
            required_tags=tuple(pick("required_tags")),
            allowed_sizes={k: frozenset(v) for k, v in pick("allowed_sizes").items()},
            kms_required_types=frozenset(pick("kms_required_types")),
            levels={**dump["levels"], **(over.get("levels") or {})},
            rule_params={**dump["rule_params"], **(over.get("rule_params") or {})},
            name_inputs=tuple(dump["name_inputs"]),
            region_inputs=tuple(dump["region_inputs"]),
            tags_inputs=tuple(dump["tags_inputs"]),
            size_inputs=tuple(dump["size_inputs"]),
            # .get: a configuration snapshot written before this setting existed lacks it.
            tfpilot_tags_everywhere=bool(dump.get("tfpilot_tags_everywhere", False)),
        )

    def pattern_for(self, resource_type: str) -> re.Pattern[str]:
        """The naming pattern of a resource type."""
        return self.naming_patterns.get(resource_type, self.naming_pattern)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``tfpilot policy show``)."""
        return {
            "naming_pattern": self.naming_pattern.pattern,
            "naming_patterns": {k: v.pattern for k, v in sorted(self.naming_patterns.items())},
            "allowed_regions": None
            if self.allowed_regions is None
            else sorted(self.allowed_regions),
            "required_tags": list(self.required_tags),
            "allowed_sizes": {k: sorted(v) for k, v in sorted(self.allowed_sizes.items())},
            "kms_required_types": sorted(self.kms_required_types),
            "tfpilot_tags_everywhere": self.tfpilot_tags_everywhere,
        }
