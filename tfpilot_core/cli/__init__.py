"""The ``tfpilot`` command line.

The root group takes the options every command shares; built-in commands live in small modules of
this package and plugins add theirs through ``tfpilot_register_commands`` (called last, as in
datasette). Heavy libraries are imported inside commands so that ``tfpilot --help`` stays fast.

Exit codes are those of :class:`tfpilot_core.errors.ExitCode`; user-facing errors (the
:class:`~tfpilot_core.errors.TfpilotError` family) print one clean message, and a traceback only
with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode, TfpilotError

EXIT_CODES_HELP = """Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid input (e.g. an
unknown environment), 4 invalid configuration, 5 plugin failure, 6 forbidden, 7 not found,
8 conflict with the request's state (e.g. no approved plan), 9 blocked by policy,
10 Terraform/external tool failed, 11 a check found something (e.g. drift).

\b
Examples:
  tfpilot --as alice requests create --module sandbox/bucket --env dev --project shop
  tfpilot --json requests list | jq '.items[].id'
  eval "$(_TFPILOT_COMPLETE=bash_source tfpilot)"   # shell completion (docs/cli.md)"""

#: Commands that plugins add, with the distribution to install when one is missing (a core-only
#: install then says what to do instead of "No such command").
PLUGIN_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("web", "tfpilot-web"),
    "tokens": ("web", "tfpilot-web"),
    "webhook": ("runner_github", "tfpilot-runner-github"),
    "mcp": ("mcp_server", "tfpilot-mcp"),
    "policy": ("policy_builtin", "tfpilot-policy-builtin"),
    "sandbox": ("sandbox", "tfpilot-sandbox"),
}


#: Built-in commands, imported only when run (or when their own help is asked for), so that
#: ``tfpilot --help`` does not import every command module: name -> (module, attribute, help).
#: ``tests/core/test_cli.py`` checks each help line against the command's own docstring.
BUILTIN_COMMANDS: dict[str, tuple[str, str, str]] = {
    "apply": ("requests", "apply_command", "Apply exactly the approved plan."),
    "approve": ("requests", "approve_command", "Approve the current plan of a request."),
    "ask": ("ask", "ask_command", "Answer a question about requests (offline;..."),
    "audit": ("requests", "audit_group", "Audit records: the change decision record,..."),
    "catalog": ("catalog", "catalog_group", "The service catalog: modules, examples,..."),
    "config": ("core_commands", "config_group", "Inspect the configuration."),
    "cost": ("cost", "cost_group", "Cost estimates of requests."),
    "demo": ("demo", "demo_command", "The whole request lifecycle on the offline..."),
    "destroy": ("requests", "destroy_command", "Destroy what an applied request created."),
    "drift": ("requests", "drift_group", "Drift checks: one request, a scan of all,..."),
    "init": ("init_github", "init_group", "Set up an infra repository for tfpilot in..."),
    "logs": ("observe", "logs_group", "Captured Terraform output of a request's..."),
    "metrics": ("observe", "metrics_command", "Metrics from the event stream: runs,..."),
    "modules": ("catalog", "modules_group", "The module catalog."),
    "notify": (
        "notify",
        "notify_group",
        "Notifications: the outbox, retries,...",
    ),
    "plan": (
        "plan_files",
        "plan_group",
        "Plan a request: Terraform plan, policy,...",
    ),
    "plugins": (
        "core_commands",
        "plugins_command",
        "List plugins: name, distribution, version,...",
    ),
    "reject": ("reject", "reject_command", "Reject the current plan of a request, with..."),
    "requests": ("requests", "requests_group", "Create, list, show and update requests."),
    "run": ("runs", "run_group", "Execute a dispatched run here (inside a..."),
    "runs": ("runs", "runs_group", "Dispatched runs: poll their status, plan..."),
    "schema": ("catalog", "schema_command", "Print the JSON Schema of a data format (no..."),
    "suggest": ("suggest", "suggest_command", "Suggest safer or cheaper inputs for a..."),
    "templates": ("catalog", "templates_group", "Request templates: named, versioned..."),
    "timeline": ("requests", "timeline_command", "The request's events, oldest first."),
    "trace": ("observe", "trace_command", "The trace ids of a request's attempts and..."),
    "version": (
        "core_commands",
        "version_command",
        "Print the versions of tfpilot and of every...",
    ),
}


