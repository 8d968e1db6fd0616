"""The workflows' own install steps, as GitHub runs them: a broken install line fails the job,
and a plugin the configuration selects but the install set lacks stops the job (fail closed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from actions_local import LocalActions
from gh_support import TOKEN

from tfpilot_core.scaffold.github import Options, files_for

pytestmark = pytest.mark.slow


def _actions(tmp_path: Path, install: dict[str, Path], plugins: tuple[str, ...]) -> LocalActions:
    workspace = tmp_path / "infra"
    options = Options(
        repository="acme/infra",
        ref="0123456789abcdef0123456789abcdef01234567",
        install_from="wheelhouse",
        wheelhouse=str(install["wheelhouse"]),
        plugins=plugins,
    )
    for relative, text in files_for(options).items():
        if relative.startswith(".github/"):
            (workspace / relative).parent.mkdir(parents=True, exist_ok=True)
            (workspace / relative).write_text(text)
    return LocalActions(
        workspace=workspace,
        artifacts=tmp_path / "artifacts",
        token=TOKEN,
        vars={"TFPILOT_PLAN_ROLE": "arn:aws:iam::123456789012:role/p", "TFPILOT_AWS_REGION": "x"},
        python_bin=install["bin"],
    )


def test_a_broken_install_line_fails_the_job(
    tmp_path: Path, actions_install: dict[str, Path]
) -> None:
    actions = _actions(tmp_path, actions_install, ("store_s3", "runner_github", "no_such_one"))
    with pytest.raises(AssertionError) as caught:
        actions.run_job("tfpilot-cleanup.yml", "sync", run_id="1", home=tmp_path / "job")
    assert "Install tfpilot failed" in str(caught.value)
    assert "tfpilot-no-such-one" in str(caught.value)


def test_a_selected_plugin_missing_from_the_install_set_stops_the_job(
    tmp_path: Path, actions_install: dict[str, Path]
) -> None:
    actions = _actions(tmp_path, actions_install, ("store_s3", "runner_github"))
    (actions.workspace / "tfpilot.toml").write_text('[core]\nnotifiers = ["teams"]\n')
    with pytest.raises(AssertionError) as caught:
        actions.run_job("tfpilot-cleanup.yml", "sync", run_id="2", home=tmp_path / "job")
    message = str(caught.value)
    assert "Every selected plugin is installed failed" in message
    assert "the notifier 'teams'" in message and "store_s3 runner_github" in message
