"""The request page of a 500-resource plan: its size (target: at most 1 MB, large diffs paged
and collapsed) and its render time against the page of a 1-resource plan.

    .venv/bin/python bench/review_page.py [--resources 500] [--runs 15]

Both plans are real: a module of ``count = N`` sandbox buckets planned by Terraform (the local
runner, the sandbox provider), so the page reads the structured diff the capturing runner
stored. The page is fetched in process through the ASGI app (FastAPI's TestClient, a bearer
token, the same middleware as ``tfpilot serve``): the figure is server time to build and render
the page, without the network. Also called by ``bench/api.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

MODULE_TF = """
variable "name" {
  type = string
}
variable "n" {
  type    = number
  default = 1
}
resource "sandbox_bucket" "b" {
  count         = var.n
  name          = "${var.name}-${count.index}"
  region        = "local-1"
  tags          = { team = "bench", index = tostring(count.index) }
  public_access = false
  encryption    = true
  versioning    = true
}
"""
VERSIONS_TF = """
terraform {
  required_providers {
    sandbox = {
      source  = "tfpilot/sandbox"
      version = "~> 0.1"
    }
  }
}
"""
MODULE_TOML = """
description = "N sandbox buckets (bench)"
category = "storage"
risk = "low"
"""
CONFIG = """
[users.root]
role = "admin"
[users.alice]
role = "developer"
[plugins.modules_dir]
paths = ["{modules}"]
[plugins.local]
timeout_seconds = 900
"""
#: The size a request page may have (issue 25).
LIMIT = 1_000_000


def run(resources: int = 500, runs: int = 15) -> dict[str, Any]:
    """Plan 1 and ``resources`` buckets, fetch both pages ``runs`` times; print and return."""
    from fastapi.testclient import TestClient

    from tfpilot_core.platform import Platform
    from tfpilot_web import create_app
    from tfpilot_web.auth import create_token

    home = Path(tempfile.mkdtemp(prefix="tfpilot-bench-review-"))
    module = home / "modules" / "bench" / "buckets"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(MODULE_TF)
    (module / "versions.tf").write_text(VERSIONS_TF)
    (module / "tfpilot.module.toml").write_text(MODULE_TOML)
    config = home / "tfpilot.toml"
    config.write_text(CONFIG.format(modules=home / "modules"))
    os.environ["TFPILOT_SANDBOX_ROOT"] = str(home / "objects")
    environ = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "HOME": str(home),
    }
    platform = Platform.from_config(environ=environ)
    ids = {}
    for n in (1, resources):
        created = platform.create(
            "alice",
            module="bench/buckets",
            environment="dev",
            project="bench",
            inputs={"name": f"b{n}", "n": n},
        )
        started = time.perf_counter()
        platform.plan("alice", created.id)
        status = platform.status(platform.get(created.id)).value
        assert status == "plan_ready", f"plan of {n} resource(s) ended {status}"
        print(f"planned {n} resource(s) with Terraform in {time.perf_counter() - started:.1f} s")
        ids[n] = created.id
    token, _ = create_token(platform, "root", user="alice")
    figures: dict[str, Any] = {}
    with TestClient(create_app(platform)) as client:
        headers = {"Authorization": f"Bearer {token}", "accept": "text/html"}
        for n, request_id in ids.items():
            page = client.get(f"/requests/{request_id}", headers=headers)
            assert page.status_code == 200, page.text[:300]
            assert "sandbox_bucket.b[0]" in page.text
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(f"/requests/{request_id}", headers=headers)
                times.append(time.perf_counter() - started)
            figures[n] = {"bytes": len(page.content), "seconds": statistics.median(times)}
    small, large = figures[1], figures[resources]
    ratio = large["seconds"] / small["seconds"]
    verdict = "ok" if large["bytes"] <= LIMIT else "OVER the 1 MB target"
    print(
        f"request page, 1 resource: {small['bytes']:,} bytes, "
        f"median {small['seconds'] * 1000:.1f} ms"
    )
    print(
        f"request page, {resources} resources: {large['bytes']:,} bytes ({verdict}), "
        f"median {large['seconds'] * 1000:.1f} ms = {ratio:.2f}x the 1-resource page "
        f"({runs} runs each, in process)"
    )
    return {"small": small, "large": large, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    run(args.resources, args.runs)


if __name__ == "__main__":
    main()
