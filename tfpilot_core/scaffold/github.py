"""``tfpilot init github``: what an infra repository needs to run tfpilot in GitHub Actions.

:func:`files_for` returns the files (relative path -> text):

* ``.github/workflows/tfpilot-<name>.yml``: thin callers of this repository's reusable workflows
  (plan, apply, destroy, drift, cleanup, notify deliver and digest), each job granting exactly
  the permissions the called job declares, pinned to one tfpilot ref;
* ``tfpilot.toml``: a commented configuration for the shared store, the ``github`` runner and
  the ``github_actions`` identity;
* ``tfpilot/iam/*.json``: AWS IAM trust policies for a plan role (request branches and the
  default branch) and an apply role (only jobs in the requests' GitHub environments), both
  scoped by the OIDC ``sub`` claim to the repository.

The reusable workflows themselves live in ``.github/workflows/`` of the tfpilot repository; the
harness in ``plugins/runner_github/tests`` runs these callers through them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tfpilot_core.errors import FieldProblem, ValidationError

TFPILOT_REPOSITORY = "tfpilot/tfpilot"
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_PLUGIN = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ENV = re.compile(r"[a-z][a-z0-9]{0,11}")
_REF = re.compile(r"[A-Za-z0-9_./-]{1,100}")
_INSTALL_FROM = ("index", "source", "wheelhouse")
_DISPATCH_INPUT = """\
  workflow_dispatch:
    inputs:
      request:
        description: tfpilot's dispatch input (JSON)
        required: true
        type: string
