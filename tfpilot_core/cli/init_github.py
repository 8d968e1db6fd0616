"""``tfpilot init``: set up an infra repository (``init github``) and check a job's install set
(``init verify``, run by the ``setup-tfpilot`` action)."""

from __future__ import annotations

from pathlib import Path

import click

from tfpilot_core.cli.app import app, emit, json_option


@click.group("init")
def init_group() -> None:
    """Set up an infra repository for tfpilot in GitHub Actions.

    \b
    Examples:
      tfpilot init github --repository acme/infra --dir ../infra
      tfpilot init verify --install-set "store_s3 runner_github policy_builtin"
    """


def _names(value: str) -> tuple[str, ...]:
    return tuple(n for n in value.replace(",", " ").split() if n)


@init_group.command("github")
@click.option("--repository", required=True, help="The infra repository, owner/name.")
@click.option(
    "--dir",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The infra repository's checkout.",
)
@click.option("--ref", help="The tfpilot ref the callers use (tag or commit SHA) [v<version>].")
@click.option(
    "--tfpilot-repository",
    default="tfpilot/tfpilot",
    show_default=True,
    help="The repository holding tfpilot's reusable workflows, owner/name.",
)
@click.option(
    "--install-from",
    type=click.Choice(["index", "source", "wheelhouse"]),
    default="index",
    show_default=True,
    help="Where jobs install tfpilot from.",
)
@click.option("--version", "version", default="", help="Pin this tfpilot version (index).")
@click.option("--wheelhouse", default="", help="With --install-from wheelhouse: its directory.")
@click.option(
    "--plugins",
    default="store_s3 runner_github policy_builtin",
    show_default=True,
    help="The plugins jobs install (and tfpilot.toml selects).",
)
@click.option(
    "--environments",
    default="dev stage prod",
    show_default=True,
    help="The environments, in promotion order (space or comma separated).",
)
@click.option("--account-id", default="123456789012", help="The AWS account of the roles.")
@click.option(
    "--region",
    default="us-east-1",
    show_default=True,
    help="The AWS region of the store and state buckets.",
)
@click.option("--bucket", default="acme-tfpilot", show_default=True, help="The S3 store bucket.")
@click.option("--sarif", is_flag=True, help="Upload policy findings to code scanning.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@json_option
def init_github(
    repository: str,
    target: Path,
    ref: str | None,
    tfpilot_repository: str,
    install_from: str,
    version: str,
    wheelhouse: str,
    plugins: str,
    environments: str,
    account_id: str,
    region: str,
    bucket: str,
    sarif: bool,
    force: bool,
) -> None:
    """Write the caller workflows, a commented tfpilot.toml and IAM trust policies.

    \b
    Example:
      tfpilot init github --repository acme/infra --ref v0.1.0 --dir ../infra
    """
    from importlib.metadata import version as installed

    from tfpilot_core.errors import ConflictError
    from tfpilot_core.scaffold.github import Options, files_for

    options = Options(
        repository=repository,
        ref=ref or f"v{installed('tfpilot-core')}",
        tfpilot_repository=tfpilot_repository,
        install_from=install_from,
        version=version,
        wheelhouse=wheelhouse,
        plugins=_names(plugins),
        environments=_names(environments),
        account_id=account_id,
        region=region,
        sarif=sarif,
        bucket=bucket,
    )
    files = files_for(options)
    existing = [p for p in files if (target / p).exists()]
    if existing and not force:
        raise ConflictError(
            f"{target / existing[0]} already exists ({len(existing)} of the files do): "
            "pass --force to overwrite"
        )
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    data = {"path": str(target), "ref": options.ref, "files": sorted(files)}

    def render() -> None:
        click.echo(f"wrote {len(files)} files into {target} (tfpilot {options.ref}):")
        for name in sorted(files):
            click.echo(f"  {name}")
        click.echo("next: docs/github.md (roles, repository variables, the webhook)")

    emit(data, render)


@init_group.command("verify")
@click.option(
    "--install-set",
    default="",
    help="The plugins the job installed (named in the error when one is missing).",
)
@json_option
def init_verify(install_set: str) -> None:
    """Fail unless every plugin the configuration selects is installed (exit 5).

    \b
    Example:
      tfpilot init verify --install-set "store_s3 runner_github policy_builtin"
    """
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.registrations import PluginContext
    from tfpilot_core.required_plugins import check_host

    state = app()
    config = state.config
    check_host(PluginHost(state.plugins, config, PluginContext.for_config(config)), install_set)
    data = {"ok": True, "install_set": list(_names(install_set))}
    emit(data, lambda: click.echo("every selected plugin is installed"))
