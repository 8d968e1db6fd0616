"""The shape of the core, checked: layers, no import cycles, no private reach-ins, one contract.

See docs/architecture.md ("Layers"). Each test reads the source with :mod:`ast`, so it fails the
moment a change breaks the rule, wherever the change is:

* no import cycle in ``tfpilot_core`` (module-level and ``TYPE_CHECKING`` imports counted);
* imports point down the layers: the lifecycle never imports a capability, the facade or the CLI;
  a capability never imports the facade or the CLI; nothing below the CLI imports the CLI;
* no core-to-core import inside a function, except in the CLI (its lazy command loading);
* no call of another module's underscore function (``obj._name()`` with ``obj`` not ``self``);
* one ``HookspecMarker``, in ``tfpilot_core/hookspecs.py``;
* ``platform.py`` stays a thin facade (at most 300 lines).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "tfpilot_core"

#: Capability packages: above the lifecycle, below the facade.
CAPABILITIES = (
    "ask",
    "assistant",
    "notifications",
    "promotion",
    "query",
    "runs",
    "service_catalog",
    "suggestions",
    "templates",
)


def _sources(top: Path) -> Iterator[Path]:
    for path in sorted(top.rglob("*.py")):
        if "tests" in path.parts or "__pycache__" in path.parts or path.name.startswith("test_"):
            continue
        yield path


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module(p): p for p in _sources(CORE)}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The core modules an import statement loads (``from pkg import sub`` counts both)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([base] if base else [])])
        names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return [name for name in names if name in MODULES]


def _walk(
    body: list[ast.stmt],
    module: str,
    is_package: bool,
    in_function: bool,
    graph: dict[str, set[str]],
    in_functions: list[str],
) -> None:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            targets = _targets(node, module, is_package)
            if in_function and targets and not module.startswith("tfpilot_core.cli"):
                in_functions.append(f"{module}:{node.lineno} -> {targets[0]}")
            elif not in_function:
                graph[module].update(t for t in targets if t != module)
            continue
        nested = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for field in ("body", "orelse", "finalbody", "handlers"):
            value = getattr(node, field, None)
            if isinstance(value, list):
                _walk(value, module, is_package, nested, graph, in_functions)


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    """Module-level import graph of the core, and every function-level core import."""
    graph: dict[str, set[str]] = defaultdict(set)
    in_functions: list[str] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        _walk(tree.body, module, path.name == "__init__.py", False, graph, in_functions)
    return graph, in_functions


GRAPH, FUNCTION_IMPORTS = _imports()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(MODULES):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[-1] == "settings":
        # A capability's settings model is plain data that the configuration validates.
        return "base"
    head = parts[1]
    if head in ("cli", "platform", "testing"):
        return "top"
    if head in CAPABILITIES:
        return "capability"
    if head == "lifecycle" and len(parts) > 2:
        return "lifecycle"
    return "base"


def test_no_import_cycle_in_the_core() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, f"import cycles (module-level and TYPE_CHECKING imports): {cycles}"


@pytest.mark.parametrize(
    ("lower", "forbidden"),
    [
        ("lifecycle", {"capability", "top"}),
        ("capability", {"top"}),
        ("base", {"lifecycle", "capability", "top"}),
    ],
)
def test_imports_point_down_the_layers(lower: str, forbidden: set[str]) -> None:
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == lower
        for target in targets
        if _layer(target) in forbidden
    )
    assert not wrong, f"{lower} modules importing from above: {wrong}"


def test_nothing_but_the_cli_imports_the_package_itself() -> None:
    # ``tfpilot_core/__init__`` re-exports the facade; importing it from below would be a cycle.
    wrong = sorted(m for m, ts in GRAPH.items() if "tfpilot_core" in ts and _layer(m) != "top")
    assert not wrong, f"modules importing the package tfpilot_core itself: {wrong}"


def test_no_core_to_core_import_inside_functions() -> None:
    assert not FUNCTION_IMPORTS, (
        "function-level imports of core modules (only optional third-party libraries, or the "
        f"CLI's lazy command loading, may be imported in a function): {FUNCTION_IMPORTS}"
    )


def test_no_call_of_another_modules_private_function() -> None:
    files = [*_sources(CORE), *_sources(ROOT / "plugins")]
    trees = {path: ast.parse(path.read_text()) for path in files}
    defined: dict[str, set[Path]] = defaultdict(set)
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _private(node.name):
                defined[node.name].add(path)
    reach_ins = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name, owner = node.func.attr, node.func.value
            if not _private(name) or name not in defined or path in defined[name]:
                continue
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
                continue
            reach_ins.append(f"{path.relative_to(ROOT)}:{node.lineno} .{name}()")
    assert not reach_ins, f"calls of another module's private functions: {reach_ins}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_one_hook_specification_marker() -> None:
    markers = []
    for path in [*_sources(CORE), *_sources(ROOT / "plugins")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "HookspecMarker"
            ):
                markers.append(str(path.relative_to(ROOT)))
    assert markers == ["tfpilot_core/hookspecs.py"], markers


def test_the_facade_stays_thin() -> None:
    lines = len((CORE / "platform.py").read_text().splitlines())
    assert lines <= 300, f"tfpilot_core/platform.py has {lines} lines (at most 300)"
