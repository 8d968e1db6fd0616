"""Request input normalisation: every rule, all problems together, and property tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tfpilot_core.catalog.ids import new_request_id
from tfpilot_core.catalog.spec import ModuleSpec, load_module
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import ValidationError
from tfpilot_core.interfaces import ModuleLocation

ModuleFactory = Callable[..., Path]

RID = "req_dev_bucket_k3x9pq"
SERVER_TAGS = {"tfpilot:request_id": RID, "tfpilot:project": "shop"}


@pytest.fixture
def spec(make_module: ModuleFactory) -> ModuleSpec:
    return load_module(ModuleLocation("sandbox/bucket", make_module()))


def normalize(spec: ModuleSpec, raw: Any, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return normalize_inputs(spec, raw, previous=previous, request_id=RID, server_tags=SERVER_TAGS)


def rules(exc: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str, str]]:
    return {(p.field, p.rule) for p in exc.value.problems}


def test_create_fills_defaults_coerces_suffixes_and_tags(spec: ModuleSpec) -> None:
    result = normalize(
        spec,
        {"name": "logs", "size_gb": "20", "versioning": "true", "tags": {"team": "a"}},
    )
    assert result == {
        "name": "logs-k3x9pq",
        "tags": {"team": "a", **SERVER_TAGS},
        "region": "local-1",
        "versioning": True,
        "size_gb": 20,
        "lifecycle": {"enabled": False, "days": 30},
        "ports": [80],
        "owner": "platform",
        "secret": None,
    }


def test_all_problems_are_reported_together(spec: ModuleSpec) -> None:
    with pytest.raises(ValidationError) as info:
        normalize(
            spec,
            {
                "colour": "red",
                "region": "mars",
                "size_gb": "big",
                "lifecycle": {"days": "x", "weeks": 1},
                "ports": [1, "two"],
                "owner": "me",
                "tags": {"tfpilot:project": "other", "ok": "1"},
            },
        )
    assert rules(info) == {
        ("inputs.colour", "unknown_key"),
        ("inputs.name", "required"),
        ("inputs.region", "allowlist"),
        ("inputs.size_gb", "type"),
        ("inputs.lifecycle.days", "type"),
        ("inputs.lifecycle.weeks", "unknown_key"),
        ("inputs.ports[1]", "type"),
        ("inputs.owner", "read_only"),
        ('inputs.tags["tfpilot:project"]', "reserved_tag"),
    }
    assert info.value.exit_code == 3


def test_server_tags_win(spec: ModuleSpec) -> None:
    result = normalize(spec, {"name": "a", "tags": {"Name": "x"}})
    assert result["tags"]["tfpilot:request_id"] == RID


@pytest.mark.parametrize("tag", ["tfpilot:request_id", "TFPILOT:owner", "tfpilot:"])
def test_reserved_tags_refused(spec: ModuleSpec, tag: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize(spec, {"name": "a", "tags": {tag: RID}})
    assert [p.rule for p in info.value.problems] == ["reserved_tag"]


@pytest.mark.parametrize(
    "name", ["Logs", "1logs", "logs-", "lo_gs", "lo gs", "-", "a" * 57, "../x", "ünï"]
)
def test_name_rules(spec: ModuleSpec, name: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize(spec, {"name": name})
    assert rules(info) == {("inputs.name", "name_pattern")}


def test_longest_name_fits_63(spec: ModuleSpec) -> None:
    assert len(normalize(spec, {"name": "a" * 56})["name"]) == 63


def test_read_only_accepts_its_own_value(spec: ModuleSpec) -> None:
    assert normalize(spec, {"name": "a", "owner": "platform"})["owner"] == "platform"


def test_update_keeps_previous_values_and_suffix(spec: ModuleSpec) -> None:
    created = normalize(spec, {"name": "logs", "size_gb": 5, "tags": {"team": "a"}})
    # Omitted inputs keep their previous value; the suffix is not doubled.
    updated = normalize(spec, {"size_gb": 6}, previous=created)
    assert updated["name"] == "logs-k3x9pq" and updated["size_gb"] == 6
    assert updated["tags"] == created["tags"]
    # Sending back the stored name (with suffix) or the base name is no change either.
    assert normalize(spec, {"name": "logs-k3x9pq"}, previous=created)["name"] == "logs-k3x9pq"
    assert normalize(spec, {"name": "logs"}, previous=created)["name"] == "logs-k3x9pq"
    # A round trip of everything stored (server tags excluded) is accepted.
    echo = dict(created, tags={"team": "a"})
    assert normalize(spec, echo, previous=created) == created


def test_immutable_inputs_cannot_change_on_update(spec: ModuleSpec) -> None:
    created = normalize(spec, {"name": "logs"})
    with pytest.raises(ValidationError) as info:
        normalize(spec, {"name": "other", "region": "local-2"}, previous=created)
    assert rules(info) == {("inputs.name", "immutable"), ("inputs.region", "immutable")}
    # On create they can be set freely.
    assert normalize(spec, {"name": "x", "region": "local-2"})["region"] == "local-2"


def test_read_only_keeps_previous_on_update(spec: ModuleSpec) -> None:
    created = normalize(spec, {"name": "logs"})
    previous = dict(created, owner="someone-else")
    assert normalize(spec, {}, previous=previous)["owner"] == "someone-else"
    with pytest.raises(ValidationError) as info:
        normalize(spec, {"owner": "platform"}, previous=previous)
    assert rules(info) == {("inputs.owner", "read_only")}


def test_stale_server_tags_are_replaced(spec: ModuleSpec) -> None:
    previous = normalize(spec, {"name": "logs"})
    previous["tags"]["tfpilot:template_id"] = "old"
    result = normalize(spec, {}, previous=previous)
    assert result["tags"] == SERVER_TAGS


def test_bad_request_id_and_bad_inputs_shape(spec: ModuleSpec) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_inputs(spec, {"name": "a"}, request_id="../x", server_tags={})
    assert rules(info) == {("request_id", "id_pattern")}
    with pytest.raises(ValidationError) as info:
        normalize(spec, ["name"])
    assert rules(info) == {("inputs", "inputs_type")}


def test_list_allowlist_applies_per_element(make_module: ModuleFactory) -> None:
    tf = 'variable "zones" {\n  type = list(string)\n  default = ["a"]\n}\n'
    meta = '[inputs.zones]\nallowed = ["a", "b"]\n'
    spec = load_module(ModuleLocation("x/zones", make_module(tf=tf, meta=meta, outputs=None)))
    assert normalize(spec, {"zones": ["b", "a"]})["zones"] == ["b", "a"]
    with pytest.raises(ValidationError) as info:
        normalize(spec, {"zones": ["a", "c"]})
    assert rules(info) == {("inputs.zones[1]", "allowlist")}


# -- property tests ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
INPUT_NAMES = ["name", "tags", "region", "versioning", "size_gb", "lifecycle", "ports", "owner"]
keys = st.sampled_from(INPUT_NAMES) | st.text(max_size=8)
names = st.text(max_size=70) | st.from_regex(r"[a-z][a-z0-9-]{0,70}", fullmatch=True)
raw_inputs = st.dictionaries(keys, json_values, max_size=6) | st.builds(
    lambda n, rest: {**rest, "name": n}, names, st.dictionaries(keys, json_values, max_size=4)
)
# Mostly valid requests, so that the success path is exercised as much as the refusals.
plausible_inputs = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z0-9-]{0,60}", fullmatch=True)},
    optional={
        "size_gb": st.integers(-5, 10**6)
        | st.from_regex(r"-?[0-9]{1,5}(\.[0-9]{1,3})?", fullmatch=True),
        "versioning": st.sampled_from([True, False, "true", "false", "yes"]),
        "region": st.sampled_from(["local-1", "local-2", "local-3"]),
        "tags": st.dictionaries(
            st.text(max_size=12) | st.just("tfpilot:x"),
            st.text(max_size=5) | st.integers(),
            max_size=4,
        ),
        "ports": st.lists(st.integers(0, 65535) | st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
        "lifecycle": st.fixed_dictionaries(
            {}, optional={"days": st.integers(1, 99) | st.just("7"), "enabled": st.booleans()}
        ),
        "owner": st.sampled_from(["platform", "other"]),
    },
)
SAFE_NAME = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?-k3x9pq")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(raw=raw_inputs | plausible_inputs)
@example(raw={"name": "a", "tags": {":": ""}})  # a user tag containing ':' (found by CI)
def test_any_input_is_normalised_or_a_clear_error(spec: ModuleSpec, raw: dict[str, Any]) -> None:
    try:
        result = normalize(spec, raw)
    except ValidationError as exc:
        event("refused")
        assert exc.problems
        for problem in exc.problems:
            assert problem.field.startswith("inputs") and problem.rule and problem.message
        return
    event("accepted")
    assert set(result) == set(spec.inputs)
    name = result["name"]
    assert SAFE_NAME.fullmatch(name) and len(name) <= 63
    base = Path("/tmp/tfpilot-name-check")
    assert (base / name).resolve().parent == base
    assert result["tags"].items() >= SERVER_TAGS.items()
    # Normalising the stored inputs again as an update is a no-op. The server's tags are dropped
    # from the echo as a client would (users may not send them); user tags may contain ":".
    echo = dict(
        result,
        tags={k: v for k, v in result["tags"].items() if not k.lower().startswith("tfpilot:")},
    )
    assert normalize(spec, echo, previous=result) == result


@settings(max_examples=100)
@given(
    st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,50}[a-z0-9]", fullmatch=True),
)
def test_any_valid_name_gets_a_safe_suffix(env: str, base: str) -> None:
    spec = ModuleSpec.model_validate(
        {
            "name": "x/y",
            "path": "/nonexistent",
            "version": "0" * 64,
            "name_input": "name",
            "inputs": {"name": {"name": "name", "type_expr": "string", "required": True}},
        }
    )
    rid = new_request_id(env, "x/y")
    result = normalize_inputs(spec, {"name": base}, request_id=rid, server_tags={})
    assert result["name"] == f"{base}-{rid[-6:]}"
    assert re.fullmatch(r"[a-z][a-z0-9-]*", result["name"]) and len(result["name"]) <= 63


def test_explicit_null_as_terraform_reads_it(make_module: ModuleFactory) -> None:
    # The engine agrees (tests/catalog/test_terraform_types.py, test_terraform_check.py).
    tf = (
        'variable "kept" {\n  type = string\n  default = "d"\n}\n'
        'variable "strict" {\n  type = string\n  default = "d"\n  nullable = false\n}\n'
        'variable "needed" {\n  type = string\n  nullable = false\n}\n'
    )
    spec = load_module(ModuleLocation("x/nulls", make_module(tf=tf, meta=None, outputs=None)))
    got = normalize(spec, {"kept": None, "strict": None, "needed": "x"})
    assert got == {"kept": None, "strict": "d", "needed": "x"}
    assert normalize(spec, {"needed": "x"})["kept"] == "d"  # absent: the default
    with pytest.raises(ValidationError) as caught:
        normalize(spec, {"needed": None})
    assert rules(caught) == {("inputs.needed", "required")}
