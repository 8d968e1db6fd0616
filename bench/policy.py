"""tfpilot's policy check against checkov on one large AWS-shaped plan, with a known truth.

Generates the plan ``terraform show -json`` would print for a root module that calls an S3
bucket module with ``for_each`` over 3,000 buckets (bucket, public access block, encryption
configuration: about 8,600 resource changes, about 8.5 MB, ``configuration`` and
``planned_values`` included). The public access block and the encryption configuration refer to
the bucket as ``aws_s3_bucket.this.id``, unknown until apply, exactly as in a real plan. A known
third of the buckets break one rule each, in turn: naming, required tags, public access (no block,
or a block with a flag off) and encryption (no configuration).

Then it runs, alternately, ``tfpilot policy check plan.json`` and ``checkov -f plan.json
--framework terraform_plan`` limited to its equivalent checks (CKV2_AWS_6 and CKV_AWS_53..56 for
public access, CKV_AWS_19 for encryption, and two custom YAML checks for naming and the owner
tag, since checkov has none built in). checkov is installed by this script into its own virtual
environment (``bench/.venvs/checkov``), never into tfpilot's. It prints both whole-process times,
their ratio, and each tool's misses and false positives against the truth; then, in process, the
time to evaluate the policy on the decoded document (``Plan.parse`` + every rule) against the
time of ``json.loads`` on the same file. Run with::

    .venv/bin/python bench/policy.py [--buckets 3000] [--rounds 2]

Targets: tfpilot at least 100x faster than checkov with no miss and no false positive; in-process
evaluation at most 3x ``json.loads``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENVS = Path(__file__).resolve().parent / ".venvs"
CHECKOV_VERSION = "3.3.30"
RULES = ("naming", "tags", "public", "encryption")
TFPILOT_RULES = {
    "naming.pattern": "naming",
    "tags.required": "tags",
    "public_access.blocked": "public",
    "encryption.enabled": "encryption",
}
CHECKOV_RULES = {
    "CKV_TFP_NAMING": "naming",
    "CKV_TFP_OWNER_TAG": "tags",
    "CKV2_AWS_6": "public",
    "CKV_AWS_53": "public",
    "CKV_AWS_54": "public",
    "CKV_AWS_55": "public",
    "CKV_AWS_56": "public",
    "CKV_AWS_19": "encryption",
}
_KEY = re.compile(r'module\.buckets\["(b\d+)"\]')
PROVIDER = "registry.terraform.io/hashicorp/aws"

# -- the plan ---------------------------------------------------------------------------------

_BUCKET_UNKNOWN = [
    "arn", "bucket_domain_name", "bucket_regional_domain_name", "hosted_zone_id", "id",
    "region", "server_side_encryption_configuration", "versioning",
]  # fmt: skip


def _violation(i: int) -> str | None:
    """Which rule bucket ``i`` breaks (every third bucket breaks one, in turn), if any."""
    return RULES[(i // 3) % 4] if i % 3 == 0 else None


def build_plan(buckets: int) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """The plan document and the truth: ``(bucket key, rule)`` pairs that must be reported."""
    changes: list[dict[str, Any]] = []
    modules: list[dict[str, Any]] = []
    truth: set[tuple[str, str]] = set()
    names: dict[str, dict[str, Any]] = {}
    default_tags = {"cost-center": "cc-1234"}
    for i in range(buckets):
        key = f"b{i:05d}"
        broken = _violation(i)
        if broken:
            truth.add((key, broken))
        name = f"Acme_Data_{i:05d}" if broken == "naming" else f"acme-data-{i:05d}"
        tags = {"Name": name}
        if broken != "tags":
            tags["owner"] = f"owner-{i % 17}"
        names[key] = {"name": name, "tags": tags}
        module = f'module.buckets["{key}"]'
        resources = []
        bucket_after = {
            "bucket": name,
            "bucket_prefix": None,
            "force_destroy": False,
            "tags": tags,
            "tags_all": {**default_tags, **tags},
            "timeouts": None,
        }
        resources.append(
            _change(
                module,
                "aws_s3_bucket",
                None,
                bucket_after,
                {**dict.fromkeys(_BUCKET_UNKNOWN, True), "tags": {}, "tags_all": {}},
            )
        )
        if broken != "public" or i % 2 == 0:
            flag_off = broken == "public"
            block = {
                "block_public_acls": True,
                "block_public_policy": not flag_off,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
                "skip_destroy": None,
            }
            resources.append(
                _change(
                    module,
                    "aws_s3_bucket_public_access_block",
                    0,
                    block,
                    {"bucket": True, "id": True},
                )
            )
        if broken != "encryption":
            sse = {
                "expected_bucket_owner": None,
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {"kms_master_key_id": None, "sse_algorithm": "AES256"}
                        ],
                        "bucket_key_enabled": False,
                    }
                ],
            }
            resources.append(
                _change(
                    module,
                    "aws_s3_bucket_server_side_encryption_configuration",
                    0,
                    sse,
                    {
                        "bucket": True,
                        "id": True,
                        "rule": [{"apply_server_side_encryption_by_default": [{}]}],
                    },
                )
            )
        changes += resources
        modules.append(
            {
                "address": module,
                "resources": [
                    {
                        "address": r["address"],
                        "mode": "managed",
                        "type": r["type"],
                        "name": r["name"],
                        **({"index": r["index"]} if "index" in r else {}),
                        "provider_name": PROVIDER,
                        "schema_version": 0,
                        "values": r["change"]["after"],
                    }
                    for r in resources
                ],
            }
        )
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "variables": {"buckets": {"value": names}},
        "planned_values": {"root_module": {"child_modules": modules}},
        "resource_changes": changes,
        "configuration": _configuration(default_tags),
        "timestamp": "2026-11-26T12:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    return plan, truth


def _change(
    module: str, rtype: str, index: int | None, after: dict[str, Any], unknown: dict[str, Any]
) -> dict[str, Any]:
    suffix = "" if index is None else f"[{index}]"
    item: dict[str, Any] = {
        "address": f"{module}.{rtype}.this{suffix}",
        "module_address": module,
        "mode": "managed",
        "type": rtype,
        "name": "this",
    }
    if index is not None:
        item["index"] = index
    item.update(
        {
            "provider_name": PROVIDER,
            "change": {
                "actions": ["create"],
                "before": None,
                "after": after,
                "after_unknown": unknown,
                "before_sensitive": False,
                "after_sensitive": {k: {} for k in after if isinstance(after[k], dict)},
            },
        }
    )
    return item


def _ref(*refs: str) -> dict[str, Any]:
    return {"references": list(refs)}


def _configuration(default_tags: dict[str, str]) -> dict[str, Any]:
    bucket_ref = _ref("aws_s3_bucket.this.id", "aws_s3_bucket.this")
    count_of = {"references": ["var.block_public_access"]}
    resources = [
        {
            "address": "aws_s3_bucket.this",
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "this",
            "provider_config_key": "aws",
            "expressions": {"bucket": _ref("var.name"), "tags": _ref("local.tags")},
            "schema_version": 0,
        },
        {
            "address": "aws_s3_bucket_public_access_block.this",
            "mode": "managed",
            "type": "aws_s3_bucket_public_access_block",
            "name": "this",
            "provider_config_key": "aws",
            "expressions": {
                "block_public_acls": {"constant_value": True},
                "block_public_policy": _ref("var.block_public_policy"),
                "bucket": bucket_ref,
                "ignore_public_acls": {"constant_value": True},
                "restrict_public_buckets": {"constant_value": True},
            },
            "schema_version": 0,
            "count_expression": count_of,
        },
        {
            "address": "aws_s3_bucket_server_side_encryption_configuration.this",
            "mode": "managed",
            "type": "aws_s3_bucket_server_side_encryption_configuration",
            "name": "this",
            "provider_config_key": "aws",
            "expressions": {
                "bucket": bucket_ref,
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {"sse_algorithm": {"constant_value": "AES256"}}
                        ]
                    }
                ],
            },
            "schema_version": 0,
            "count_expression": _ref("var.encrypted"),
        },
    ]
    return {
        "provider_config": {
            "aws": {
                "name": "aws",
                "full_name": PROVIDER,
                "version_constraint": "~> 5.0",
                "expressions": {
                    "region": {"constant_value": "eu-west-1"},
                    "default_tags": [{"tags": {"constant_value": default_tags}}],
                },
            }
        },
        "root_module": {
            "module_calls": {
                "buckets": {
                    "source": "./modules/s3-bucket",
                    "expressions": {
                        "name": _ref("each.value.name", "each.value"),
                        "tags": _ref("each.value.tags", "each.value"),
                    },
                    "for_each_expression": _ref("var.buckets"),
                    "module": {
                        "resources": resources,
                        "variables": {
                            "name": {"description": "Bucket name."},
                            "tags": {"default": {}, "description": "Tags."},
                        },
                    },
                }
            },
            "variables": {"buckets": {"description": "Buckets to create."}},
        },
    }


# -- the tools --------------------------------------------------------------------------------

CHECKOV_CHECKS = {
    "naming.yaml": f"""metadata:
  id: "CKV_TFP_NAMING"
  name: "S3 bucket names follow the naming convention"
  category: "CONVENTION"
