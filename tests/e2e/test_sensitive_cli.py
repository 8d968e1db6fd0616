"""A planted sensitive input, through the whole lifecycle on the command line, as every role.

Real Terraform, real processes (``tfpilot`` as users run it), text and ``--json`` output,
``--log-format json`` logs and ``--trace`` spans: the value appears in no output at all, and in
no file that anyone but its owner can read (the database and Terraform's state do hold it, for
Terraform: they are 0600 in 0700 directories, whatever the umask).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PLAIN_MODULE

pytestmark = pytest.mark.slow

SECRET = "Plant3d-S3cret-In-Password"
ROLES = {"viv": "viewer", "alice": "developer", "bob": "approver", "carol": "admin"}


@pytest.fixture
def cli_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    modules = tmp_path / "modules" / "test" / "plain"
    modules.mkdir(parents=True)
    for name, text in PLAIN_MODULE.items():
        (modules / name).write_text(text)
    users = "".join(f'[users.{u}]\nrole = "{r}"\n' for u, r in ROLES.items())
    home.mkdir()
    config = home / "tfpilot.toml"
    config.write_text(
        users
        + "[plugins.runner_local]\ntimeout_seconds = 300\n"
        + f'[plugins.modules_dir]\npaths = ["{tmp_path / "modules"}"]\n'
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(config),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"),
        "CHECKPOINT_DISABLE": "1",
        "TFPILOT_NO_CACHE": "1",
    }
    env.pop("TFPILOT_USER", None)
    return tmp_path, env


def _tfpilot(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    exe = Path(sys.executable).with_name("tfpilot")
    done = subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, input=stdin, timeout=600
    )
    return done.returncode, done.stdout + done.stderr


def test_a_sensitive_input_is_write_only_everywhere(cli_home: tuple[Path, dict[str, str]]) -> None:
    root, env = cli_home
    outputs: list[str] = []
    old_umask = os.umask(0o022)  # the usual shared-machine default: files would be 0644
    try:

        def run(*args: str, ok: bool = True) -> str:
            code, out = _tfpilot(env, *args)
            outputs.append(out)
            assert "Traceback" not in out, out
            if ok:
                assert code == 0, out
            return out

        created = run(
            "--as", "alice", "--json", "requests", "create", "--module", "test/plain",
            "--env", "dev", "--project", "shop", "--set", "name=db", "--set", f"password={SECRET}",
        )  # fmt: skip
        request_id = json.loads(created)["id"]
        assert json.loads(created)["inputs"]["password"] == "(sensitive)"
        # Every role reads it, as text and as JSON (each process costs a start-up: pair them).
        for user, json_flag in zip(ROLES, [(), ("--json",), (), ("--json",)], strict=True):
            run("--as", user, *json_flag, "requests", "show", request_id)
            run("--as", user, *(("--json",) if not json_flag else ()), "requests", "list")
        run("--as", "alice", "--log-format", "json", "--log-level", "debug", "plan", request_id)
        shown = json.JSONDecoder().raw_decode(
            run("--as", "bob", "--json", "requests", "show", request_id)
        )[0]
        digest = [a for a in shown["runs"]["plan"] if a.get("plan_digest")][-1]["plan_digest"]
        run("--as", "bob", "--trace", "--json", "approve", request_id, "--plan", digest)
        run("--as", "bob", "--trace", "--log-format", "json", "--log-level", "info", "apply",
            request_id)  # fmt: skip
        run("--as", "viv", "timeline", request_id)
        run("--as", "alice", "--json", "timeline", request_id)
        run("--as", "bob", "audit", "export", request_id)
        run("--as", "alice", "--json", "drift", "check", request_id)
        run("--as", "alice", "--trace", "drift", "check", request_id)
        run("--as", "viv", "requests", "update", request_id, "--set", "name=x", ok=False)
        run("--as", "carol", "--log-format", "json", "--log-level", "info", "--json",
            "destroy", request_id, "--yes")  # fmt: skip
        final = json.loads(run("--as", "viv", "--json", "requests", "show", request_id))
        assert final["status"] == "destroyed"
    finally:
        os.umask(old_umask)

    everything = "\n".join(outputs)
    assert "terraform" in everything.lower() and "span_id" in everything  # logs and spans ran
    assert SECRET not in everything
    # On disk: it may only be where nobody but the owner can read it.
    leaked = []
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink() or not path.is_file():
            continue
        if mode & 0o077 and SECRET.encode() in path.read_bytes():
            leaked.append(f"{path} ({oct(mode)})")
    assert not leaked, leaked
    home = root / "home"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "tfpilot.db").stat().st_mode) == 0o600
    work = home / "work"
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
