"""The ``tfpilot_register_suggesters`` hook (through the core's facade, isolated) and the
``tfpilot suggest`` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from tfpilot_core import hookimpl
from tfpilot_core.platform import Platform
from tfpilot_core.suggestions import Proposal, SuggestionContext
from tfpilot_core.suggestions.service import collect

Make = Callable[..., Platform]


class _Cheaper:
    id = "plugin-smaller"

    def suggest(self, ctx: SuggestionContext) -> Iterable[Proposal]:
        if ctx.inputs.get("size") == "medium":
            yield Proposal("Use small", "it is a test", "cheaper", {"size": "small"})


def test_hook_tfpilot_register_suggesters(make_platform: Make) -> None:
    seen: list[Any] = []

    @hookimpl(optionalhook=True)
    def tfpilot_register_suggesters(host: Any) -> list[Any]:
        seen.append(host)
        return [_Cheaper()]

    @hookimpl(optionalhook=True)
    def broken(host: Any) -> list[Any]:
        raise RuntimeError("plugin exploded")

    broken.__name__ = "tfpilot_register_suggesters"
    plugins = [
        ("good", SimpleNamespace(tfpilot_register_suggesters=tfpilot_register_suggesters)),
        ("broken", SimpleNamespace(tfpilot_register_suggesters=broken)),
    ]
    platform = make_platform(extra_plugins=plugins)
    found = collect(platform.host)
    assert [p for p, s in found if s.id == "plugin-smaller"] == ["good"]
    assert seen == [platform.host]
    # Isolated: the broken plugin is recorded and skipped.
    assert any(f.plugin == "broken" for f in platform.host.failures)
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "medium"},
    )
    report = platform.suggestions.for_request("alice", request.id)
    sources = {s.id: s.source for s in report.suggestions}
    # The built-in rule and the plugin propose the same patch under their own ids.
    assert sources == {"smaller-size": "rules", "plugin-smaller": "good"}


def _cli(args: list[str], home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from tfpilot_core.cli import main

    capsys.readouterr()  # what came before (log lines of the set-up) is not the command's
    # The CLI configures structlog to write to this test's captured stderr: put it back after,
    # or later tests in this process would log to a closed file.
    previous = structlog.get_config()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        structlog.configure(**previous)
    return code, capsys.readouterr().out


def test_suggest_command_lists_and_applies(
    make_platform: Make,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform = make_platform()
    home = tmp_path / "home"
    monkeypatch.setenv("TFPILOT_HOME", str(home))
    monkeypatch.setenv("TFPILOT_CONFIG", str(home / "tfpilot.toml"))
    monkeypatch.setenv("TFPILOT_USER", "alice")
    request = platform.create(
        "alice",
        module="sandbox/instance",
        environment="dev",
        project="shop",
        inputs={"name": "web", "size": "large"},
    )
    code, out = _cli(["suggest", request.id, "--json"], home, capsys)
    assert code == 0, out
    data = json.loads(out)
    assert data["request_id"] == request.id and data["revision"] == 1
    [suggestion] = data["suggestions"]
    assert suggestion["id"] == "smaller-size" and suggestion["patch"] == {"size": "small"}
    assert {
        "rule_id": "size.allowed",
        "level": "mandatory",
        "address": "inputs.size",
        "stage": "request",
    } in suggestion["clears"]

    code, out = _cli(["suggest", request.id], home, capsys)
    assert code == 0 and "smaller-size" in out and "clears   mandatory size.allowed" in out

    code, out = _cli(["suggest", "apply", request.id, "nope"], home, capsys)
    assert code == 7  # not found, naming the ids there are

    code, out = _cli(["--json", "suggest", "apply", request.id, "smaller-size"], home, capsys)
    assert code == 0, out
    shown = json.loads(out)
    assert shown["revision"] == 2 and shown["inputs"]["size"] == "small"

    code, _ = _cli(["suggest", "apply", request.id], home, capsys)
    assert code == 2  # usage


def test_rejected_proposals_are_listed_in_the_text_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tfpilot_core.cli.suggest import _render
    from tfpilot_core.suggestions.service import Rejected, SuggestionReport

    report = SuggestionReport(
        request_id="req_dev_bucket_abc234",
        revision=1,
        rejected=[
            Rejected("retag", "llm", "offered as cheaper, but its cost effect is +0.00 USD/month")
        ],
    )
    _render(report)
    out = capsys.readouterr().out
    assert "rejected (1): proposals that failed a check" in out
    assert "retag  [llm]  offered as cheaper, but its cost effect is +0.00 USD/month" in out