definition:
  cond_type: "attribute"
  resource_types: ["aws_s3_bucket"]
  attribute: "bucket"
  operator: "regex_match"
  value: "{r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}"
""",
    "owner_tag.yaml": """metadata:
  id: "CKV_TFP_OWNER_TAG"
  name: "S3 buckets carry the owner tag"
  category: "CONVENTION"
definition:
  cond_type: "attribute"
  resource_types: ["aws_s3_bucket"]
  attribute: "tags.owner"
  operator: "exists"
""",
}

TFPILOT_CONFIG = """[plugins.policy_builtin]
required_tags = ["owner", "cost-center"]
allowed_regions = ["eu-west-1"]
"""


def ensure_checkov() -> Path:
    """checkov in its own virtual environment under bench/.venvs (created on first use)."""
    venv = VENVS / "checkov"
    binary = venv / "bin" / "checkov"
    VENVS.mkdir(parents=True, exist_ok=True)
    # Keep the environments out of git whatever the repository's .gitignore says.
    (VENVS / ".gitignore").write_text("*\n")
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"],
            check=True,
        )
    return binary


def bucket_of(address: str) -> str | None:
    """The bucket key of a resource address in the generated plan."""
    match = _KEY.search(address or "")
    return match.group(1) if match else None


def run_tfpilot(plan: Path, config: Path, home: Path) -> tuple[float, set[tuple[str, str]]]:
    """Whole-process time of ``tfpilot policy check`` and what it reported."""
    tfpilot = Path(sys.executable).parent / "tfpilot"
    env = {**os.environ, "TFPILOT_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.run(
        [str(tfpilot), "--config", str(config), "policy", "check", str(plan), "--format", "json",
         "--fail-on", "never"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"tfpilot failed ({proc.returncode}): {proc.stderr[-2000:]}")
    found = set()
    for finding in json.loads(proc.stdout)["findings"]:
        rule = TFPILOT_RULES.get(finding["rule_id"], finding["rule_id"])
        found.add((bucket_of(finding["address"]) or finding["address"], rule))
    return elapsed, found


def run_checkov(binary: Path, plan: Path, checks: Path) -> tuple[float, set[tuple[str, str]]]:
    """Whole-process time of checkov on the plan and what it reported."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(binary), "-f", str(plan), "--framework", "terraform_plan", "--check",
         ",".join(CHECKOV_RULES), "--external-checks-dir", str(checks), "-o", "json", "--quiet",
         "--compact", "--skip-download"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    found = set()
    for item in reports:
        for failed in item.get("results", {}).get("failed_checks", []):
            rule = CHECKOV_RULES.get(failed["check_id"], failed["check_id"])
            found.add((bucket_of(failed["resource"]) or failed["resource"], rule))
    return elapsed, found


