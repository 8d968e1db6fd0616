"""The plugin's hooks, registrations, settings and mirror (no Terraform run here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click
import pluggy
import pytest
from pydantic import ValidationError

from tfpilot_core.hookspecs import PROJECT_NAME
from tfpilot_core.registrations import PluginContext, ProviderMirror
from tfpilot_sandbox import PROVIDER_SOURCE, ROOT_ENV, plugin
from tfpilot_sandbox.cost import SandboxCostEstimator
from tfpilot_sandbox.mirror import (
    EXECUTABLE_NAME,
    cli_config,
    ensure_mirror,
    executable_path,
    terraform_platform,
)
from tfpilot_sandbox.settings import SandboxSettings, mirror_dir, sandbox_root
from tfpilot_sandbox.source import SandboxModuleSource

MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def manager() -> pluggy.PluginManager:
    """A plugin manager with the core's hook specs and this plugin registered."""
    from tfpilot_core import hookspecs

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="sandbox")
    return pm


def test_entry_point_is_declared() -> None:
    """The distribution exposes ``sandbox = tfpilot_sandbox.plugin`` in group ``tfpilot``."""
    found = {ep.name: ep.value for ep in entry_points(group="tfpilot")}
    assert found.get("sandbox") == "tfpilot_sandbox.plugin"


