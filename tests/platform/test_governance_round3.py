"""Governance gaps found in use (issue 27, items 11, 12, 13, 15, 16, 17): each with the example
that used to get through.

Platform level with the fake runner; the CLI runs over the same platform (``App`` built around
it), so what the command adds (asking for the plan, exit codes) is tested without Terraform.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.config import load_config
from tfpilot_core.errors import (
    ConfigError,
    ConflictError,
    ExitCode,
    ForbiddenError,
    PolicyBlockedError,
    ValidationError,
)
from tfpilot_core.identity import Identity
from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.models import PolicyFinding, PolicyLevel, RunKind
from tfpilot_core.platform import Platform
from tfpilot_core.rbac import Action
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with


def _create(platform: Platform, actor: str = "dev", env: str = "dev", **kw: Any) -> Any:
    return platform.create(
        actor, module="test/bucket", environment=env, project="shop", inputs={"name": "logs"}, **kw
    )


def _digest(platform: Platform, request_id: str) -> str:
    plan = platform.get(request_id).latest(RunKind.PLAN)
    assert plan is not None and plan.plan_digest
    return plan.plan_digest


def _cli(platform: Platform, actor: str, *args: str, stdin: str | None = None) -> Any:
    state = App(_config=platform.config, _host=platform.kernel.host, _platform=platform)
    return CliRunner().invoke(cli, ["--as", actor, *args], obj=state, input=stdin)


# -- 11. an approval names the plan it approves ---------------------------------------------------


def test_cli_approve_without_plan_is_refused_in_a_script(platform: Platform) -> None:
    request = _create(platform)
    platform.plan("dev", request.id)
    result = _cli(platform, "appr", "approve", request.id)
    assert result.exit_code == ExitCode.VALIDATION, result.output
    assert "--plan DIGEST" in result.output and "no terminal" in result.output
    assert platform.status(platform.get(request.id)) is RequestStatus.PLAN_READY
    named = _cli(platform, "appr", "approve", request.id, "--plan", _digest(platform, request.id))
    assert named.exit_code == 0, named.output
    assert platform.status(platform.get(request.id)) is RequestStatus.APPROVED


def test_cli_approve_on_a_terminal_shows_the_plan_and_asks(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _create(platform)
    platform.plan("dev", request.id)
    digest = _digest(platform, request.id)
    # CliRunner's streams are not terminals: the check is what a person at one would get.
    monkeypatch.setattr("tfpilot_core.cli.requests.on_terminal", lambda: True)
    declined = _cli(platform, "appr", "approve", request.id, stdin="n\n")
    assert declined.exit_code != 0 and digest in declined.output, declined.output
    assert platform.status(platform.get(request.id)) is RequestStatus.PLAN_READY
    accepted = _cli(platform, "appr", "approve", request.id, stdin="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert platform.get(request.id).approvals[-1].plan_digest == digest


def test_cli_approve_in_a_protected_environment_needs_plan_even_on_a_terminal(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _create(platform, env="prod")
    platform.plan("dev", request.id)
    monkeypatch.setattr("tfpilot_core.cli.requests.on_terminal", lambda: True)
    result = _cli(platform, "appr", "approve", request.id, stdin="y\n")
    assert result.exit_code == ExitCode.VALIDATION, result.output
    assert "protected environment" in result.output
    assert not platform.get(request.id).approvals


def test_core_approve_without_digest_is_deprecated_and_a_short_one_refused(
    platform: Platform,
) -> None:
    request = _create(platform)
    platform.plan("dev", request.id)
    with pytest.raises(ValidationError, match="at least 12"):
        platform.approve("appr", request.id, plan_digest=_digest(platform, request.id)[:6])
    with pytest.warns(DeprecationWarning, match="without plan_digest"):
        platform.approve("appr", request.id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = _create(platform)
        platform.plan("dev", other.id)
        platform.approve("appr", other.id, plan_digest=_digest(platform, other.id)[:12])


def test_a_malformed_override_is_invalid_input_not_an_internal_error(platform: Platform) -> None:
    request = _create(platform)
    platform.plan("dev", request.id)
    digest = _digest(platform, request.id)
    for overrides, field in (
        ([{"rule_id": "x.y", "reason": ""}], "overrides[0].reason"),
        ([{"reason": "fine by me"}], "overrides[0].rule_id"),
        ([{"rule_id": "x.y", "reason": "ok", "by": "me"}], "overrides[0]"),
    ):
        with pytest.raises(ValidationError) as refused:
            platform.approve("appr", request.id, plan_digest=digest, overrides=overrides)
        assert refused.value.problems[0].field == field
    assert not platform.get(request.id).approvals


# -- 12. identity on a shared store; unknown users ------------------------------------------------


def test_unknown_users_have_no_access_unless_configured(platform: Platform) -> None:
    request = _create(platform)
    with pytest.raises(ForbiddenError, match="no role"):
        platform.read("mallory", request.id)
    assert platform.list("mallory").items == []
    assert not platform.kernel.access.read_scope("mallory").covers("shop", "dev")
    platform.config.core.unknown_users = "viewer"  # the behaviour before, by explicit choice
    assert platform.read("mallory", request.id).id == request.id
    with pytest.raises(ForbiddenError):
        _create(platform, "mallory")


def test_unknown_users_setting_is_validated(tmp_path: Path) -> None:
    config = tmp_path / "tfpilot.toml"
    config.write_text('[core]\nunknown_users = "viewr"\n')
    with pytest.raises(ConfigError, match=r"core\.unknown_users"):
        load_config(config, environ={})
    config.write_text('[core]\nunknown_users = "viewer"\n')
    assert load_config(config, environ={}).role_for("x", project="p", environment="dev") == (
        "viewer"
    )
    assert (
        load_config(None, environ={"TFPILOT_HOME": str(tmp_path / "none")}).role_for(
            "x", project="p", environment="dev"
        )
        is None
    )


def test_an_unverified_user_on_a_shared_store_may_only_read_and_is_told_why() -> None:
    from tfpilot_core.identity import untrusted_reason

    local = Identity(actor="mallory", provider="local")
    assert untrusted_reason(local, store="embedded", trust_local_user=False) is None
    reason = untrusted_reason(local, store="s3", trust_local_user=False)
    assert reason is not None and "may only read" in reason
    assert "trust_local_user = true" in reason
    assert "api_token" in reason and "github_actions" in reason
    assert untrusted_reason(local, store="s3", trust_local_user=True) is None
    verified = Identity(actor="a", provider="api_token", verified=True)
    assert untrusted_reason(verified, store="s3", trust_local_user=False) is None


def test_limit_to_reads_caps_every_role_and_keeps_where_one_may_read(tmp_path: Path) -> None:
    config = tmp_path / "tfpilot.toml"
    config.write_text(
        '[core]\nunknown_users = "developer"\n'
        '[users.admin]\nrole = "admin"\n'
        '[users.scoped]\ngrants = [{ role = "approver", projects = ["shop"] }]\n'
    )
    loaded = load_config(config, environ={})
    for user in ("admin", "scoped", "stranger"):
        loaded.limit_to_reads(user)
    assert loaded.role_for("admin", project="any", environment="prod") == "viewer"
    assert loaded.role_for("scoped", project="shop", environment="prod") == "viewer"
    assert loaded.role_for("scoped", project="other", environment="prod") is None
    assert loaded.role_for("stranger", project="any", environment="dev") == "viewer"


def _s3_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(
        '[core]\nstore = "s3"\n[plugins.store_s3]\nbucket = "tfp-test"\n'
        'endpoint_url = "http://127.0.0.1:9"\nregion = "us-east-1"\n'
        '[users.admin]\nrole = "admin"\n'
    )
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.delenv("TFPILOT_USER", raising=False)
    monkeypatch.delenv("TFPILOT_CORE__TRUST_LOCAL_USER", raising=False)
    return home


def test_cli_as_name_on_an_s3_store_reads_but_acts_only_when_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _s3_home(tmp_path, monkeypatch)
    state = App()
    state.actor = "admin"
    assert state.whoami() == "admin"
    assert state.reads_only is not None and "may only read" in state.reads_only
    access = state.reader.kernel.access
    assert access.may("admin", Action.READ, project="shop", environment="dev")
    for action in (Action.CREATE, Action.APPROVE, Action.APPLY, Action.DESTROY):
        assert not access.may("admin", action, project="shop", environment="dev")
    # The refusal of an action says why, through the CLI's hint.
    refused = CliRunner().invoke(
        cli,
        ["--as", "admin", "requests", "create", "--module", "sandbox/bucket", "--env", "dev",
         "--project", "shop", "--set", "name=x"],
        obj=App(),
    )  # fmt: skip
    assert refused.exit_code == ExitCode.FORBIDDEN, refused.output
    assert "may only read" in refused.output and "trust_local_user" in refused.output

    monkeypatch.setenv("TFPILOT_CORE__TRUST_LOCAL_USER", "true")
    trusted = App()
    trusted.actor = "admin"
    assert trusted.whoami() == "admin" and trusted.reads_only is None
    assert trusted.reader.kernel.access.may(
        "admin", Action.DESTROY, project="shop", environment="dev"
    )


# -- 13. opt-outs are validated, once, and reviewed in protected environments --------------------


@pytest.fixture
def policy(platform: Platform, register_plugin: Callable[..., str]) -> Platform:
    """The platform with the built-in policy engine (its rules are what opt-outs name)."""
    from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
    from tfpilot_policy_builtin.settings import PolicySettings

    engine = Registration(
        name="policy_builtin", factory=lambda s, c: BuiltinPolicyEngine(PolicySettings())
    )
    register_plugin(plugin_with("tfpilot_register_policy_engines", lambda: [engine]))
    return platform


def test_opt_out_with_a_short_justification_is_invalid_input_naming_the_field(
    policy: Platform,
) -> None:
    platform = policy
    with pytest.raises(ValidationError) as refused:
        _create(platform, opt_outs=[{"rule_id": "encryption.enabled", "justification": "nah"}])
    problem = refused.value.problems[0]
    assert (problem.field, problem.rule) == ("opt_outs[0].justification", "min_length")
    result = _cli(
        platform, "dev", "requests", "create", "--module", "test/bucket", "--env", "dev",
        "--project", "shop", "--set", "name=x", "--opt-out", "encryption.enabled=nah",
    )  # fmt: skip
    assert result.exit_code == ExitCode.VALIDATION, result.output
    assert "opt_outs[0].justification" in result.output and "Internal error" not in result.output


def test_opt_out_of_an_unknown_or_ordinary_rule_is_refused(policy: Platform) -> None:
    platform = policy
    reason = "a public demo site, approved by security"
    with pytest.raises(ValidationError, match=r"did you mean 'public_access\.blocked'"):
        _create(platform, opt_outs=[{"rule_id": "public_access.blockd", "justification": reason}])
    with pytest.raises(ValidationError, match="not a security default"):
        _create(platform, opt_outs=[{"rule_id": "tags.required", "justification": reason}])
    with pytest.raises(ValidationError, match="twice"):
        _create(
            platform,
            opt_outs=[{"rule_id": "public_access.blocked", "justification": reason}] * 2,
        )
    assert platform.list("admin").items == []
    stored = _create(
        platform, opt_outs=[{"rule_id": "public_access.blocked", "justification": reason}]
    )
    assert [o.rule_id for o in stored.opt_outs] == ["public_access.blocked"]


def test_opt_outs_in_a_protected_environment_need_the_approvers_override(
    policy: Platform,
) -> None:
    platform = policy
    reason = "a public demo site, approved by security"
    request = _create(
        platform, env="prod", opt_outs=[{"rule_id": "encryption.enabled", "justification": reason}]
    )
    platform.plan("dev", request.id)
    digest = _digest(platform, request.id)
    with pytest.raises(PolicyBlockedError, match=r"encryption\.enabled.*opted out by dev"):
        platform.approve("appr", request.id, plan_digest=digest)
    approved = platform.approve(
        "appr",
        request.id,
        plan_digest=digest,
        overrides=[{"rule_id": "encryption.enabled", "reason": "checked with security"}],
    )
    assert approved.approvals[-1].overrides[0].rule_id == "encryption.enabled"
    # An unprotected environment keeps opt-outs the requester's own call.
    dev = _create(platform, opt_outs=[{"rule_id": "encryption.enabled", "justification": reason}])
    platform.plan("dev", dev.id)
    platform.approve("appr", dev.id, plan_digest=_digest(platform, dev.id))


# -- 15. a refused create is kept in the audit trail ----------------------------------------------


def _blocking_engine(register_plugin: Callable[..., str]) -> None:
    class Blocker:
        def evaluate(self, subject: Any) -> list[PolicyFinding]:
            name = str(subject.request.inputs.get("name"))
            if subject.stage != "request" or not name.startswith("forbidden"):
                return []
            return [
                PolicyFinding(
                    rule_id="naming.reserved",
                    level=PolicyLevel.BLOCKING,
                    message=f"name reserved (password {subject.request.inputs.get('password')})",
                )
            ]

    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [Registration(name="blocker", factory=lambda s, c: Blocker())],
        ),
        name="blocker",
    )


def test_a_refused_create_is_recorded_for_auditors_without_a_request(
    platform: Platform, register_plugin: Callable[..., str]
) -> None:
    from tfpilot_core.lifecycle.changes import REFUSALS, refusals  # new: main keeps none

    _blocking_engine(register_plugin)
    platform.config.core.policy_engines = ["blocker"]
    with pytest.raises(PolicyBlockedError, match=r"naming\.reserved"):
        platform.create(
            "dev", module="test/bucket", environment="prod", project="shop",
            inputs={"name": "forbidden", "password": "hunter2-secret"},
        )  # fmt: skip
    assert platform.list("admin").items == []
    rows = refusals(platform.kernel, "admin")
    assert len(rows) == 1
    row = rows[0]
    assert (row["actor"], row["action"], row["environment"]) == ("dev", "create", "prod")
    assert row["rules"] == ["naming.reserved"] and row["inputs"]["name"].startswith("forbidden")
    assert "hunter2-secret" not in json.dumps(row)
    assert refusals(platform.kernel, "appr") == []  # only admins audit who asked for what
    assert platform.store.list_records(REFUSALS)
    result = _cli(platform, "admin", "--json", "audit", "refusals")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"][0]["rules"] == ["naming.reserved"]


# -- 16. destroy --yes in a protected environment is refused, not quietly a plan -----------------


def test_destroy_yes_in_a_protected_environment_is_refused(platform: Platform) -> None:
    request = _create(platform, env="prod")
    platform.plan("dev", request.id)
    platform.approve("appr", request.id, plan_digest=_digest(platform, request.id))
    platform.apply("appr", request.id)
    with pytest.raises(ValidationError, match="--yes cannot destroy in protected environment"):
        platform.destroy("admin", request.id, yes=True)
    assert platform.status(platform.get(request.id)) is RequestStatus.APPLIED  # nothing planned
    result = _cli(platform, "admin", "--json", "destroy", request.id, "--yes")
    assert result.exit_code == ExitCode.VALIDATION, result.output
    assert "ValidationError" in result.output and "protected environment prod" in result.output
    planned = platform.destroy("admin", request.id)
    assert platform.status(planned) is RequestStatus.PLAN_READY


# -- 17. idempotency keys are the caller's own ----------------------------------------------------


def test_idempotency_keys_are_scoped_to_the_caller(platform: Platform) -> None:
    mine = _create(platform, "dev", idempotency_key="deploy-1")
    theirs = _create(platform, "dana", idempotency_key="deploy-1")
    assert theirs.id != mine.id and theirs.created_by == "dana"
    assert _create(platform, "dev", idempotency_key="deploy-1").id == mine.id
    # Another caller's different arguments under the same key are not a conflict either.
    other = platform.create(
        "dana", module="test/bucket", environment="dev", project="shop",
        inputs={"name": "other"}, idempotency_key="other-key",
    )  # fmt: skip
    again = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop",
        inputs={"name": "else"}, idempotency_key="other-key",
    )  # fmt: skip
    assert again.id != other.id
    with pytest.raises(ConflictError, match="'deploy-1' was already used"):
        platform.create(
            "dev", module="test/bucket", environment="dev", project="shop",
            inputs={"name": "changed"}, idempotency_key="deploy-1",
        )  # fmt: skip


# -- 18. an ephemeral input is a reference, never a stored value ---------------------------------


def test_an_ephemeral_input_takes_only_an_environment_reference(
    platform: Platform, module_dir: Path
) -> None:
    (module_dir / "ephemeral.tf").write_text(
        'variable "db_password" {\n  type      = string\n  default   = null\n'
        "  ephemeral = true\n}\n"
    )
    secret = "literal-Ephemeral-pw-91c3"
    for value, rule in (
        (secret, "a literal value is refused"),
        ({"$env": "AWS_SECRET_ACCESS_KEY"}, "credentials are off limits"),
        ({"$file": "/etc/passwd"}, "must not read the runner's files"),
    ):
        with pytest.raises(ValidationError, match=rule) as refused:
            _create_with(platform, db_password=value)
        problem = refused.value.problems[0]
        assert (problem.field, problem.rule) == ("inputs.db_password", "ephemeral_reference")
    assert platform.list("admin").items == []
    reference = {"$env": "TFPILOT_INPUT_DB_PASSWORD"}
    stored = _create_with(platform, db_password=reference)
    assert stored.inputs["db_password"] == reference
    # An update that does not name it keeps the reference; a literal is refused there too.
    updated = platform.update("dev", stored.id, {"tags": {"team": "db"}})
    assert updated.inputs["db_password"] == reference
    with pytest.raises(ValidationError, match="ephemeral"):
        platform.update("dev", stored.id, {"db_password": secret})
    assert secret not in json.dumps(
        [r.model_dump(mode="json") for r in platform.list("admin").items]
    )


def _create_with(platform: Platform, **inputs: Any) -> Any:
    return platform.create(
        "dev", module="test/bucket", environment="dev", project="shop",
        inputs={"name": "db", **inputs},
    )  # fmt: skip


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    opt_outs=st.lists(
        st.dictionaries(
            st.sampled_from(["rule_id", "justification", "other"]) | st.text(max_size=8),
            _JSONISH | st.sampled_from(["public_access.blocked", "encryption.enabled"]),
            max_size=3,
        )
        | _JSONISH,
        max_size=3,
    )
)
def test_any_opt_outs_are_stored_valid_or_refused_as_invalid_input(
    policy: Platform, opt_outs: list[Any]
) -> None:
    # Opt-outs come from outside (CLI, API, web form): never an internal error (exit 1).
    try:
        stored = _create(policy, opt_outs=opt_outs)
    except ValidationError as exc:
        assert all(p.field.startswith("opt_outs[") for p in exc.problems), exc.problems
        return
    assert all(len(o.justification.strip()) >= 10 for o in stored.opt_outs)


@given(value=_JSONISH)
def test_an_ephemeral_value_is_a_reference_or_a_named_problem(value: Any) -> None:
    from tfpilot_core.catalog import ephemeral

    found = ephemeral.problem("db_password", value)
    assert (found is None) == (value is None or ephemeral.is_reference(value))
    if found is not None:
        assert (found.field, found.rule) == ("inputs.db_password", "ephemeral_reference")
