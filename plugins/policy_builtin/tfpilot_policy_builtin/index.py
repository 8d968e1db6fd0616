"""An index over one parsed plan: its resources, their configuration, and the links between them.

Rules that span resources (a bucket and its public access block) cannot link them by attribute
values alone: in a real plan the block's ``bucket`` is ``aws_s3_bucket.this.id``, which is unknown
until apply (``after_unknown``). The plan's ``configuration`` section still says which resource the
expression refers to, so links are made from expression references, within the same module
instance, following ``var.*`` references up through module calls. Known values are used as a
second way to link (a literal bucket name on both sides).

Every value the rules read is checked here for its JSON type, so a malformed or hostile document
fails with a :class:`~tfpilot_core.plan.PlanError` naming the field, never with a crash and never
with a silent pass.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tfpilot_core.errors import FieldProblem
from tfpilot_core.plan import Action, Plan, PlanError, ResourceChange

#: Actions after which the resource still exists (what judging its settings makes sense for).
LIVE_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.NO_OP, Action.REPLACE})

_MODULE_STEP = re.compile(r'module\.([A-Za-z0-9_-]+)(\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\])?(\.|$)')
_REF = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)(?:\[([^\]]+)\])?")
#: How deep ``var.*`` references are followed up through module calls.
_MAX_VAR_DEPTH = 16

Key = tuple[str, str, str, Any]  # (module instance address, type, name, index)


def shape_error(path: str, message: str) -> PlanError:
    """The error for a plan document that is valid JSON but not shaped as ``show -json`` is."""
    return PlanError([FieldProblem(path, "shape", message)], subject="plan JSON")


class AttributeShapeError(PlanError):
    """A resource attribute in a shape a rule does not read (a provider's own shape).

    The document is a valid plan: providers choose their attribute shapes. The engine turns this
    into a finding of the rule that met it (fail closed), never into a refused plan.
    """

    def __init__(self, address: str, path: str, message: str) -> None:
        super().__init__([FieldProblem(path, "shape", message)], subject="plan JSON")
        self.address = address
        self.path = path
        self.reason = message


def _log() -> Any:
    # The core's facade: structlog is imported only when a line is logged at an enabled level.
    from tfpilot_core.log import get_logger

    return get_logger("tfpilot.policy")


@functools.lru_cache(maxsize=4096)
def module_steps(module_address: str | None) -> tuple[tuple[str, str | None], ...]:
    """``module.a["x"].module.b`` -> ``(("a", '"x"'), ("b", None))``; a PlanError if malformed.

    Cached: every resource of a module instance shares its address.
    """
    if not module_address:
        return ()
    steps: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(module_address):
        match = _MODULE_STEP.match(module_address, pos)
        if match is None or match.end() == pos:
            raise shape_error("module_address", f"not a module address: {module_address!r}")
        key = match.group(2)
        steps.append((match.group(1), key[1:-1] if key else None))
        pos = match.end()
        if match.group(3) == "." and pos == len(module_address):
            raise shape_error("module_address", f"not a module address: {module_address!r}")
    return tuple(steps)


def _instance_address(steps: tuple[tuple[str, str | None], ...]) -> str:
    return ".".join(f"module.{name}{f'[{key}]' if key is not None else ''}" for name, key in steps)


def _index_value(raw: str | None) -> Any:
    """A module instance key or resource index as Terraform prints it -> the JSON value."""
    if raw is None:
        return None
    if raw.isdigit():
        return int(raw)
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return raw


def _obj(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise shape_error(path, "must be an object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise shape_error(path, "must be an array")
    return value


def _str_list(value: Any, path: str) -> list[str]:
    items = _list(value, path)
    if not all(isinstance(item, str) for item in items):
        raise shape_error(path, "must be an array of strings")
    return items


@dataclass(slots=True)
class Resource:
    """A managed resource change with its checked ``after`` values and its configuration."""

    change: ResourceChange
    after: dict[str, Any]
    unknown: dict[str, Any]
    config: dict[str, Any]
    module_path: tuple[str, ...]
    instance: str
    where: str
    steps: tuple[tuple[str, str | None], ...] = ()

    @property
    def address(self) -> str:
        """The resource's address."""
        return self.change.address

    @property
    def type(self) -> str:
        """The resource type."""
        return self.change.type

    @property
    def live(self) -> bool:
        """Whether the resource exists after apply (so its settings matter)."""
        return self.change.action in LIVE_ACTIONS

    def value(self, name: str) -> Any:
        """An attribute's planned value (``None`` when unset or unknown)."""
        return self.after.get(name)

    def is_unknown(self, name: str) -> bool:
        """Whether an attribute is only known after apply."""
        return self.unknown.get(name) is True

    def expressions(self) -> dict[str, Any]:
        """The resource's configuration expressions (empty if the plan has none)."""
        return _obj(self.config.get("expressions"), f"{self.where}.configuration.expressions")

    def bool_attr(self, name: str) -> bool | None:
        """A boolean attribute; a PlanError when it holds anything but a boolean or null."""
        value = self.after.get(name)
        if value is None or isinstance(value, bool):
            return value
        raise AttributeShapeError(
            self.address, f"{self.where}.change.after.{name}", "must be true, false or null"
        )

    def str_attr(self, name: str) -> str | None:
        """A string attribute; a PlanError when it holds anything but a string or null."""
        value = self.after.get(name)
        if value is None or isinstance(value, str):
            return value
        raise AttributeShapeError(
            self.address, f"{self.where}.change.after.{name}", "must be a string or null"
        )

    def blocks(self, name: str) -> list[dict[str, Any]]:
        """A nested block list (``rule { ... }`` is a list of objects in plan JSON)."""
        value = self.after.get(name)
        where = f"{self.where}.change.after.{name}"
        if value is None:
            return []
        if not isinstance(value, list):
            raise AttributeShapeError(self.address, where, "must be an array of objects")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise AttributeShapeError(self.address, f"{where}[{i}]", "must be an object")
        return value

    @property
    def taggable(self) -> bool:
        """Whether the resource has key/value tags of any shape the rules read."""
        return any(key in self.after for key in ("tags", "tags_all")) or _is_tag_blocks(
            self.after.get("tag")
        )

    def tags(self) -> dict[str, Any] | None:
        """The resource's key/value tags, merged from the shapes providers produce.

        ``tags``/``tags_all`` as objects (AWS v5; ``tags_all`` includes provider default tags),
        ``tags`` as a list of ``{key, value}`` objects (AWS v3/v4 autoscaling groups) and ``tag``
        blocks (autoscaling groups). ``None`` when ``tags`` holds no key/value tags at all (GCP
        instances' ``tags`` are network tags, a list of strings): the reason is logged and there
        is nothing for a tag rule to judge.
        """
        merged: dict[str, Any] = {}
        blocks = self.after.get("tag")
        if isinstance(blocks, list) and _is_tag_blocks(blocks):
            merged.update({block["key"]: block.get("value") for block in blocks})
        for key in ("tags_all", "tags"):
            value = self.after.get(key)
            if isinstance(value, dict):
                merged.update(value)
            elif isinstance(value, list) and _is_tag_blocks(value):
                merged.update({block["key"]: block.get("value") for block in value})
            elif value is not None:
                reason = (
                    "a list of network tags, not key/value tags"
                    if isinstance(value, list) and all(isinstance(v, str) for v in value)
                    else f"a {type(value).__name__}, not key/value tags"
                )
                _log().info(
                    "policy_tags_skipped",
                    address=self.address,
                    attribute=key,
                    reason=reason,
                )
                return None
            # A tag whose value is known only after apply is missing from ``after`` but present
            # (as ``true``) in ``after_unknown``: the tag is there all the same.
            unknown = self.unknown.get(key)
            if isinstance(unknown, dict):
                merged.update(dict.fromkeys(unknown, None))
        return merged


def _is_tag_blocks(value: Any) -> bool:
    """A list of ``{key, value, ...}`` objects (``tag`` blocks, or AWS v3/v4 ``tags``)."""
    return isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("key"), str) for item in value
    )


