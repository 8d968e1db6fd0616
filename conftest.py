"""Settings for the whole test suite (core and plugins).

Hypothesis explores new random examples on every run on a developer's machine, which is how it
finds bugs. CI (``CI=true``) runs a derandomized profile instead: the same examples every time,
so that a submission's result does not depend on luck. Counterexamples found locally are kept as
``@example`` cases in the tests.
"""

from __future__ import annotations

import os

from hypothesis import settings

# Checking request inputs with Terraform itself (tfpilot_core.catalog.terraform_check) costs
# 0.2-0.8 s per distinct create: off for the suite as a whole, on in the tests of that check
# (tests/catalog/test_terraform_check.py), which turn it on themselves.
os.environ.setdefault("TFPILOT_REQUEST_TIME_TERRAFORM", "0")

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