def score(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[int, int]:
    """(misses, false positives) against the truth."""
    return len(truth - found), len(found - truth)


def in_process(path: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of ``json.loads`` and of parse + evaluate on the decoded document."""
    sys.path.insert(0, str(ROOT / "plugins" / "policy_builtin"))
    from tfpilot_core.plan import Plan
    from tfpilot_policy_builtin.engine import STANDALONE_ENVIRONMENT, BuiltinPolicyEngine
    from tfpilot_policy_builtin.settings import PolicySettings

    engine = BuiltinPolicyEngine(
        PolicySettings(required_tags=["owner", "cost-center"], allowed_regions=["eu-west-1"])
    )
    data = path.read_bytes()
    loads, evaluate = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        document = json.loads(data)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.evaluate_plan(Plan.parse(document), STANDALONE_ENVIRONMENT)
        evaluate.append(time.perf_counter() - started)
    return statistics.median(loads), statistics.median(evaluate)


def main() -> None:
    """Generate, run both tools alternately, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buckets", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tool, alternating")
    parser.add_argument("--inproc-rounds", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tfpilot-bench-policy-") as tmp:
        work = Path(tmp)
        plan, truth = build_plan(args.buckets)
        plan_path = work / "plan.json"
        # Compact, as Terraform prints it.
        plan_path.write_text(json.dumps(plan, separators=(",", ":")))
        changes = len(plan["resource_changes"])
        size = plan_path.stat().st_size
        print(f"plan: {args.buckets} buckets, {changes} resource changes, {size / 1e6:.1f} MB")
        print(f"truth: {len(truth)} violations in {len({k for k, _ in truth})} buckets")
        config = work / "tfpilot.toml"
        config.write_text(TFPILOT_CONFIG)
        home = work / "home"
        home.mkdir()
        checks = work / "checks"
        checks.mkdir()
        for name, text in CHECKOV_CHECKS.items():
            (checks / name).write_text(text)
        checkov = ensure_checkov()

        times: dict[str, list[float]] = {"tfpilot": [], "checkov": []}
        found: dict[str, set[tuple[str, str]]] = {}
        for round_no in range(args.rounds):
            elapsed, found["tfpilot"] = run_tfpilot(plan_path, config, home)
            times["tfpilot"].append(elapsed)
            elapsed, found["checkov"] = run_checkov(checkov, plan_path, checks)
            times["checkov"].append(elapsed)
            print(
                f"round {round_no + 1}: tfpilot {times['tfpilot'][-1]:.2f} s, "
                f"checkov {times['checkov'][-1]:.2f} s"
            )
        ours, theirs = statistics.median(times["tfpilot"]), statistics.median(times["checkov"])
        print(f"\nwhole process (median of {args.rounds}):")
        print(f"  tfpilot policy check  {ours:8.2f} s")
        print(f"  checkov {CHECKOV_VERSION:<13} {theirs:8.2f} s")
        print(f"  ratio checkov/tfpilot {theirs / ours:8.1f}x   (target >= 100x)")
        print("\nagainst the truth (misses / false positives):")
        for tool in ("tfpilot", "checkov"):
            misses, extra = score(found[tool], truth)
            per_rule = ", ".join(
                f"{rule} {len({t for t in truth if t[1] == rule} - found[tool])}"
                f"/{len({f for f in found[tool] if f[1] == rule} - truth)}"
                for rule in RULES
            )
            print(f"  {tool:<8} misses {misses:5d}  false positives {extra:5d}   ({per_rule})")
        loads, evaluate = in_process(plan_path, args.inproc_rounds)
        print(f"\nin process (median of {args.inproc_rounds}):")
        print(f"  json.loads            {loads * 1000:8.1f} ms")
        print(f"  Plan.parse + evaluate {evaluate * 1000:8.1f} ms")
        print(f"  ratio                 {evaluate / loads:8.2f}x   (target <= 3x)")


if __name__ == "__main__":
    main()
