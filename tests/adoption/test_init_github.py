"""``tfpilot init github`` (the infra repository's callers, tfpilot.toml, IAM trust policies) and
``tfpilot init verify`` (a job fails closed when a selected plugin is not installed)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import PluginError
from tfpilot_core.required_plugins import missing, require

EVERYTHING = "store_s3 runner_github policy_builtin cost_infracost notify_slack notify_email"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=App())
    return result.exit_code, result.output


def test_writes_callers_config_and_trust_policies(tmp_path: Path) -> None:
    code, output = run(
        "--json", "init", "github", "--repository", "acme/infra", "--dir", str(tmp_path),
        "--ref", "v1.2.3", "--plugins", EVERYTHING,
    )  # fmt: skip
    assert code == 0, output
    written = json.loads(output)
    assert written["ref"] == "v1.2.3"
    names = {Path(f).name for f in written["files"] if f.startswith(".github/")}
    assert names == {
        f"tfpilot-{n}.yml"
        for n in ("plan", "apply", "destroy", "drift", "cleanup", "notify", "digest")
    }
    plan = yaml.safe_load((tmp_path / ".github/workflows/tfpilot-plan.yml").read_text())
    [job] = plan["jobs"].values()
    assert job["uses"] == "tfpilot/tfpilot/.github/workflows/tfpilot-plan.yml@v1.2.3"
    assert job["with"]["tfpilot-ref"] == "v1.2.3"
    assert job["with"]["plugins"] == EVERYTHING
    assert job["with"]["infracost"] is True
    assert job["with"]["aws-role"] == "${{ vars.TFPILOT_PLAN_ROLE }}"
    apply = yaml.safe_load((tmp_path / ".github/workflows/tfpilot-apply.yml").read_text())
    assert next(iter(apply["jobs"].values()))["with"]["aws-role"] == (
        "${{ vars.TFPILOT_APPLY_ROLE }}"
    )
    config = tomllib.loads((tmp_path / "tfpilot.toml").read_text())
    assert config["core"]["identity"] == "github_actions"
    assert config["core"]["cost_estimators"] == ["infracost"]
    assert config["core"]["notifiers"] == ["slack", "email"]
    assert config["plugins"]["github_actions"]["repositories"] == ["acme/infra"]
    # The apply role: only jobs in the requests' GitHub environments; plan: request branches.
    sub = "token.actions.githubusercontent.com:sub"
    apply_role = json.loads((tmp_path / "tfpilot/iam/apply-role-trust-policy.json").read_text())
    [statement] = apply_role["Statement"]
    assert statement["Condition"]["StringLike"][sub] == [
        "repo:acme/infra:environment:dev",
        "repo:acme/infra:environment:stage",
        "repo:acme/infra:environment:prod",
    ]
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
    }
    plan_role = json.loads((tmp_path / "tfpilot/iam/plan-role-trust-policy.json").read_text())
    assert plan_role["Statement"][0]["Condition"]["StringLike"][sub] == [
        "repo:acme/infra:ref:refs/heads/tfpilot/*",
        "repo:acme/infra:ref:refs/heads/main",
    ]


def test_refuses_to_overwrite_and_bad_options_are_one_line(tmp_path: Path) -> None:
    args = ("init", "github", "--repository", "acme/infra", "--dir", str(tmp_path))
    assert run(*args)[0] == 0
    code, output = run(*args)
    assert code == 8 and "already exists" in output and "--force" in output
    assert run(*args, "--force")[0] == 0
    code, output = run("init", "github", "--repository", "no-slash", "--dir", str(tmp_path))
    assert code == 3 and "--repository" in output and len(output.strip().splitlines()) == 1
    code, output = run(*args, "--force", "--install-from", "wheelhouse")
    assert code == 3 and "--wheelhouse" in output


def test_the_written_config_passes_verify_with_its_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", "github", "--repository", "acme/infra", "--dir", str(tmp_path),
               "--plugins", EVERYTHING)[0] == 0  # fmt: skip
    monkeypatch.setenv("TFPILOT_CONFIG", str(tmp_path / "tfpilot.toml"))
    monkeypatch.setenv("TFPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    monkeypatch.setenv("TFPILOT_WEBHOOK_SECRET", "y")
    code, output = run("init", "verify", "--install-set", EVERYTHING)
    assert code == 0, output


def test_verify_fails_closed_naming_the_plugin_and_the_install_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tfpilot.toml"
    config.write_text('[core]\nnotifiers = ["teams"]\n')
    monkeypatch.setenv("TFPILOT_CONFIG", str(config))
    monkeypatch.setenv("TFPILOT_HOME", str(tmp_path / "home"))
    code, output = run("init", "verify", "--install-set", "store_s3 runner_github")
    assert code == 5, output
    [line] = [x for x in output.splitlines() if x.startswith("Error")]
    assert "'teams'" in line and "store_s3 runner_github" in line
    # An unread section (a policy engine configured but not installed) is refused too.
    config.write_text("[plugins.policy_opa]\nbundle = 'x'\n")
    code, output = run("init", "verify", "--install-set", "store_s3")
    assert code == 5 and "[plugins.policy_opa]" in output


def test_missing_names_each_kind() -> None:
    registered = {"policy_engines": ["policy_builtin"], "cost_estimators": [], "store": ["s3"]}
    selected = {
        "policy_engines": ["policy_builtin"],
        "cost_estimators": ["infracost"],
        "notifiers": None,  # all installed: nothing to miss
        "store": "s3",
    }
    found = missing(selected, registered, ["notify_slack"])
    assert found == [
        "the cost estimator 'infracost' (plugin cost_infracost) ([core] cost_estimators)",
        "the plugin of [plugins.notify_slack] (plugin notify_slack)",
    ]
    assert missing({"store": "s3"}, registered, []) == []
    require([], "anything")
    with pytest.raises(PluginError) as caught:
        require(found, "store_s3 runner_github")
    assert "(and 1 more)" in caught.value.message
    assert "\n" not in caught.value.message
