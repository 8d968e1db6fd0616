"""The service catalog: entries, examples, typical costs from the estimator, usage, the schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tfpilot_core.catalog.spec import load_module
from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ConfigError, NotFoundError
from tfpilot_core.interfaces import ModuleLocation
from tfpilot_core.platform import Platform
from tfpilot_core.service_catalog import COSTS, ServiceCatalog


def _cli(home: Path, *args: str, user: str = "alice") -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--as", user, *args], obj=App(), env={"TFPILOT_HOME": str(home)}
    )
    # JSON is on stdout; errors (and plugin warnings) go to stderr.
    return result.exit_code, result.stdout if "--json" in args else result.output


@pytest.mark.slow
def test_catalog_json_validates_against_the_published_schema(
    home: Path, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFPILOT_CONFIG", str(write_config("")))
    code, schema_text = _cli(home, "schema", "catalog")
    assert code == 0, schema_text
    schema = json.loads(schema_text)
    # Every module without costs (fast), then one category with its costs computed.
    code, out = _cli(home, "--json", "catalog", "--no-costs")
    assert code == 0, out
    everything = json.loads(out)
    jsonschema.validate(everything, schema)
    names = [m["name"] for m in everything["modules"]]
    assert {"sandbox/bucket", "sandbox/instance", "test/plain", "test/aws"} <= set(names)
    code, out = _cli(home, "--json", "catalog", "--category", "storage")
    assert code == 0, out
    document = json.loads(out)
    jsonschema.validate(document, schema)
    assert [m["name"] for m in document["modules"]] == ["sandbox/bucket"]
    bucket = next(m for m in document["modules"] if m["name"] == "sandbox/bucket")
    assert bucket["owner"] == "platform-storage" and bucket["risk"] == "low"
    logs = bucket["examples"][0]
    assert logs["name"] == "logs" and logs["security_defaults"] == [
        "public_access.blocked",
        "encryption.enabled",
    ]
    assert logs["typical_cost"]["status"] == "estimated"
    assert logs["typical_cost"]["estimator"] == "sandbox"
    assert Decimal(logs["typical_cost"]["monthly"]) == Decimal("2.30")
    region = next(i for i in bucket["inputs"] if i["name"] == "region")
    assert region["allowed"] == ["local-1", "local-2", "local-3"] and region["immutable"]
    # Something the schema forbids is caught: the check can fail.
    bucket["examples"][0]["typical_cost"]["status"] = "guessed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
    code, out = _cli(home, "--json", "catalog", "--category", "compute", "--no-costs")
    assert [m["name"] for m in json.loads(out)["modules"]] == ["sandbox/instance"]


@pytest.mark.slow
def test_typical_costs_come_from_the_estimator_and_are_cached_per_version(
    make_platform: Callable[..., Platform], monkeypatch: pytest.MonkeyPatch, modules_root: Path
) -> None:
    import tfpilot_sandbox.cost as prices

    platform = make_platform()
    catalog = ServiceCatalog(platform)
    instance = catalog.entry("alice", "sandbox/instance")
    costs = {e.name: e.typical_cost for e in instance.examples}
    # small, private: 0.0104 * 730; large with a public IP: 0.0832 * 730 + 3.65.
    assert costs["build-agent"].monthly == Decimal("7.59")
    assert costs["public-web"].monthly == Decimal("64.39")
    assert costs["build-agent"].module_version == instance.version
    assert platform.store.get_record(COSTS, f"sandbox/instance@{instance.version}/public-web")

    # A new price list does not change a cached cost (same module version) ...
    monkeypatch.setitem(prices.INSTANCE_HOURLY, "small", Decimal("1.00"))
    again = catalog.entry("alice", "sandbox/instance")
    assert again.examples[0].typical_cost.monthly == Decimal("7.59")
    # ... but a fresh store prices again, with the estimator's new answer (no constant).
    for record in platform.store.list_records(COSTS):
        platform.store.delete_record(COSTS, record.key, expected_version=record.version)
    repriced = catalog.entry("alice", "sandbox/instance")
    assert repriced.examples[0].typical_cost.monthly == Decimal("730.00")

    # A module without any priced resource: no estimate; with an unmirrored provider: not planned.
    plain = catalog.entry("alice", "test/plain")
    assert plain.examples[0].typical_cost.status == "no_estimate"
    aws = catalog.entry("alice", "test/aws")
    cost = aws.examples[0].typical_cost
    assert cost.status == "unavailable" and "hashicorp/aws" in (cost.error or "")
    assert not (platform.config.home / "work").joinpath("req_dev_aws_").exists()

    # Changing the module gives a new version, priced anew.
    (modules_root / "test" / "plain" / "extra.tf").write_text("# a comment\n")
    fresh = make_platform()
    assert ServiceCatalog(fresh).entry("alice", "test/plain").version != plain.version


def test_entry_without_costs_shows_inputs_usage_and_changelog(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform()
    catalog = ServiceCatalog(platform)
    platform.create(
        "alice", module="test/plain", environment="dev", project="shop", inputs={"name": "a"}
    )
    platform.create(
        "alice", module="test/plain", environment="stage", project="shop", inputs={"name": "b"}
    )
    entry = catalog.entry("alice", "test/plain", costs=False)
    assert entry.owner == "team-test" and entry.category == "test"
    assert entry.changelog is not None and "## 1.1" in entry.changelog
    assert entry.examples[0].typical_cost.status == "not_computed"
    assert entry.usage.total == 2
    assert entry.usage.by_environment == {
        "dev": {"request_created": 1},
        "stage": {"request_created": 1},
    }
    size = next(i for i in entry.inputs if i.name == "size")
    assert size.allowed == ["small", "large"] and size.default == "small"
    assert catalog.entry("alice", "sandbox/bucket", costs=False).changelog is None


def test_catalog_request_prefills_the_example_and_takes_overrides(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform()
    catalog = ServiceCatalog(platform)
    request = catalog.request(
        "alice",
        "sandbox/bucket",
        example="scratch",
        environment="dev",
        project="shop",
        inputs={"region": "local-3"},
    )
    assert request.inputs["name"].startswith("scratch-")
    assert request.inputs["versioning"] is False and request.inputs["region"] == "local-3"
    first = catalog.request("alice", "sandbox/bucket", environment="dev", project="shop")
    assert first.inputs["name"].startswith("logs-")
    with pytest.raises(NotFoundError, match=r"no example 'nope'.*logs, scratch"):
        catalog.request("alice", "sandbox/bucket", example="nope", environment="dev", project="x1")


def test_cli_catalog_request_and_show(
    home: Path, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFPILOT_CONFIG", str(write_config("")))
    code, out = _cli(
        home,
        "--json",
        "catalog",
        "request",
        "sandbox/instance",
        "--example",
        "build-agent",
        "--env",
        "dev",
        "--project",
        "shop",
        "--set",
        "size=medium",
    )
    assert code == 0, out
    request = json.loads(out)
    assert request["inputs"]["size"] == "medium" and request["inputs"]["name"].startswith(
        "build-agent-"
    )
    code, out = _cli(home, "catalog", "show", "sandbox/instance", "--no-costs")
    assert code == 0, out
    assert "example public-web" in out and "opt-outs allowed" in out
    assert "usage dev: request_created 1" in out


def _module(tmp_path: Path, toml: str) -> ModuleLocation:
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "main.tf").write_text('variable "name" {\n  type = string\n}\n')
    (directory / "tfpilot.module.toml").write_text(toml)
    return ModuleLocation(name="t/m", path=directory)


def test_example_names_default_to_the_title_and_are_checked(tmp_path: Path) -> None:
    spec = load_module(
        _module(tmp_path, 'owner = "me"\n[[examples]]\ntitle = "Big One!"\ninputs = {name = "a"}\n')
    )
    assert spec.owner == "me" and spec.examples[0].name == "big-one"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[[examples]]\ntitle = "x"\nname = "Bad Name"\n', "examples[0].name"),
        ('[[examples]]\ntitle = "x"\n[[examples]]\ntitle = "x"\n', "examples[1].name"),
        ('[[examples]]\ntitle = "x"\nopt_outs = [1]\n', "examples[0].opt_outs"),
        ("owner = 3\n", "owner"),
    ],
)
def test_bad_example_metadata_is_a_config_error(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_module(_module(tmp_path, toml))
    assert key in str(caught.value.message) or caught.value.key == key


def test_usage_counts_only_requests_the_reader_may_read(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform(
        '[users.gina]\n[[users.gina.grants]]\nrole = "viewer"\nprojects = ["web"]\n'
    )
    for project in ("shop", "web", "web"):
        platform.create(
            "alice", module="test/plain", environment="dev", project=project, inputs={"name": "a"}
        )
    catalog = ServiceCatalog(platform)
    assert catalog.entry("alice", "test/plain", costs=False).usage.total == 3
    assert catalog.entry("gina", "test/plain", costs=False).usage.total == 2
    document = catalog.document("gina", category="test", costs=False)
    assert {m.name: m.usage.total for m in document.modules} == {"test/aws": 0, "test/plain": 2}


def test_declared_security_defaults_are_security_default_rules() -> None:
    """Every module's examples name real security-default rules of the built-in policy."""
    import tfpilot_sandbox
    from tfpilot_policy_builtin.rules import builtin_rules

    security = {rule.id for rule in builtin_rules() if rule.security_default}
    roots = [
        Path(tfpilot_sandbox.__file__).parent / "modules",
        Path(__file__).resolve().parents[2] / "modules" / "aws",
    ]
    checked = 0
    for root in roots:
        for directory in sorted(p for p in root.iterdir() if (p / "main.tf").is_file()):
            spec = load_module(ModuleLocation(name=f"x/{directory.name}", path=directory))
            assert spec.owner, f"{directory} has no owner"
            for example in spec.examples:
                assert set(example.security_defaults) <= security, (directory, example.name)
                assert set(example.opt_outs) <= security, (directory, example.name)
                checked += 1
    assert checked >= 12
