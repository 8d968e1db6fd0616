"""Request templates: locked fields, allowed overrides, versions, pins, retirement, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode, ForbiddenError, NotFoundError, ValidationError
from tfpilot_core.models import RequestQuery
from tfpilot_core.platform import Platform
from tfpilot_core.templates import Templates, apply

CREATE = {"module": "sandbox/bucket", "environment": "dev", "project": "shop"}


@pytest.fixture
def platform(make_platform: Callable[..., Platform]) -> Platform:
    return make_platform()


def _template(platform: Platform, **extra: object) -> None:
    fields: dict[str, object] = {
        "module": "sandbox/bucket",
        "defaults": {"region": "local-2", "versioning": True},
        "locked": ["versioning"],
        **extra,
    }
    Templates(platform).create("carol", "logs", **fields)  # type: ignore[arg-type]


def test_defaults_fill_in_and_the_request_records_name_and_version(platform: Platform) -> None:
    _template(platform)
    request = platform.create("alice", **CREATE, inputs={"name": "logs"}, template_id="logs")
    assert request.inputs["region"] == "local-2" and request.inputs["versioning"] is True
    assert request.placement.template_id == "logs"
    assert request.placement.template_version == 1
    assert request.inputs["tags"]["tfpilot:template_id"] == "logs"


def test_a_locked_field_cannot_be_overridden_through_the_api(platform: Platform) -> None:
    _template(platform)
    with pytest.raises(ValidationError, match=r"inputs.versioning.*locked by template logs v1"):
        platform.create(
            "alice", **CREATE, inputs={"name": "x", "versioning": False}, template_id="logs"
        )
    assert platform.store.list_requests(RequestQuery()).items == []


def test_only_allowed_overrides_may_be_set(platform: Platform) -> None:
    _template(platform, allowed_overrides=["name"])
    platform.create("alice", **CREATE, inputs={"name": "ok"}, template_id="logs")
    with pytest.raises(ValidationError, match=r"inputs.region.*does not allow setting it"):
        platform.create(
            "alice", **CREATE, inputs={"name": "x", "region": "local-1"}, template_id="logs"
        )


def test_pinned_environment_and_project_are_enforced(platform: Platform) -> None:
    _template(platform, environment="dev", project="shop")
    with pytest.raises(ValidationError, match=r"environment.*is for environment dev, not stage"):
        platform.create(
            "alice", **{**CREATE, "environment": "stage"}, inputs={"name": "x"}, template_id="logs"
        )
    with pytest.raises(ValidationError, match=r"project.*is for project shop, not web"):
        platform.create(
            "alice", **{**CREATE, "project": "web"}, inputs={"name": "x"}, template_id="logs"
        )


def test_an_update_leaves_existing_requests_alone_and_diff_lists_them(platform: Platform) -> None:
    _template(platform)
    old = platform.create("alice", **CREATE, inputs={"name": "old"}, template_id="logs")
    new_version = Templates(platform).update(
        "carol", "logs", defaults={"region": "local-3", "versioning": False}
    )
    assert new_version.version == 2
    stored = platform.get(old.id)
    assert stored.inputs["region"] == "local-2" and stored.inputs["versioning"] is True
    assert stored.placement.template_version == 1 and stored.version == old.version
    new = platform.create("alice", **CREATE, inputs={"name": "new"}, template_id="logs")
    assert new.placement.template_version == 2 and new.inputs["region"] == "local-3"
    diff = Templates(platform).diff("logs")
    assert diff["current_version"] == 2
    assert [r["request"] for r in diff["older"]] == [old.id]
    assert diff["changes"][0]["changed"]["defaults"][1]["region"] == "local-3"
    # Version 1 is still readable as it was.
    assert Templates(platform).get("logs", 1).defaults["region"] == "local-2"


def test_a_retired_template_cannot_be_used(platform: Platform) -> None:
    _template(platform)
    kept = platform.create("alice", **CREATE, inputs={"name": "kept"}, template_id="logs")
    Templates(platform).retire("carol", "logs")
    with pytest.raises(ForbiddenError, match="retired by carol: it cannot be used"):
        platform.create("alice", **CREATE, inputs={"name": "x"}, template_id="logs")
    with pytest.raises(ForbiddenError, match="retired"):
        Templates(platform).update("carol", "logs", description="again")
    assert platform.get(kept.id).placement.template_id == "logs"
    assert Templates(platform).list() == []
    assert [r.name for r in Templates(platform).list(include_retired=True)] == ["logs"]


def test_only_admins_manage_templates(platform: Platform) -> None:
    with pytest.raises(ForbiddenError, match="needs role admin"):
        Templates(platform).create("bob", "logs", module="sandbox/bucket")
    _template(platform)
    with pytest.raises(ForbiddenError, match="needs role admin"):
        Templates(platform).retire("alice", "logs")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"defaults": {"nope": 1}}, "defaults.nope.*has no input"),
        ({"locked": ["nope"]}, "locked.nope"),
        ({"defaults": {"versioning": "maybe"}}, "defaults.versioning"),
        ({"locked": ["region"], "allowed_overrides": ["region"]}, "cannot be overridable"),
    ],
)
def test_templates_are_checked_against_the_module(
    platform: Platform, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Templates(platform).create("carol", "bad", module="sandbox/bucket", **fields)  # type: ignore[arg-type]


def test_unknown_template_and_bad_names(platform: Platform) -> None:
    with pytest.raises(NotFoundError, match="template 'missing' does not exist"):
        platform.create("alice", **CREATE, inputs={"name": "x"}, template_id="missing")
    with pytest.raises(ValidationError, match="not a template name"):
        Templates(platform).record("../etc")
    _template(platform)
    with pytest.raises(ValidationError, match="is for module sandbox/bucket, not sandbox/queue"):
        platform.create(
            "alice",
            **{**CREATE, "module": "sandbox/queue"},
            inputs={"name": "x"},
            template_id="logs",
        )


def test_apply_is_pure() -> None:
    from tfpilot_core.templates import Template

    template = Template(
        name="t", version=3, module="m", defaults={"a": 1}, locked=["b"], created_by="carol"
    )
    assert apply(template, {"c": 2}) == {"a": 1, "c": 2}
    with pytest.raises(ValidationError, match=r"inputs.b.*locked by template t v3"):
        apply(template, {"b": 0})


def _cli(home: Path, *args: str, user: str = "alice") -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(cli, ["--as", user, *args], obj=App(), env={"TFPILOT_HOME": str(home)})
    # JSON is on stdout; errors (and plugin warnings) go to stderr.
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_cli_locked_field_refused_and_template_recorded(
    home: Path, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFPILOT_CONFIG", str(write_config("")))
    code, out = _cli(
        home,
        "--json",
        "templates",
        "create",
        "logs",
        "--module",
        "sandbox/bucket",
        "--set",
        "versioning=true",
        "--lock",
        "versioning",
        user="carol",
    )
    assert code == 0, out
    assert json.loads(out)["versions"][0]["locked"] == ["versioning"]
    create = [
        "requests",
        "create",
        "--module",
        "sandbox/bucket",
        "--env",
        "dev",
        "--project",
        "shop",
    ]
    code, out = _cli(
        home, *create, "--set", "name=a", "--set", "versioning=false", "--template", "logs"
    )
    assert code == ExitCode.VALIDATION, out
    assert "versioning" in out and "locked" in out
    code, out = _cli(home, "--json", *create, "--set", "name=a", "--template", "logs")
    assert code == 0, out
    placement = json.loads(out)["placement"]
    assert placement["template_id"] == "logs" and placement["template_version"] == 1
    code, out = _cli(home, "templates", "update", "logs", "--set", "region=local-3", user="alice")
    assert code == ExitCode.FORBIDDEN, out
    code, out = _cli(
        home, "--json", "templates", "update", "logs", "--set", "region=local-3", user="carol"
    )
    assert code == 0, out
    # --set changes the named input only: versioning=true stays in v2.
    assert json.loads(out)["versions"][1]["defaults"] == {"versioning": True, "region": "local-3"}
    code, out = _cli(home, "--json", "templates", "diff", "logs")
    assert code == 0 and len(json.loads(out)["older"]) == 1, out
    code, out = _cli(home, "templates", "retire", "logs", user="carol")
    assert code == 0, out
    code, out = _cli(home, *create, "--set", "name=b", "--template", "logs")
    assert code == ExitCode.FORBIDDEN and "retired" in out, out
    code, out = _cli(home, "--json", "templates", "list", "--all")
    assert code == 0 and json.loads(out)["items"][0]["retired"] is True


def test_diff_lists_only_requests_the_reader_may_read(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform(
        '[users.gina]\n[[users.gina.grants]]\nrole = "viewer"\nprojects = ["web"]\n'
    )
    _template(platform)
    shop = platform.create("alice", **CREATE, inputs={"name": "a"}, template_id="logs")
    web = platform.create(
        "alice", **{**CREATE, "project": "web"}, inputs={"name": "b"}, template_id="logs"
    )
    Templates(platform).update("carol", "logs", description="v2")
    everyone = [r["request"] for r in Templates(platform).diff("logs")["older"]]
    assert sorted(everyone) == sorted([shop.id, web.id])
    assert [r["request"] for r in Templates(platform).diff("logs", "gina")["older"]] == [web.id]


_KEYS = st.sampled_from(["name", "region", "tags", "versioning", "size", "x"])


@given(
    defaults=st.dictionaries(_KEYS, st.integers() | st.text(max_size=5), max_size=4),
    locked=st.lists(_KEYS, max_size=3, unique=True),
    allowed=st.none() | st.lists(_KEYS, max_size=3, unique=True),
    given_inputs=st.dictionaries(_KEYS, st.integers() | st.booleans(), max_size=4),
)
def test_apply_never_lets_a_locked_or_disallowed_field_through(
    defaults: dict[str, object],
    locked: list[str],
    allowed: list[str] | None,
    given_inputs: dict[str, object],
) -> None:
    from tfpilot_core.templates import Template, overridable

    template = Template(
        name="t",
        version=1,
        module="m",
        defaults=defaults,
        locked=locked,
        allowed_overrides=allowed,
        created_by="carol",
    )
    try:
        result = apply(template, given_inputs)
    except ValidationError as exc:
        bad = {p.field.removeprefix("inputs.") for p in exc.problems}
        assert bad and all(k in locked or (allowed is not None and k not in allowed) for k in bad)
        assert bad <= set(given_inputs)
    else:
        for key in locked:
            assert result.get(key) == defaults.get(key)
        if allowed is not None:
            assert set(given_inputs) <= set(allowed)
    # What promotion keeps is always accepted.
    kept, dropped = overridable(template, given_inputs)
    apply(template, kept)
    assert set(kept) | set(dropped) == set(given_inputs)


@given(st.text(max_size=80))
def test_template_names_are_strict(name: str) -> None:
    from tfpilot_core.templates import NAME_PATTERN, _check_name

    if NAME_PATTERN.fullmatch(name):
        assert _check_name(name) == name
    else:
        with pytest.raises(ValidationError, match="not a template name"):
            _check_name(name)


def test_a_sensitive_input_cannot_have_a_template_default(
    make_platform: Callable[..., Platform], modules_root: Path
) -> None:
    secret = modules_root / "test" / "secret"
    secret.mkdir()
    (secret / "main.tf").write_text(
        'variable "name" {\n  type = string\n}\n'
        'variable "password" {\n  type      = string\n  default   = null\n  sensitive = true\n}\n'
    )
    platform = make_platform()
    with pytest.raises(ValidationError, match=r"defaults.password.*cannot have a template default"):
        Templates(platform).create(
            "carol", "secret", module="test/secret", defaults={"password": "hunter22"}
        )
    # Locking it (to the module's default) is fine: nothing secret is stored.
    Templates(platform).create("carol", "secret", module="test/secret", locked=["password"])


def test_an_update_cannot_set_a_locked_field_either(platform: Platform) -> None:
    _template(platform, allowed_overrides=["name", "tags"])
    request = platform.create("alice", **CREATE, inputs={"name": "a"}, template_id="logs")
    with pytest.raises(ValidationError, match=r"inputs.versioning.*locked by template logs v1"):
        platform.update("alice", request.id, {"versioning": False})
    with pytest.raises(ValidationError, match=r"inputs.region.*does not allow setting it"):
        platform.update("alice", request.id, {"region": "local-3"})
    updated = platform.update("alice", request.id, {"tags": {"team": "b"}})
    assert updated.revision == 2 and updated.inputs["versioning"] is True
    # The version the request was made from decides, not a later one.
    Templates(platform).update("carol", "logs", locked=[], allowed_overrides=None)
    with pytest.raises(ValidationError, match="locked by template logs v1"):
        platform.update("alice", request.id, {"versioning": False})
