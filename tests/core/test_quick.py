"""The CLI's quick read paths (``cli.startup_cache``): the same answers as the full path, or none.

Every test runs the installed console script in a subprocess with its own HOME, cache and
working directory, so the snapshots written are the ones a user's shell would write.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tfpilot_core.cli.app import render_table

pytestmark = pytest.mark.skipif(
    shutil.which("tfpilot", path=str(Path(sys.executable).parent)) is None,
    reason="needs the tfpilot console script beside this interpreter",
)

TFPILOT = str(Path(sys.executable).parent / "tfpilot")
MODULE = """
variable "name" {
  type        = string
  description = "The name."
}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    (tmp_path / "tfpilot.toml").write_text('[users.alice]\nrole = "developer"\n')
    return tmp_path


def run(
    cwd: Path,
    *args: str,
    quick: bool = True,
    importtime: bool = False,
    extra: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TFPILOT") and k != "XDG_CACHE_HOME"
    }
    env.update(HOME=str(cwd), TFPILOT_USER="alice", TFPILOT_HOME=str(cwd / "home"))
    env.update(extra or {})
    if not quick:
        env["TFPILOT_NO_CACHE"] = "1"
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), TFPILOT, *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def snapshots(cwd: Path) -> list[Path]:
    return sorted((cwd / ".cache" / "tfpilot").glob("config-*.json"))


def imported(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:")
    }


def test_requests_list_on_an_empty_store_starts_without_pydantic_and_answers_the_same(
    here: Path,
) -> None:
    full = run(here, "--json", "requests", "list", quick=False)
    assert run(here, "requests", "list")[0] == 0  # the full path, which writes the snapshot
    assert len(snapshots(here)) == 1
    for args in (
        ["--json", "requests", "list"],
        ["requests", "list"],
        ["requests", "list", "--env", "x"],
    ):
        assert run(here, *args) == run(here, *args, quick=False)
    assert run(here, "--json", "requests", "list") == full
    code, _, err = run(here, "requests", "list", importtime=True)
    assert code == 0
    modules = imported(err)
    assert "tfpilot_core.cli.startup_cache" in modules
    assert not {"pydantic", "tfpilot_core.models", "tfpilot_core.platform", "rich"} & modules


def test_a_store_with_requests_takes_the_full_path(here: Path) -> None:
    (here / "modules" / "test" / "plain").mkdir(parents=True)
    (here / "modules" / "test" / "plain" / "main.tf").write_text(MODULE)
    run(here, "requests", "list")
    created = run(
        here,
        "--json",
        "requests",
        "create",
        "--module",
        "test/plain",
        "--env",
        "dev",
        "--project",
        "shop",
        "--set",
        "name=logs",
    )
    assert created[0] == 0, created
    request_id = json.loads(created[1])["id"]
    code, out, err = run(here, "requests", "list", importtime=True)
    assert code == 0 and request_id in out
    assert "pydantic" in imported(err)
    assert run(here, "--json", "requests", "list") == run(
        here, "--json", "requests", "list", quick=False
    )


def test_a_changed_configuration_is_validated_again(here: Path) -> None:
    assert run(here, "requests", "list")[0] == 0
    (here / "tfpilot.toml").write_text("[core]\nstale_after_seconds = 5\n")  # below the minimum
    code, out, err = run(here, "requests", "list")
    assert code == 4 and "stale_after_seconds" in err, (out, err)
    (here / "tfpilot.toml").write_text('[users.alice]\nrole = "admin"\n')
    assert run(here, "requests", "list")[0] == 0
    assert len(snapshots(here)) == 2  # one per configuration text


def test_an_override_from_the_environment_is_part_of_the_key(here: Path) -> None:
    assert run(here, "requests", "list")[0] == 0
    code, _, err = run(here, "requests", "list", extra={"TFPILOT_CORE__STALE_AFTER_SECONDS": "1"})
    assert code == 4 and "stale_after_seconds" in err


def test_the_snapshot_is_private_and_holds_no_secret_reference(here: Path) -> None:
    (here / "tfpilot.toml").write_text(
        '[users.alice]\nrole = "developer"\n'
        '[plugins.notify_slack]\ntoken = { "$env" = "SLACK_TOKEN" }\n'
    )
    assert run(here, "requests", "list", extra={"SLACK_TOKEN": "xoxb-not-a-real-token-123"})[0] == 0
    (snapshot,) = snapshots(here)
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    assert stat.S_IMODE(snapshot.parent.stat().st_mode) == 0o700
    text = snapshot.read_text()
    assert "xoxb-not-a-real-token-123" not in text
    assert "notify_slack" not in json.loads(text)["value"]["plugin_settings"]