"""


@dataclass(frozen=True)
class Options:
    """What ``tfpilot init github`` was asked for (its options, validated by :func:`files_for`)."""

    repository: str
    ref: str
    tfpilot_repository: str = TFPILOT_REPOSITORY
    install_from: str = "index"
    version: str = ""
    wheelhouse: str = ""
    plugins: tuple[str, ...] = ("store_s3", "runner_github", "policy_builtin")
    environments: tuple[str, ...] = ("dev", "stage", "prod")
    account_id: str = "123456789012"
    region: str = "us-east-1"
    sarif: bool = False
    bucket: str = "acme-tfpilot"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Caller:
    name: str  # the file and the called workflow: tfpilot-<name>.yml
    job: str
    title: str
    trigger: str
    permissions: tuple[tuple[str, str, str], ...]
    role: str  # the repository variable with the AWS role
    request: bool = True
    run_name: bool = True
    called: str = ""  # the reusable workflow, when not tfpilot-<name>.yml
    extra_with: tuple[tuple[str, str], ...] = ()


_READ = ("contents", "read", "the request file and tfpilot.toml")
_OIDC = ("id-token", "write", "OIDC: cloud credentials and tfpilot's identity")
_PR = ("pull-requests", "write", "tfpilot's PR comment")
_ACTIONS = ("actions", "read", "the plan artifact / workflow run status")

_CALLERS = (
    _Caller(
        "plan",
        "plan",
        "plan one request attempt (dispatched by tfpilot)",
        _DISPATCH_INPUT,
        (_READ, _OIDC, _PR, ("checks", "write", "the plan's check run")),
        "TFPILOT_PLAN_ROLE",
    ),
    _Caller(
        "apply",
        "apply",
        "apply the approved plan (dispatched by tfpilot)",
        _DISPATCH_INPUT,
        (_READ, _OIDC, _ACTIONS, _PR),
        "TFPILOT_APPLY_ROLE",
    ),
    _Caller(
        "destroy",
        "destroy",
        "apply an approved destroy plan (dispatched by tfpilot)",
        _DISPATCH_INPUT,
        (_READ, _OIDC, _ACTIONS, _PR),
        "TFPILOT_APPLY_ROLE",
    ),
    _Caller(
        "drift",
        "drift",
        "nightly drift check of every applied request",
        '  schedule:\n    - cron: "23 2 * * *"\n  workflow_dispatch:\n',
        (_READ, _OIDC, _PR),
        "TFPILOT_PLAN_ROLE",
        request=False,
        run_name=False,
    ),
    _Caller(
        "cleanup",
        "sync",
        "hourly housekeeping of dispatched runs",
        '  schedule:\n    - cron: "17 * * * *"\n  pull_request:\n    types: [closed]\n'
        '    paths:\n      - "tfpilot/requests/**"\n  workflow_dispatch:\n',
        (_READ, _OIDC, _ACTIONS, _PR),
        "TFPILOT_PLAN_ROLE",
        request=False,
        run_name=False,
    ),
    _Caller(
        "notify",
        "deliver",
        "send the notification outbox every 5 minutes",
        '  schedule:\n    - cron: "*/5 * * * *"\n  workflow_dispatch:\n',
        (_READ, _OIDC),
        "TFPILOT_PLAN_ROLE",
        request=False,
        run_name=False,
        extra_with=(("task", "deliver"),),
    ),
    _Caller(
        "digest",
        "digest",
        "send the daily notification digests",
        '  schedule:\n    - cron: "7 7 * * *"\n  workflow_dispatch:\n',
        (_READ, _OIDC),
        "TFPILOT_PLAN_ROLE",
        request=False,
        run_name=False,
        called="tfpilot-notify.yml",
        extra_with=(("task", "digest"),),
    ),
)


def _problem(field_name: str, message: str) -> ValidationError:
    return ValidationError([FieldProblem(field_name, "init github", message)], subject="init")


def _validate(options: Options) -> None:
    if not _REPO.fullmatch(options.repository):
        raise _problem("--repository", f"{options.repository!r} is not owner/name")
    if not _REPO.fullmatch(options.tfpilot_repository):
        raise _problem("--tfpilot-repository", f"{options.tfpilot_repository!r} is not owner/name")
    if not _REF.fullmatch(options.ref) or ".." in options.ref:
        raise _problem("--ref", f"{options.ref!r} is not a git ref (a tag, branch or commit SHA)")
    if options.install_from not in _INSTALL_FROM:
        raise _problem("--install-from", f"must be one of {', '.join(_INSTALL_FROM)}")
    if options.install_from == "wheelhouse" and not options.wheelhouse:
        raise _problem("--wheelhouse", "is required with --install-from wheelhouse")
    if options.version and not re.fullmatch(r"[0-9][0-9A-Za-z.+-]{0,40}", options.version):
        raise _problem("--version", f"{options.version!r} is not a version")
    for plugin in options.plugins:
        if not _PLUGIN.fullmatch(plugin):
            raise _problem("--plugins", f"{plugin!r} is not a plugin name")
    for env in options.environments:
        if not _ENV.fullmatch(env):
            raise _problem("--environments", f"{env!r} is not an environment name")
    if not re.fullmatch(r"[0-9]{12}", options.account_id):
        raise _problem("--account-id", "must be 12 digits")
    if any(c in options.wheelhouse for c in "\n\"'$`\\"):
        raise _problem("--wheelhouse", "must be a plain path")


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def caller(spec: _Caller, options: Options) -> str:
    """The text of one caller workflow."""
    called = spec.called or f"tfpilot-{spec.name}.yml"
    if spec.name == "plan" and options.sarif:
        called = "tfpilot-plan-sarif.yml"
    permissions = list(spec.permissions)
    if called == "tfpilot-plan-sarif.yml":
        permissions.append(("security-events", "write", "policy findings as SARIF"))
    lines = [
        f"# tfpilot: {spec.title}.",
        "# Written by `tfpilot init github`: it calls tfpilot's reusable workflow at one ref",
        "# (docs/github.md). Change the inputs here; the jobs themselves live in tfpilot.",
        f"name: tfpilot {spec.name}",
    ]
    if spec.run_name:
        lines.append(
            f"run-name: tfpilot {spec.name} ${{{{ fromJSON(inputs.request).request_id }}}} "
            "${{ fromJSON(inputs.request).attempt_id }}"
        )
    lines += ["", "on:", spec.trigger.rstrip("\n"), "", "permissions: {}", "", "jobs:"]
    lines.append(f"  {spec.job}:")
    lines.append("    # Exactly what the called job declares (it can never get more than this).")
    lines.append("    permissions:")
    for scope, level, why in permissions:
        lines.append(f"      {scope}: {level} # {why}")
    lines.append(f"    uses: {options.tfpilot_repository}/.github/workflows/{called}@{options.ref}")
    lines.append("    with:")
    if spec.request:
        lines.append("      request: ${{ inputs.request }}")
    values: list[tuple[str, str]] = [
        *spec.extra_with,
        ("tfpilot-ref", options.ref),
        ("tfpilot-repository", options.tfpilot_repository),
        ("install-from", options.install_from),
    ]
    if options.version:
        values.append(("version", options.version))
    if options.wheelhouse:
        values.append(("wheelhouse", options.wheelhouse))
    values.append(("plugins", " ".join(options.plugins)))
    for key, value in values:
        lines.append(f"      {key}: {_quote(value)}")
    if "cost_infracost" in options.plugins:
        lines.append("      infracost: true")
    lines.append(f"      aws-role: ${{{{ vars.{spec.role} }}}}")
    lines.append("      aws-region: ${{ vars.TFPILOT_AWS_REGION }}")
    lines.append("    secrets:")
    lines.append(
        "      # NAME=value lines: the secrets tfpilot.toml reads by $env (Slack, SMTP...)."
    )
    lines.append("      tfpilot-env: ${{ secrets.TFPILOT_ENV }}")
    if "cost_infracost" in options.plugins:
        lines.append("      infracost-api-key: ${{ secrets.INFRACOST_API_KEY }}")
    return "\n".join(lines) + "\n"


def _trust(options: Options, subjects: list[str], role: str) -> str:
    provider = "token.actions.githubusercontent.com"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"TfpilotGitHubActions{role}",
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{options.account_id}:oidc-provider/{provider}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{provider}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{provider}:sub": subjects},
                },
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _config(options: Options) -> str:
    selected = []
    if "policy_builtin" in options.plugins:
        selected.append('policy_engines = ["policy_builtin"]')
    if "cost_infracost" in options.plugins:
        selected.append('cost_estimators = ["infracost"]')
    known = {"notify_slack": "slack", "notify_email": "email"}
    notifiers = [known[p] for p in options.plugins if p in known]
    if notifiers:
        selected.append(f"notifiers = {json.dumps(notifiers)}")
    return f"""\
