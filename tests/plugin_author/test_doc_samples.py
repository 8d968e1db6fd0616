"""The code samples of docs/writing-plugins.md marked ``<!-- run -->`` run as written.

An outside author copies these samples; each holds its own assertions, so a sample that no
longer matches the API (a renamed field, a changed signature) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "writing-plugins.md"
SAMPLES = re.findall(r"<!-- run -->\n```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_runnable_samples() -> None:
    # A page that lost its markers would let the test below check nothing.
    assert len(SAMPLES) >= 2


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_sample_runs(index: int) -> None:
    code = compile(SAMPLES[index], f"{DOC.name}[run sample {index + 1}]", "exec")
    exec(code, {"__name__": f"doc_sample_{index}"})