class TfpilotGroup(click.Group):
    """The root group: lazy built-in commands, and tfpilot's errors turned into clean messages
    with documented exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(BUILTIN_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in BUILTIN_COMMANDS:
            import importlib

            module, attribute, _ = BUILTIN_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"tfpilot_core.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append(
                    (name, command.get_short_help_str(limit=formatter.width - 6 - len(name)))
                )
            else:
                rows.append((name, BUILTIN_COMMANDS[name][2]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            from tfpilot_core.cli.hints import explain_usage

            better = explain_usage(exc)
            if better is None:
                raise
            raise click.UsageError(better, ctx=exc.ctx) from None
        except BrokenPipeError:
            # The reader went away (`tfpilot ... | head`): what it read was what it wanted.
            from tfpilot_core.cli.hints import quiet_broken_pipe

            quiet_broken_pipe()
            ctx.exit(ExitCode.OK)
        except TfpilotError as exc:
            state = ctx.find_object(App)
            if state is not None and state.debug:
                raise
            from tfpilot_core.cli.hints import identity_hint
            from tfpilot_core.cli.runbooks import cli_runbook
            from tfpilot_core.run_logs.runbooks import failure_kind

            hint = identity_hint(state, exc) if state is not None else None
            runbook = cli_runbook(failure_kind(ctx.invoked_subcommand, exc))
            if state is not None and state.json:
                import json

                extra = {"runbook": runbook} if runbook else {}
                extra |= {"hint": hint} if hint else {}
                click.echo(json.dumps({**exc.to_dict(), **extra}, indent=2))
            click.echo(f"Error: {exc.message}", err=True)
            if hint:
                click.echo(f"Hint: {hint}", err=True)
            if exc.explanation is not None:
                # Why the run failed and what to do (issue 28), with its runbook.
                from tfpilot_core.failures import Explanation, render_failure

                explained = Explanation.from_dict(dict(exc.explanation))
                click.echo("", err=True)
                click.echo(render_failure(explained), err=True)
                runbook = None if explained.runbook else runbook
            if runbook:
                click.echo(f"Runbook: {runbook}", err=True)
            ctx.exit(exc.exit_code)


# The exit codes and examples go above the options, not in an epilog after the command list:
# scripts that read "Commands:" to the end would take each epilog line for a command.
@click.group(
    cls=TfpilotGroup,
    help="tfpilot: request infrastructure safely, from a catalog of Terraform modules.\n\n"
    + EXIT_CODES_HELP,
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Configuration file [default: $TFPILOT_CONFIG, ./tfpilot.toml, ~/.tfpilot/tfpilot.toml].",
)
@click.option(
    "--as",
    "actor",
    metavar="USER",
    help="Act as USER (default: $TFPILOT_USER, $GITHUB_ACTOR, $USER).",
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON for scripts.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option("--strict-plugins", is_flag=True, help="Stop if any plugin fails to load.")
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="Log lines on stderr: readable, or JSON lines ($TFPILOT_LOG_FORMAT=json).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=lambda: os.environ.get("TFPILOT_LOG_LEVEL", "warning"),
    show_default="warning",
    help="Least level of the log lines on stderr ($TFPILOT_LOG_LEVEL).",
)
@click.option("--trace", is_flag=True, help="Print OpenTelemetry spans to stderr.")
@click.version_option(package_name="tfpilot-core", prog_name="tfpilot")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    actor: str | None,
    json_output: bool,
    debug: bool,
    strict_plugins: bool,
    log_format: str,
    log_level: str,
    trace: bool,
) -> None:
    """tfpilot: request infrastructure safely, from a catalog of Terraform modules."""
    from tfpilot_core.telemetry import setup_logging, telemetry_wanted

    state = ctx.ensure_object(App)
    if config_path is not None:
        from pathlib import Path

        state.config_path = Path(config_path)
    state.actor = actor
    state.json = state.json or json_output
    state.debug = debug
    state.strict_plugins = strict_plugins
    setup_logging(fmt=log_format, level=log_level)
    if telemetry_wanted(console=trace):
        # Loaded only when asked for: the OpenTelemetry API costs a small command its budget.
        from tfpilot_core.otel import setup_telemetry, shutdown_tracing

        if setup_telemetry(console=trace):
            ctx.call_on_close(shutdown_tracing)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: discover plugins, let them add commands, run the CLI."""
    from tfpilot_core.discovery import load_plugins, register_commands

    args = sys.argv[1:] if argv is None else argv
    # Before any model is built: pydantic's plugin discovery from the entry-point cache, so that
    # validating a document does not import importlib.metadata (cli/pydantic_plugins.py).
    from tfpilot_core.cli.pydantic_plugins import answer_from_cache

    answer_from_cache()
    # Everything tfpilot writes holds request data (database, plans, state, logs): private.
    os.umask(0o077)
    # A deprecated settings section is reported on every run, on stderr (plugin_sections).
    from tfpilot_core.plugin_sections import show_on_stderr

    show_on_stderr()
    strict = "--strict-plugins" in args
    state = App(strict_plugins=strict, debug="--debug" in args)
    try:
        state.loaded = load_plugins(strict=strict, cache=True)
        # Parsed module files are cached too (by content): `modules list` need not parse them.
        from tfpilot_core import parse_cache

        parse_cache.enable()
        # So are validated configurations and catalog listings, for the quick read paths.
        from tfpilot_core.cli import startup_cache as quick

        quick.enable()
        register_commands(state.loaded, cli, strict=strict)
    except TfpilotError as exc:
        if state.debug:
            raise
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    try:
        # NO_COLOR (https://no-color.org): click then strips every style from what it prints.
        color = False if os.environ.get("NO_COLOR") else None
        cli.main(args=args, prog_name="tfpilot", obj=state, standalone_mode=True, color=color)
    except Exception as exc:  # a bug, not a user error: say so briefly unless --debug
        if state.debug:
            raise
        click.echo(
            f"Internal error: {type(exc).__name__}: {exc}\n(run with --debug for the traceback)",
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)
