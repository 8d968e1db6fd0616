"""The example plugin of ``docs/writing-plugins.md`` works, stays small, and matches the docs.

The example is imported from its directory, not installed, so these tests run with the core's
dependencies only.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tfpilot_core.models import Event, Request
from tfpilot_core.plugins import ENTRY_POINT_GROUP, PluginHost, load_plugins

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "notify_console"
MODULE_FILE = EXAMPLE_DIR / "tfpilot_notify_console" / "__init__.py"
IMPL_FILE = EXAMPLE_DIR / "tfpilot_notify_console" / "console.py"
PYPROJECT = EXAMPLE_DIR / "pyproject.toml"
DOCS = ROOT / "docs" / "writing-plugins.md"
MAX_CODE_LINES = 40

# A fenced block that follows `<!-- verbatim: PATH -->` must be a verbatim excerpt of PATH.
VERBATIM_BLOCK = re.compile(r"<!-- verbatim: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.S)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example package, imported from ``examples/notify_console`` and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    sys.modules.pop("tfpilot_notify_console", None)
    sys.modules.pop("tfpilot_notify_console.console", None)
    module = importlib.import_module("tfpilot_notify_console")
    # An installed copy of the example must not stand in for the file the docs show.
    assert Path(module.__file__ or "") == MODULE_FILE
    yield module
    sys.modules.pop("tfpilot_notify_console", None)
    sys.modules.pop("tfpilot_notify_console.console", None)


def test_notify_goes_through_the_host(
    example: ModuleType,
    register_plugin: Callable[..., str],
    tfpilot_host: PluginHost,
    span_exporter: InMemorySpanExporter,
    request_doc: Request,
    event: Event,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Registered like any plugin, the example is built, called and traced by the host."""
    register_plugin(example, name="notify_console")

    outcomes = tfpilot_host.notify(event, request_doc)

    assert outcomes == [("notify_console", None)]
    assert capsys.readouterr().err == f"[tfpilot] {request_doc.id}: request_created by alice\n"
    spans = {span.name: span for span in span_exporter.get_finished_spans()}
    attributes = spans["notifier.notify notify_console"].attributes or {}
    assert attributes["tfpilot.plugin"] == "notify_console"
    assert attributes["tfpilot.hook"] == "notifier.notify"
    # The registrations hook and the factory are traced under the plugin's name as well.
    plugin_spans = [
        name
        for name, span in spans.items()
        if (span.attributes or {}).get("tfpilot.plugin") == "notify_console"
    ]
    assert "tfpilot_register_notifiers notify_console" in plugin_spans
    assert "notifier.build notify_console" in plugin_spans


def test_the_entry_point_is_discovered(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The entry point declared in the example's pyproject.toml loads the example module.

    Installing would need a build backend and a network; a ``.dist-info`` directory on
    ``sys.path`` with the same entry points is what installation would produce for discovery.
    """
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    entry_points = project["entry-points"][ENTRY_POINT_GROUP]
    assert entry_points == {"notify_console": "tfpilot_notify_console"}
    dist_info = tmp_path / "tfpilot_notify_console-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "notify_console"}, strict=True)

    info = loaded.infos["notify_console"]
    assert (info.status, info.distribution) == ("loaded", "tfpilot-notify-console")
    assert info.hooks == ["tfpilot_register_notifiers"]
    assert loaded.manager.get_plugin("notify_console") is example


def code_lines(source: str) -> list[str]:
    """Lines that are neither blank nor comments (docstrings count: they are part of the file)."""
    return [
        line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_line_count_in_the_docs_is_the_real_one() -> None:
    """The docs' heading states the example's lines of code and its lines; both are true."""
    files = [MODULE_FILE, IMPL_FILE]
    code = sum(len(code_lines(f.read_text())) for f in files)
    total = sum(len(f.read_text().splitlines()) for f in files)
    assert code < MAX_CODE_LINES, f"the example has {code} lines of code"
    heading = f"## The plugin: {code} lines of code in two files ({total} with blank lines)"
    assert heading in DOCS.read_text()


def test_importing_the_plugin_loads_neither_settings_nor_implementation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lazy shape: the hook module alone is imported at discovery."""
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    for name in ("tfpilot_notify_console", "tfpilot_notify_console.console"):
        sys.modules.pop(name, None)
    importlib.import_module("tfpilot_notify_console")
    try:
        assert "tfpilot_notify_console.console" not in sys.modules
    finally:
        for name in ("tfpilot_notify_console", "tfpilot_notify_console.console"):
            sys.modules.pop(name, None)


def test_the_docs_show_the_example_verbatim() -> None:
    """The whole module is in the docs, and every excerpt the docs mark verbatim is exact."""
    docs = DOCS.read_text()
    assert MODULE_FILE.read_text() in docs
    assert IMPL_FILE.read_text() in docs
    blocks = list(VERBATIM_BLOCK.finditer(docs))
    shown = {block["path"] for block in blocks}
    assert str(MODULE_FILE.relative_to(ROOT)) in shown
    assert str(PYPROJECT.relative_to(ROOT)) in shown
    for block in blocks:
        source = (ROOT / block["path"]).read_text()
        assert block["code"] in source, f"docs excerpt of {block['path']} differs from the file"
