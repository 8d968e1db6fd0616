"""Settings for the whole test suite (core and plugins).

Hypothesis explores new random examples on every run on a developer's machine, which is how it
finds bugs. CI (``CI=true``) runs a derandomized profile instead: the same examples every time,
so that a submission's result does not depend on luck. Counterexamples found locally are kept as
``@example`` cases in the tests.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