class PlanIndex:
    """Resources of one plan by type and key, their configuration, and the providers."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        if "resource_changes" in plan.raw and plan.raw["resource_changes"] is None:
            # Terraform omits an empty list; an explicit null means the document was altered.
            raise shape_error("resource_changes", "must be an array (null is never printed)")
        self.configuration = _obj(plan.configuration, "configuration")
        self._modules: dict[tuple[str, ...], dict[str, Any]] = {}
        self._tables: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
        self._index_modules(
            _obj(self.configuration.get("root_module"), "configuration.root_module"),
            (),
            "configuration.root_module",
        )
        self.providers = {
            key: _obj(provider, f"configuration.provider_config.{key}")
            for key, provider in _obj(
                self.configuration.get("provider_config"), "configuration.provider_config"
            ).items()
        }
        self.resources: list[Resource] = []
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        self.by_key: dict[Key, Resource] = {}
        for i, change in enumerate(plan.resource_changes):
            if change.mode != "managed":
                continue
            where = f"resource_changes[{i}]"
            if change.index is not None and (
                isinstance(change.index, bool) or not isinstance(change.index, int | str)
            ):
                raise shape_error(f"{where}.index", "must be a number, a string or null")
            if change.action is Action.DELETE:
                after: dict[str, Any] = {}
            else:
                after = _obj(change.after, f"{where}.change.after")
            unknown = change.after_unknown
            if unknown is None or isinstance(unknown, bool):
                unknown = {}
            unknown = _obj(unknown, f"{where}.change.after_unknown")
            steps = module_steps(change.module_address)
            path = tuple(name for name, _ in steps)
            prefix = f"{change.module_address}." if change.module_address else ""
            local = change.address[len(prefix) :] if change.address.startswith(prefix) else ""
            config = self._resource_config(path, f"{change.type}.{change.name}")
            resource = Resource(
                change, after, unknown, config, path, _instance_address(steps), where, steps
            )
            if not local.startswith(f"{change.type}.{change.name}"):
                raise shape_error(f"{where}.address", "does not match module_address, type, name")
            self.resources.append(resource)
            self.by_type[change.type].append(resource)
            self.by_key[(resource.instance, change.type, change.name, change.index)] = resource

    # -- configuration ------------------------------------------------------------------------

    def _index_modules(self, module: dict[str, Any], path: tuple[str, ...], where: str) -> None:
        if len(path) > 64:
            raise shape_error(where, "modules nested too deeply")
        self._modules[path] = module
        resources = _list(module.get("resources"), f"{where}.resources")
        table: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(resources):
            if not isinstance(item, dict):
                raise shape_error(f"{where}.resources[{i}]", "must be an object")
            address = item.get("address")
            if not isinstance(address, str):
                raise shape_error(f"{where}.resources[{i}].address", "must be a string")
            _obj(item.get("expressions"), f"{where}.resources[{i}].expressions")
            table[address] = item
        self._tables[path] = table
        calls = _obj(module.get("module_calls"), f"{where}.module_calls")
        for name, call in calls.items():
            call = _obj(call, f"{where}.module_calls.{name}")
            _obj(call.get("expressions"), f"{where}.module_calls.{name}.expressions")
            self._index_modules(
                _obj(call.get("module"), f"{where}.module_calls.{name}.module"),
                (*path, name),
                f"{where}.module_calls.{name}.module",
            )

    def _resource_config(self, path: tuple[str, ...], address: str) -> dict[str, Any]:
        return self._tables.get(path, {}).get(address, {})

    def _call_expressions(self, path: tuple[str, ...]) -> dict[str, Any]:
        parent = self._modules.get(path[:-1])
        if parent is None:
            return {}
        calls = _obj(parent.get("module_calls"), "configuration.module_calls")
        call = _obj(calls.get(path[-1]), "configuration.module_calls")
        return _obj(call.get("expressions"), "configuration.module_calls.expressions")

    def references(self, resource: Resource, attribute: str) -> list[str]:
        """The expression references of one of the resource's arguments."""
        expression = _obj(
            resource.expressions().get(attribute),
            f"{resource.where}.configuration.expressions.{attribute}",
        )
        return _str_list(
            expression.get("references"),
            f"{resource.where}.configuration.expressions.{attribute}.references",
        )

    # -- links --------------------------------------------------------------------------------

    def targets(self, resource: Resource, attribute: str, target_type: str) -> list[Resource]:
        """Resources of ``target_type`` that ``resource``'s ``attribute`` refers to.

        Follows the configuration's references in the same module instance (and ``var.*`` up
        through module calls); the resource's own index stands in for ``count.index`` and
        ``each.key``.
        """
        refs = self.references(resource, attribute)
        found = self._resolve(refs, resource.steps, resource.change.index, target_type, 0)
        return [r for r in found if r is not resource]

    def _resolve(
        self,
        refs: list[str],
        steps: tuple[tuple[str, str | None], ...],
        own_index: Any,
        target_type: str,
        depth: int,
    ) -> list[Resource]:
        if depth > _MAX_VAR_DEPTH:
            return []
        dynamic = any(r.startswith(("count.", "each.")) for r in refs)
        instance = _instance_address(steps)
        found: list[Resource] = []
        seen: set[str] = set()
        for ref in refs:
            match = _REF.match(ref)
            if match is None:
                continue
            head, name, raw_index = match.groups()
            if head == target_type:
                if name in seen:
                    continue
                seen.add(name)
                if raw_index is not None and raw_index not in ("count.index", "each.key"):
                    index = _index_value(raw_index)
                elif raw_index is not None or dynamic:
                    index = own_index
                else:
                    index = None
                target = self.by_key.get((instance, target_type, name, index))
                if target is None and index is not None:
                    target = self.by_key.get((instance, target_type, name, None))
                if target is not None:
                    found.append(target)
            elif head == "var" and steps:
                # A module argument: look at what the calling module passed for it.
                call = self._call_expressions(tuple(n for n, _ in steps))
                expression = _obj(call.get(name), "configuration.module_calls.expressions")
                parent_refs = _str_list(
                    expression.get("references"), "configuration.module_calls.references"
                )
                found += self._resolve(
                    parent_refs,
                    steps[:-1],
                    _index_value(steps[-1][1]),
                    target_type,
                    depth + 1,
                )
        return found

    def linked(
        self, target_type: str, companion_type: str, attribute: str, value_attribute: str
    ) -> dict[str, list[Resource]]:
        """Companions of every ``target_type`` resource, by the target's address.

        A companion of type ``companion_type`` is linked to the targets its ``attribute`` refers
        to in the configuration; when the configuration says nothing, a known value of
        ``attribute`` equal to a target's ``value_attribute`` links them.
        """
        by_value: dict[str, list[Resource]] = defaultdict(list)
        for target in self.by_type.get(target_type, ()):
            known = target.after.get(value_attribute)
            if isinstance(known, str):
                by_value[known].append(target)
        links: dict[str, list[Resource]] = defaultdict(list)
        for companion in self.by_type.get(companion_type, ()):
            if not companion.live:
                continue
            targets = self.targets(companion, attribute, target_type)
            if not targets:
                value = companion.after.get(attribute)
                if value is not None and not isinstance(value, str):
                    raise shape_error(
                        f"{companion.where}.change.after.{attribute}", "must be a string or null"
                    )
                targets = by_value.get(value, []) if value else []
            for target in targets:
                links[target.address].append(companion)
        return links

    # -- providers ----------------------------------------------------------------------------

    def provider_for(self, resource: Resource) -> dict[str, Any]:
        """The provider configuration block a resource uses ({} if the plan does not say)."""
        key = resource.config.get("provider_config_key")
        if isinstance(key, str):
            for candidate in (key, key.rsplit(":", 1)[-1]):
                found = self.providers.get(candidate)
                if isinstance(found, dict):
                    return found
        local = resource.type.split("_", 1)[0]
        found = self.providers.get(local)
        return found if isinstance(found, dict) else {}

    def constant(self, expression: Any, where: str) -> Any:
        """The value of a configuration expression when the plan knows it (constant or a root
        variable's value); ``None`` otherwise."""
        expression = _obj(expression, where)
        if "constant_value" in expression:
            return expression["constant_value"]
        refs = _str_list(expression.get("references"), f"{where}.references")
        for ref in refs:
            if ref.startswith("var.") and ref.count(".") == 1:
                variable = self.plan.variables.get(ref[4:])
                if isinstance(variable, dict):
                    return variable.get("value")
        return None

    def provider_default_tags(self, resource: Resource) -> dict[str, Any]:
        """Tags the resource's provider adds to every resource (``default_tags``)."""
        provider = self.provider_for(resource)
        expressions = _obj(provider.get("expressions"), "configuration.provider_config.expressions")
        tags: dict[str, Any] = {}
        for i, block in enumerate(_list(expressions.get("default_tags"), "default_tags")):
            block = _obj(block, f"configuration.provider_config.default_tags[{i}]")
            value = self.constant(block.get("tags"), "configuration.provider_config.default_tags")
            if isinstance(value, dict):
                tags.update(value)
        return tags

    def provider_regions(self) -> Iterator[tuple[str, Any]]:
        """``(provider config key, region)`` for every provider block that sets a region."""
        for key, provider in self.providers.items():
            expressions = _obj(
                provider.get("expressions"), f"configuration.provider_config.{key}.expressions"
            )
            if "region" in expressions:
                value = self.constant(
                    expressions["region"], f"configuration.provider_config.{key}.region"
                )
                if value is not None:
                    yield key, value


def mapping_of(value: Any, path: str) -> Mapping[str, Any]:
    """``value`` as an object, or a PlanError naming ``path``."""
    return _obj(value, path)
