"""--inputs documents are parsed with limits: no RecursionError, no alias bomb (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.cli import cli
from tfpilot_core.cli.app import App
from tfpilot_core.errors import ExitCode, ValidationError
from tfpilot_core.limits import MAX_DOCUMENT_DEPTH, load_document

#: 278 bytes: eight levels of nine aliases each, 9**8 (43 million) strings once walked.
ALIAS_BOMB = "a: &a [l,l,l,l,l,l,l,l,l]\n" + "".join(
    f"{name}: &{name} [{','.join(['*' + previous] * 9)}]\n"
    for previous, name in zip("abcdefg", "bcdefgh", strict=True)
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text('[users.dev]\nrole = "developer"\n')
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.delenv("TFPILOT_USER", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def create_with(inputs_file: Path) -> click.testing.Result:
    return CliRunner().invoke(
        cli,
        ["--as", "dev", "requests", "create", "--module", "sandbox/bucket", "--env", "dev",
         "--project", "web", "--inputs", str(inputs_file)],
        obj=App(),
    )  # fmt: skip


def test_a_5000_deep_json_inputs_file_exits_3_naming_file_and_rule(
    home: Path, tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"name": ' + "[" * 5000 + "]" * 5000 + "}")
    result = create_with(deep)
    assert result.exit_code == ExitCode.VALIDATION, (result.exit_code, result.output)
    assert "deep.json" in result.output and "max_depth" in result.output, result.output
    assert f"nested more than {MAX_DOCUMENT_DEPTH} levels" in result.output


def test_a_289_byte_yaml_alias_bomb_exits_3_naming_file_and_rule(
    home: Path, tmp_path: Path
) -> None:
    assert len(ALIAS_BOMB.encode()) < 289
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    result = create_with(bomb)
    assert result.exit_code == ExitCode.VALIDATION, (result.exit_code, result.output)
    assert "bomb.yaml" in result.output and "max_nodes" in result.output, result.output


@pytest.mark.parametrize("levels", [300, 5000])
def test_a_deep_yaml_inputs_file_exits_3(home: Path, tmp_path: Path, levels: int) -> None:
    deep = tmp_path / "deep.yml"
    deep.write_text("name: " + "[" * levels + "]" * levels + "\n")
    result = create_with(deep)
    assert result.exit_code == ExitCode.VALIDATION, (result.exit_code, result.output)
    # Past 1000 levels libyaml's own limit speaks first; either way the file and a depth rule.
    assert "deep.yml" in result.output and "depth" in result.output, result.output


def test_yaml_aliases_within_the_limits_still_load() -> None:
    text = "base: &b {size: 1, tags: [a, b]}\ncopy: *b\n"
    assert load_document(text, source="x.yaml", fmt="yaml") == {
        "base": {"size": 1, "tags": ["a", "b"]},
        "copy": {"size": 1, "tags": ["a", "b"]},
    }


def test_an_alias_deepens_the_document_it_is_used_in() -> None:
    text = "a: &a [[[1]]]\nb: [[*a]]\n"  # b: 2 levels around a (3): 6 with the top object
    assert load_document(text, source="x.yaml", fmt="yaml", max_depth=6)
    with pytest.raises(ValidationError, match="max_depth"):
        load_document(text, source="x.yaml", fmt="yaml", max_depth=5)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(json_values)
def test_json_within_the_limits_parses_as_json_does(value: object) -> None:
    text = json.dumps(value)
    assert load_document(text, source="x.json", fmt="json") == json.loads(text)


@given(json_values)
def test_yaml_within_the_limits_parses_as_the_safe_loader_does(value: object) -> None:
    text = yaml.safe_dump(value)
    assert load_document(text, source="x.yaml", fmt="yaml") == yaml.safe_load(text)
