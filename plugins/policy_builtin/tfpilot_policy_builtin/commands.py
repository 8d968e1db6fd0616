"""``tfpilot policy``: show the effective policy, check any ``terraform show -json`` plan.

``policy check`` first tries the quick path (:mod:`tfpilot_policy_builtin.quick`: no pydantic,
the same answer) and otherwise builds the engine. It exits with 9
(:attr:`~tfpilot_core.errors.ExitCode.POLICY`) when a finding at or above ``--fail-on`` is found
(default ``mandatory``: outside the request flow nobody can record an approver's override, so a
mandatory finding blocks too), 3 when the plan document is invalid.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from tfpilot_core.cli.app import app, emit, json_option

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tfpilot_policy_builtin.engine import BuiltinPolicyEngine
    from tfpilot_policy_builtin.formats import Keyed, RuleSet
    from tfpilot_policy_builtin.judge import FindingLike

FORMATS = ("text", "json", "sarif", "junit")
_RANK = {"advisory": 0, "mandatory": 1, "blocking": 2, "never": 3}


def configured_engine() -> BuiltinPolicyEngine:
    """The engine with this configuration's ``[plugins.policy_builtin]`` and installed packs."""
    from tfpilot_policy_builtin.engine import BuiltinPolicyEngine, collect_pack_rules
    from tfpilot_policy_builtin.registration import registration
    from tfpilot_policy_builtin.settings import PolicySettings

    state = app()
    settings = state.host.settings_for(registration())
    assert isinstance(settings, PolicySettings)
    packs = collect_pack_rules(state.host, settings.packs)
    source = str(state.config.source) if state.config.source else "<defaults>"
    return BuiltinPolicyEngine(settings, packs, source=source)


@click.group("policy")
def policy_group() -> None:
    """Policy: the rules in force, and checks of plan files.

    \b
    Examples:
      tfpilot policy show --env prod
      terraform show -json tfplan | tfpilot policy check - --env prod
    """


@policy_group.command("show")
@click.option("--env", "env_key", metavar="ENV", help="Only this environment.")
@json_option
def policy_show(env_key: str | None) -> None:
    """Print the effective policy per environment (rules, levels, parameters).

    \b
    Examples:
      tfpilot policy show --env prod
      tfpilot --json policy show | jq '.environments.prod.levels'
    """
    config = app().config
    environments = [config.environment(env_key)] if env_key else list(config.core.environments)
    data = configured_engine().effective_policy(environments)

    def render() -> None:
        titles = {r["id"]: r for r in data["rules"]}
        for key, env in data["environments"].items():
            protected = " (protected)" if env["protected"] else ""
            click.echo(f"environment {key}{protected}")
            for rule_id, level in env["levels"].items():
                flag = "  [security default]" if titles[rule_id]["security_default"] else ""
                click.echo(f"  {level:<10} {rule_id:<24} {titles[rule_id]['title']}{flag}")
            click.echo("  parameters:")
            for name, value in env["parameters"].items():
                click.echo(f"    {name} = {value}")

    emit(data, render)


@policy_group.command("check")
# Paths arrive as str (no pathlib at import: this module loads at every start of the CLI).
@click.argument("plan_path", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--env", "env_key", metavar="ENV", help="Judge as in this environment.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Output format [text]."
)
@click.option(
    "--fail-on",
    type=click.Choice(list(_RANK)),
    default="mandatory",
    show_default=True,
    help="Exit 9 when a finding is at least this level.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file.")
@json_option
@click.pass_context
def policy_check(
    ctx: click.Context,
    plan_path: str,
    env_key: str | None,
    fmt: str | None,
    fail_on: str,
    output: str | None,
) -> None:
    """Check a plan (`terraform show -json` output; `-` reads stdin) against the policy.

    --json (or the root's) means --format json. Exits 9 when a finding is at or above
    --fail-on, 3 when the plan document is invalid.

    \b
    Examples:
      terraform show -json tfplan > plan.json && tfpilot policy check plan.json --env prod
      tfpilot policy check plan.json --format sarif -o policy.sarif
    """
    from tfpilot_core.errors import ExitCode, FieldProblem, ValidationError
    from tfpilot_policy_builtin import quick
    from tfpilot_policy_builtin.formats import render

    state = app()
    fmt = fmt or ("json" if state.json else "text")
    try:
        if plan_path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(plan_path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise ValidationError(
            [FieldProblem("PLAN.json", "file", exc.strerror or str(exc))], subject=str(plan_path)
        ) from None
    # Without pydantic when the configuration snapshot allows (same answer); else the full path.
    checked = quick.check(state, data, env_key)
    if checked is not None:
        findings: Sequence[FindingLike] = checked.findings
        rules: RuleSet = checked
        environment: Keyed = checked.environment
    else:
        from tfpilot_core.plan import Plan
        from tfpilot_policy_builtin.engine import STANDALONE_ENVIRONMENT

        environment = state.config.environment(env_key) if env_key else STANDALONE_ENVIRONMENT
        engine = configured_engine()
        plan = Plan.parse(data)
        findings = engine.evaluate_plan(plan, environment)
        rules = engine
    text = render(fmt, findings, engine=rules, plan_path=str(plan_path), environment=environment)
    if output is not None:
        with open(output, "w") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=not text.endswith("\n"))
    worst = max((_RANK[f.level.value] for f in findings), default=-1)
    if worst >= _RANK[fail_on]:
        counted = sum(1 for f in findings if _RANK[f.level.value] >= _RANK[fail_on])
        click.echo(f"policy: {counted} finding(s) at or above {fail_on}", err=True)
        ctx.exit(ExitCode.POLICY)
