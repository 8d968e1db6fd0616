"""What read commands skip at start when nothing says they must do it again.

* pydantic's plugin discovery is answered from tfpilot's entry-point cache
  (``cli/pydantic_plugins.py``): no ``importlib.metadata`` when no pydantic plugin is installed,
  pydantic's own loader when one is (or the cache is off);
* plugin settings validated by an earlier command with the same inputs are not validated again
  (``startup_cache.settings_validated``), but an unknown section still warns and a section that
  reads an environment value is still checked on every command;
* the embedded store opens without a write transaction when its layout is current.

The CLI runs as a user's shell runs it (installed console script, own HOME and cache).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tfpilot_core.stores.sqlite import SCHEMA_VERSION, SQLiteStore

TFPILOT = str(Path(sys.executable).parent / "tfpilot")
pytestmark = pytest.mark.skipif(
    not Path(TFPILOT).exists(), reason="needs the tfpilot console script beside this interpreter"
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TFPILOT") and k != "XDG_CACHE_HOME"
    }
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    env.update(HOME=str(home), TFPILOT_USER="alice", TFPILOT_HOME=str(home / "home"), **extra)
    return env


def cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``tfpilot ARGS`` under ``python -X importtime`` (imports listed on stderr)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", TFPILOT, *args],
        cwd=home,
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=180,
    )


def imported(stderr: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


def messages(stderr: str) -> str:
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "tfpilot.toml").write_text(
        f'[users.alice]\nrole = "developer"\n[plugins.sandbox]\nroot = "{tmp_path / "sandbox"}"\n'
    )
    created = cli(
        tmp_path,
        "requests",
        "create",
        "--module",
        "sandbox/bucket",
        "--env",
        "dev",
        "--project",
        "shop",
        "--set",
        "name=logs",
    )
    assert created.returncode == 0, messages(created.stderr)
    return tmp_path


def test_pydantic_plugin_discovery_comes_from_the_entry_point_cache(home: Path) -> None:
    cli(home, "requests", "list")  # the first command after an install fills the caches
    again = cli(home, "requests", "list")
    assert again.returncode == 0, messages(again.stderr)
    assert "req_dev_bucket_" in again.stdout
    modules = imported(again.stderr)
    # Documents were validated (pydantic's loader was asked for) without importlib.metadata.
    assert "pydantic.plugin._loader" in modules
    assert not {"importlib.metadata", "email.message", "zipfile"} & modules
    cached = list((home / ".cache" / "tfpilot").glob("entry-points-pydantic-*.json"))
    assert len(cached) == 1
    assert json.loads(cached[0].read_text())["entry_points"] == []
    # With the caches off, pydantic discovers its plugins itself, and the answer is the same.
    off = cli(home, "requests", "list", TFPILOT_NO_CACHE="1")
    assert off.stdout == again.stdout
    assert "importlib.metadata" in imported(off.stderr)


SNIPPET = """
import sys
import tfpilot_core.cli.pydantic_plugins as plugins
plugins.cached_group = lambda group: {found!r}
plugins.answer_from_cache()
from pydantic import BaseModel
class M(BaseModel):
    x: int
M(x=1)
loader = sys.modules["pydantic.plugin._loader"]
print(getattr(loader, "__file__", None) is not None, list(loader.get_plugins()))
"""


@pytest.mark.parametrize(
    ("found", "real_loader"),
    [([], False), ([("p", "no_such_module:plugin", "dist", "1")], True)],
)
def test_an_installed_pydantic_plugin_leaves_discovery_to_pydantic(
    tmp_path: Path, found: list[tuple[str, ...]], real_loader: bool
) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SNIPPET.format(found=found)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The real loader scans the real entry points (none here) and finds no plugin either.
    assert done.stdout.split() == [str(real_loader), "[]"]


def test_validated_settings_are_not_validated_again(home: Path) -> None:
    first = cli(home, "requests", "list")
    assert first.returncode == 0
    again = cli(home, "requests", "list")
    assert again.stdout == first.stdout
    # validate_settings asks every plugin for its registrations, which imports every settings
    # model; the second command validates nothing it has not already validated.
    assert "tfpilot_notify_email.settings" not in imported(again.stderr)
    assert "tfpilot_notify_email.settings" in imported(
        cli(home, "requests", "list", TFPILOT_NO_CACHE="1").stderr
    )


def test_an_unknown_section_warns_on_every_command(home: Path) -> None:
    with (home / "tfpilot.toml").open("a") as handle:
        handle.write("[plugins.no_such_plugin]\nx = 1\n")
    for _ in range(2):
        done = cli(home, "requests", "list")
        assert done.returncode == 0
        assert "plugins.no_such_plugin" in messages(done.stderr)


def test_settings_reading_the_environment_are_checked_every_time(home: Path) -> None:
    with (home / "tfpilot.toml").open("a") as handle:
        handle.write(
            '[plugins.notify_email]\nhost = { "$env" = "MAIL_HOST" }\n'
            'from_address = "tfpilot@example.test"\n'
        )
    ok = cli(home, "requests", "list", MAIL_HOST="mail.example.test")
    assert ok.returncode == 0, messages(ok.stderr)
    assert cli(home, "requests", "list", MAIL_HOST="mail.example.test").returncode == 0
    # Same file, same plugins: only the environment changed, and the check still runs.
    missing = cli(home, "requests", "list")
    assert missing.returncode == 4, messages(missing.stderr)
    assert "MAIL_HOST" in messages(missing.stderr)


def _open_while_another_writes(path: Path) -> list[str]:
    """Open a store at ``path`` while another connection holds SQLite's write lock; returns
    the problem, if any (a write transaction cannot start meanwhile)."""
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        SQLiteStore(path, busy_timeout=0.2).close()
        return []
    except sqlite3.OperationalError as exc:
        return [str(exc)]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_current_store_opens_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "tfpilot.db"
    store = SQLiteStore(path)
    created = store.backend_calls()["statements"]
    store.close()
    reopened = SQLiteStore(path)
    # Two reads (the layout version and the schema), against the whole schema's statements.
    assert reopened.backend_calls()["statements"] == 2 < created
    reopened.close()
    assert _open_while_another_writes(path) == []


def test_a_store_missing_part_of_its_layout_is_completed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "tfpilot.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX requests_by_project")
    conn.close()
    # Not current: the open takes the write lock to complete it (so it waits for the writer).
    assert "locked" in " ".join(_open_while_another_writes(path))
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert "requests_by_project" in names


def test_a_command_that_logs_nothing_imports_no_logging(tmp_path: Path) -> None:
    # `logging` is about a fifth of a small command's start: the log facade, the log set-up and
    # the scrubber import it only when a line is logged or an error formatted.
    (tmp_path / "tfpilot.toml").write_text('[users.alice]\nrole = "developer"\n')
    first = cli(tmp_path, "requests", "list")  # creates the store and writes the caches
    assert first.returncode == 0, messages(first.stderr)
    again = cli(tmp_path, "requests", "list")
    assert again.returncode == 0, messages(again.stderr)
    modules = imported(again.stderr)
    assert "tfpilot_core.scrub" in modules  # the log set-up ran
    assert "logging" not in modules