# tfpilot.toml of {options.repository}: read by the dispatcher (CLI, web, webhook receiver) and by
# every tfpilot job in GitHub Actions. Written by `tfpilot init github`; see docs/github.md.

[core]
# The shared store: the dispatcher, the jobs and the webhook receiver see the same requests.
store = "s3"
# Terraform runs in GitHub Actions (the tfpilot-*.yml workflows of this repository).
runner = "github"
# Jobs act as the verified actor of their OIDC token; no job claims a user by a variable.
# A dispatcher outside Actions (web, webhook) keeps its own identity in its own copy of this
# file (TFPILOT_CONFIG).
identity = "github_actions"
# The environments are dev, stage and prod unless [[core.environments]] says otherwise; the
# apply role's trust policy (tfpilot/iam/) lists the same names as GitHub environments.
# Every plugin selected here must be installed by the workflows (their `plugins` input): a job
# whose install set lacks one stops with one line naming it (`tfpilot init verify`).
{chr(10).join(selected)}

[plugins.github_actions]
audience = "tfpilot"
repositories = ["{options.repository}"]

[plugins.store_s3]
bucket = "{options.bucket}"
region = "{options.region}"

# Terraform state belongs in a backend, never in a job's working directory.
[plugins.runner_local.backend.s3]
bucket = "{options.bucket}-state"
key = "tfpilot/{{environment}}/{{request_id}}.tfstate"
region = "{options.region}"

[plugins.runner_github]
repository = "{options.repository}"
# A token with contents, pull-requests, actions and checks write (GITHUB_TOKEN in jobs), or a
# GitHub App: app_id = 123456 and private_key = {{ "$env" = "TFPILOT_GITHUB_APP_KEY" }}.
token = {{ "$env" = "GITHUB_TOKEN" }}
webhook_secret = {{ "$env" = "TFPILOT_WEBHOOK_SECRET" }}
sarif = {"true" if options.sarif else "false"}

# GitHub login -> tfpilot user (unmapped reviewers never approve).
[plugins.runner_github.users]
# "octo-alice" = "alice"

# tfpilot users and their roles; the actors of scheduled jobs need one (e.g. developer).
# [users.alice]
# role = "developer"
"""


def files_for(options: Options) -> dict[str, str]:
    """Every file ``tfpilot init github`` writes (relative path -> text)."""
    _validate(options)
    files = {f".github/workflows/tfpilot-{c.name}.yml": caller(c, options) for c in _CALLERS}
    files["tfpilot.toml"] = _config(options)
    repo = options.repository
    plan_subjects = [f"repo:{repo}:ref:refs/heads/tfpilot/*", f"repo:{repo}:ref:refs/heads/main"]
    apply_subjects = [f"repo:{repo}:environment:{env}" for env in options.environments]
    files["tfpilot/iam/plan-role-trust-policy.json"] = _trust(options, plan_subjects, "Plan")
    files["tfpilot/iam/apply-role-trust-policy.json"] = _trust(options, apply_subjects, "Apply")
    return files


def workflow_names() -> list[str]:
    """The caller workflows' file names."""
    return [f"tfpilot-{c.name}.yml" for c in _CALLERS]
