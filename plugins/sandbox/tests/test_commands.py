"""``tfpilot sandbox ls`` and ``tfpilot sandbox edit`` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tfpilot_sandbox.commands import register
from tfpilot_sandbox.objects import ObjectStore


@pytest.fixture
def cli() -> click.Group:
    """A bare root group with the sandbox commands registered on it."""

    @click.group()
    def root() -> None:
        """Stand-in for the tfpilot root group."""

    register(root)
    return root


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    """A sandbox with one object of each type."""
    store = ObjectStore(tmp_path / "objects")
    store.create(
        "sandbox_bucket",
        "logs",
        {
            "id": "bkt-1",
            "name": "logs",
            "region": "local-1",
            "public_access": False,
            "encryption": True,
            "versioning": True,
            "tags": {},
        },
    )
    store.create(
        "sandbox_queue",
        "orders",
        {
            "id": "q-1",
            "name": "orders",
            "region": "local-2",
            "encryption": True,
            "retention_seconds": 3600,
            "tags": {},
        },
    )
    store.create(
        "sandbox_instance",
        "web",
        {
            "id": "i-1",
            "name": "web",
            "region": "local-3",
            "size": "small",
            "public_ip": False,
            "ip_address": "10.3.0.1",
            "tags": {},
        },
    )
    return store


def test_ls_table(cli: click.Group, store: ObjectStore) -> None:
    """Type, name, region and key attributes, one line per object."""
    result = CliRunner().invoke(cli, ["sandbox", "ls", "--root", str(store.root)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["TYPE", "NAME", "REGION", "ATTRIBUTES"]
    assert len(lines) == 4
    bucket = next(line for line in lines if line.startswith("sandbox_bucket"))
    assert "logs" in bucket and "local-1" in bucket and "public_access=false" in bucket
    assert any('size="small"' in line for line in lines)


def test_ls_json_and_type_filter(cli: click.Group, store: ObjectStore) -> None:
    """``--json`` prints every stored attribute; ``--type`` filters."""
    result = CliRunner().invoke(cli, ["sandbox", "ls", "--json", "--root", str(store.root)])
    objects = json.loads(result.output)
    assert [(o["type"], o["name"]) for o in objects] == [
        ("sandbox_bucket", "logs"),
        ("sandbox_instance", "web"),
        ("sandbox_queue", "orders"),
    ]
    result = CliRunner().invoke(
        cli, ["sandbox", "ls", "--json", "--type", "sandbox_queue", "--root", str(store.root)]
    )
    assert [o["name"] for o in json.loads(result.output)] == ["orders"]


def test_ls_root_from_environment(
    cli: click.Group, store: ObjectStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without ``--root``: ``$TFPILOT_SANDBOX_ROOT``, else ``$TFPILOT_HOME/sandbox/objects``."""
    monkeypatch.setenv("TFPILOT_SANDBOX_ROOT", str(store.root))
    assert "logs" in CliRunner().invoke(cli, ["sandbox", "ls"]).output
    monkeypatch.delenv("TFPILOT_SANDBOX_ROOT")
    monkeypatch.setenv("TFPILOT_HOME", str(tmp_path / "home"))
    ObjectStore(tmp_path / "home" / "sandbox" / "objects").create(
        "sandbox_bucket", "homed", {"name": "homed", "region": "local-2"}
    )
    output = CliRunner().invoke(cli, ["sandbox", "ls"]).output
    assert "homed" in output and "logs" not in output


def test_ls_empty(cli: click.Group, tmp_path: Path) -> None:
    """An empty (or missing) sandbox says so."""
    result = CliRunner().invoke(cli, ["sandbox", "ls", "--root", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "no objects" in result.output


def test_edit_changes_one_object(cli: click.Group, store: ObjectStore) -> None:
    """Typed values, short type names, several ``--set``; other objects untouched."""
    result = CliRunner().invoke(
        cli,
        [
            "sandbox",
            "edit",
            "bucket",
            "logs",
            "--set",
            "public_access=true",
            "--set",
            'tags={"owner": "mallory"}',
            "--root",
            str(store.root),
        ],
    )
    assert result.exit_code == 0, result.output
    bucket = store.get("sandbox_bucket", "logs")
    assert bucket is not None
    assert bucket["public_access"] is True
    assert bucket["tags"] == {"owner": "mallory"}
    assert bucket["encryption"] is True
    result = CliRunner().invoke(
        cli,
        [
            "sandbox",
            "edit",
            "sandbox_queue",
            "orders",
            "--set",
            "retention_seconds=60",
            "--root",
            str(store.root),
        ],
    )
    assert result.exit_code == 0
    queue = store.get("sandbox_queue", "orders")
    assert queue is not None and queue["retention_seconds"] == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bucket", "nope", "--set", "encryption=false"], "no sandbox_bucket named 'nope'"),
        (["disk", "logs", "--set", "size=1"], "unknown type"),
        (["bucket", "logs", "--set", "colour=red"], "cannot set 'colour'"),
        (["bucket", "logs", "--set", "name=other"], "cannot set 'name'"),
        (["bucket", "logs", "--set", "encryption=maybe"], "expected true or false"),
        (["queue", "orders", "--set", "retention_seconds=soon"], "expected a number"),
        (["bucket", "logs", "--set", "encryption"], "KEY=VALUE"),
        (["bucket", "../etc", "--set", "encryption=false"], "invalid name"),
    ],
)
def test_edit_errors(cli: click.Group, store: ObjectStore, args: list[str], message: str) -> None:
    """Clear errors, exit code 1, and nothing written."""
    before = sorted(p.read_text() for p in store.root.rglob("*.json"))
    result = CliRunner().invoke(cli, ["sandbox", "edit", *args, "--root", str(store.root)])
    assert result.exit_code == 1
    assert message in result.output
    assert sorted(p.read_text() for p in store.root.rglob("*.json")) == before


def test_command_type_names_match_the_object_types() -> None:
    """The names the commands offer without importing the object store are the real ones."""
    from tfpilot_sandbox.commands import TYPE_NAMES
    from tfpilot_sandbox.objects import TYPES

    assert tuple(sorted(TYPES)) == TYPE_NAMES