def test_modules_list_follows_every_change_to_the_modules(here: Path) -> None:
    plain = here / "modules" / "test" / "plain"
    plain.mkdir(parents=True)
    (plain / "main.tf").write_text(MODULE)

    def names() -> list[str]:
        code, out, err = run(here, "--json", "modules", "list")
        assert code == 0, err
        assert (code, out) == run(here, "--json", "modules", "list", quick=False)[:2]
        return [m["name"] for m in json.loads(out)]

    assert "test/plain" in names()
    code, _, err = run(here, "modules", "list", importtime=True)
    assert code == 0 and "pydantic" not in imported(err)
    # A new module in a new directory, one in an existing directory, an edit, a removal.
    (here / "modules" / "other" / "thing").mkdir(parents=True)
    (here / "modules" / "other" / "thing" / "main.tf").write_text(MODULE)
    assert "other/thing" in names()
    (here / "modules" / "test" / "second").mkdir()
    (here / "modules" / "test" / "second" / "main.tf").write_text(MODULE)
    assert "test/second" in names()
    before = json.loads(run(here, "--json", "modules", "list")[1])
    (plain / "main.tf").write_text(MODULE + '\nvariable "size" {\n  type = string\n}\n')
    after = json.loads(run(here, "--json", "modules", "list")[1])
    version = {m["name"]: m["version"] for m in before}["test/plain"]
    assert {m["name"]: m["version"] for m in after}["test/plain"] != version
    shutil.rmtree(here / "modules" / "other")
    assert "other/thing" not in names()


def test_no_cache_turns_quick_paths_off(here: Path) -> None:
    run(here, "requests", "list", quick=False)
    assert snapshots(here) == []
    code, _, err = run(here, "requests", "list", quick=False, importtime=True)
    assert code == 0 and "pydantic" in imported(err)


# -- the table ---------------------------------------------------------------------------------


def test_tables_never_cut_a_cell_and_wrap_only_to_a_given_width() -> None:
    rows = [["a" * 50, "x"], ["b", "y" * 70]]
    whole = render_table(["name", "value"], rows)
    assert "a" * 50 in whole and "y" * 70 in whole
    narrow = render_table(["name", "value"], rows, width=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    assert "".join(narrow.split()).count("y") == 70  # wrapped, not cut
    lines = render_table(["h"], [["1"], [None]]).split("\n")
    assert lines[0] == " h" and set(lines[1]) == {"━"} and lines[2] == " 1" and lines[3] == ""


# -- the snapshot against the full validation, in process ---------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ROLES = st.sampled_from(["viewer", "developer", "approver", "admin", "root", ""])
_VALUES = st.one_of(st.integers(-5, 100_000), st.text(max_size=8), st.booleans())


@st.composite
def _config_texts(draw: st.DrawFn) -> str:
    lines = ["[core]"]
    if draw(st.booleans()):
        lines.append(f"stale_after_seconds = {draw(st.integers(-10, 100_000))}")
    if draw(st.booleans()):
        lines.append(f"default_role = {json.dumps(draw(_ROLES))}")
    if draw(st.booleans()):
        lines.append(f"unknown_key = {json.dumps(draw(_VALUES))}")
    for name in draw(st.lists(st.sampled_from(["alice", "bob", "c-d"]), max_size=3, unique=True)):
        lines += [f"[users.{name}]", f"role = {json.dumps(draw(_ROLES))}"]
    if draw(st.booleans()):
        lines += ["[plugins.store_embedded]", f"busy_timeout = {json.dumps(draw(_VALUES))}"]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_config_texts())
def test_a_snapshot_exists_only_for_a_valid_configuration_and_holds_what_was_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    from tfpilot_core.cli import startup_cache as quick
    from tfpilot_core.cli.app import App
    from tfpilot_core.errors import TfpilotError
    from tfpilot_core.plugins import load_plugins

    case = tmp_path / f"case-{abs(hash(text))}"
    case.mkdir(exist_ok=True)
    (case / "tfpilot.toml").write_text(text)
    monkeypatch.chdir(case)
    monkeypatch.setenv("HOME", str(case))
    monkeypatch.setenv("XDG_CACHE_HOME", str(case / "cache"))
    monkeypatch.setenv("TFPILOT_HOME", str(case / "home"))
    monkeypatch.delenv("TFPILOT_NO_CACHE", raising=False)
    quick.enable()
    try:
        state = App()
        state.loaded = load_plugins()
        try:
            state.host  # validates, then writes the snapshot  # noqa: B018
            valid = True
        except TfpilotError:
            valid = False
        fresh = App()
        fresh.loaded = state.loaded
        snap = quick.snapshot(fresh)
        if not valid:
            assert snap is None
            return
        assert snap is not None
        config = state.config
        assert snap.core == config.core.model_dump(mode="json")
        assert snap.users == {k: v.model_dump(mode="json") for k, v in config.users.items()}
        assert snap.selected["store"] == quick.CORE_STORE_PLUGIN
        # The snapshot follows the file: an edited text is a miss until validated again.
        (case / "tfpilot.toml").write_text(text + "\n# edited\n")
        assert quick.snapshot(fresh) is None
    finally:
        quick.enable(False)