def test_importing_the_plugin_is_light() -> None:
    """Loading the plugin (as the host does at start-up) never imports ``tf`` or grpc."""
    code = (
        "import sys, tfpilot_sandbox.plugin as p;"
        "p.tfpilot_register_provider_mirrors(); p.tfpilot_register_module_sources();"
        "p.tfpilot_register_cost_estimators();"
        "print(sorted(m for m in ('tf', 'grpc', 'tf.runner', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tfpilot_register_provider_mirrors(tmp_path: Path) -> None:
    """The factory writes the mirror and hands the root to runners through ``env``."""
    (registration,) = manager().hook.tfpilot_register_provider_mirrors()[0]
    assert registration.name == "sandbox"
    assert registration.settings_model is SandboxSettings
    mirror = registration.factory(SandboxSettings(), PluginContext(home=tmp_path))
    assert isinstance(mirror, ProviderMirror)
    assert mirror.source == PROVIDER_SOURCE == "tfpilot/sandbox"
    assert mirror.directory == tmp_path / "sandbox" / "mirror"
    assert mirror.env == {ROOT_ENV: str(tmp_path / "sandbox" / "objects")}
    assert executable_path(mirror.directory).is_file()
    assert (tmp_path / "sandbox" / "objects").is_dir()


def test_provider_mirror_honours_settings(tmp_path: Path) -> None:
    """``root`` and ``mirror_dir`` from ``[plugins.sandbox]`` win over the home defaults."""
    settings = SandboxSettings(root=tmp_path / "objs", mirror_dir=tmp_path / "mir")
    mirror = plugin.make_provider_mirror(settings, PluginContext(home=tmp_path / "home"))
    assert mirror.directory == tmp_path / "mir"
    assert mirror.env[ROOT_ENV] == str(tmp_path / "objs")


def test_tfpilot_register_module_sources(tmp_path: Path) -> None:
    """The source offers the three packaged modules."""
    (registration,) = manager().hook.tfpilot_register_module_sources()[0]
    source = registration.factory(SandboxSettings(), PluginContext(home=tmp_path))
    assert isinstance(source, SandboxModuleSource)
    assert {m.name for m in source.modules()} == {
        "sandbox/bucket",
        "sandbox/queue",
        "sandbox/instance",
    }


def test_tfpilot_register_cost_estimators(tmp_path: Path) -> None:
    """The estimator is the static price list."""
    (registration,) = manager().hook.tfpilot_register_cost_estimators()[0]
    assert registration.name == "sandbox"
    estimator = registration.factory(SandboxSettings(), PluginContext(home=tmp_path))
    assert isinstance(estimator, SandboxCostEstimator)


def test_tfpilot_register_commands() -> None:
    """The hook adds a ``sandbox`` group with ``ls`` and ``edit``."""

    @click.group()
    def cli() -> None:
        """A bare root group."""

    manager().hook.tfpilot_register_commands(cli=cli)
    group = cli.commands["sandbox"]
    assert isinstance(group, click.Group)
    assert set(group.commands) == {"ls", "edit"}


def test_settings_forbid_unknown_keys() -> None:
    """A typo in ``[plugins.sandbox]`` is an error, not silently ignored."""
    with pytest.raises(ValidationError):
        SandboxSettings.model_validate({"roots": "/tmp"})
    assert SandboxSettings.model_validate({"root": "/x"}).root == Path("/x")


def test_sandbox_root_rule(tmp_path: Path) -> None:
    """``root`` setting, else ``<home>/sandbox/objects``; the same rule for the mirror."""
    assert sandbox_root(None, tmp_path) == tmp_path / "sandbox" / "objects"
    assert sandbox_root(SandboxSettings(), tmp_path) == tmp_path / "sandbox" / "objects"
    assert sandbox_root(SandboxSettings(root=tmp_path / "r"), tmp_path) == tmp_path / "r"
    assert mirror_dir(None, tmp_path) == tmp_path / "sandbox" / "mirror"


def test_mirror_layout_and_idempotence(tmp_path: Path) -> None:
    """Terraform's unpacked layout; a second write leaves the file (and its hash) untouched."""
    path = ensure_mirror(tmp_path)
    assert path == (
        tmp_path
        / "registry.terraform.io"
        / "tfpilot"
        / "sandbox"
        / "0.1.0"
        / terraform_platform()
        / EXECUTABLE_NAME
    )
    assert EXECUTABLE_NAME == "terraform-provider-sandbox_v0.1.0"
    assert os.access(path, os.X_OK)
    content = path.read_text()
    assert content.startswith(f"#!{sys.executable}\n")
    assert "from tfpilot_sandbox.provider import main" in content
    stamp = path.stat().st_mtime_ns
    inode = path.stat().st_ino
    assert ensure_mirror(tmp_path) == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == (stamp, inode)
    # A different interpreter means different content: rewritten atomically.
    ensure_mirror(tmp_path, python="/opt/other/python")
    assert path.read_text().startswith("#!/opt/other/python\n")
    assert [p.name for p in path.parent.iterdir()] == [EXECUTABLE_NAME]


def test_terraform_platform_matches_machine() -> None:
    """``linux_amd64`` style, from this machine."""
    os_name, _, arch = terraform_platform().partition("_")
    assert os_name == {"linux": "linux", "darwin": "darwin"}.get(sys.platform, os_name)
    assert arch and "_" not in arch


def test_cli_config_is_offline_for_the_namespace(tmp_path: Path) -> None:
    """The mirror serves ``tfpilot/sandbox`` and ``direct`` excludes it."""
    text = cli_config(tmp_path)
    assert f'path    = "{tmp_path.resolve()}"' in text
    assert text.count('"registry.terraform.io/tfpilot/sandbox"') == 2
    assert "direct {" in text and "exclude" in text


def test_provider_executable_speaks_the_plugin_handshake(tmp_path: Path) -> None:
    """Started like Terraform starts it, the provider prints go-plugin's handshake line."""
    path = ensure_mirror(tmp_path / "mirror")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "PLUGIN_PROTOCOL_VERSIONS": "6",
        # go-plugin refuses to start without the cookie Terraform sets.
        "TF_PLUGIN_MAGIC_COOKIE": MAGIC_COOKIE,
    }
    proc = subprocess.Popen([str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.kill()
        proc.wait()
    fields = line.strip().split("|")
    assert fields[:3] == ["1", "6", "unix"]
    assert fields[4] == "grpc"
    json.dumps(fields)  # plain text, nothing binary
