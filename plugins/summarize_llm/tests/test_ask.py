"""``tfpilot ask`` with a model: litellm tool calling against the fake OpenAI-compatible server,
the typed query as the only tool, every tool call validated into a Query and run scoped by the
asker's read grants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfpilot_core.ask import ask
from tfpilot_core.platform import Platform
from tfpilot_core.query import Query

from .fake_llm import KEY, FakeLLM

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "query"))

from query_world import CONFIG, IDS, NOW, seed

#: A question no offline rule reads.
ODD = "show me whatever went sideways over in production land"


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Platform]:
    """``make(url, enabled=True, timeout=30)``: the seeded query world with the model configured."""
    monkeypatch.setenv("LLM_TEST_KEY", KEY)
    monkeypatch.setenv("HOME", str(tmp_path))

    built: list[int] = []

    def build(url: str, *, enabled: bool = True, timeout: float = 30) -> Platform:
        built.append(1)
        home = tmp_path / f"home{len(built)}"  # a fresh store per platform
        home.mkdir()
        config = home / "tfpilot.toml"
        config.write_text(
            CONFIG
            + f'[plugins.summarize_llm]\nmodel = "openai/test-model"\napi_base = "{url}"\n'
            + f'api_key = {{ "$env" = "LLM_TEST_KEY" }}\ntimeout_seconds = {timeout}\n'
            + f"ask = {'true' if enabled else 'false'}\n"
        )
        platform = Platform.from_config(
            config, environ={"TFPILOT_HOME": str(home), "TFPILOT_CONFIG": str(config)}
        )
        seed(platform)
        return platform

    return build


def call(arguments: Any, name: str = "query") -> dict[str, str]:
    """One tool call; ``arguments`` as given when a string (to send malformed JSON)."""
    return {
        "name": name,
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
    }


def test_a_good_tool_call_runs_as_a_query(server: FakeLLM, make: Callable[..., Platform]) -> None:
    platform = make(server.url)
    server.tool_calls = [call({"environments": ["prod"], "drift": "drifted"})]
    answer = ask(platform, "admin", ODD, now=NOW)
    assert answer.answered is True, answer.text
    assert answer.answered_by == "llm"
    assert answer.query == {"environments": ["prod"], "drift": "drifted"}
    assert answer.result is not None
    assert {r.id for r in answer.result.rows} == {IDS[4], IDS[5]}
    data = answer.to_dict()
    assert data["query"] == answer.query and data["result"]["count"] == 2
    # The request was a real tool-calling request: the Query schema as the only tool, forced.
    body = json.loads(server.bodies[-1])
    assert [t["function"]["name"] for t in body["tools"]] == ["query"]
    assert body["tools"][0]["function"]["parameters"] == Query.model_json_schema()
    assert body["tool_choice"] == {"type": "function", "function": {"name": "query"}}
    assert ODD in server.prompts()
    # Nothing of the store reaches the model: no request id is in any prompt.
    assert not any(rid in server.prompts() for rid in IDS.values())


def test_an_aggregation_from_the_model(server: FakeLLM, make: Callable[..., Platform]) -> None:
    platform = make(server.url)
    server.tool_calls = [call({"aggregate": "count", "group_by": "environment"})]
    answer = ask(platform, "admin", "give me a breakdown across envs pls", now=NOW)
    assert answer.answered and answer.result is not None
    assert {g.key: g.count for g in answer.result.groups} == {"dev": 4, "stage": 3, "prod": 5}


def test_a_scoped_viewer_never_sees_other_projects_through_the_model(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    # vera reads project shop only: the model asking for everything in prod gives shop's.
    server.tool_calls = [call({"environments": ["prod"]})]
    answer = ask(platform, "vera", ODD, now=NOW)
    assert answer.answered and answer.result is not None
    assert {r.id for r in answer.result.rows} == {IDS[4], IDS[11]}
    assert {r.project for r in answer.result.rows} == {"shop"}
    # Asking explicitly for another project finds nothing, and counts nothing.
    server.tool_calls = [call({"projects": ["billing"], "aggregate": "count"})]
    answer = ask(platform, "vera", ODD, now=NOW)
    assert answer.answered and answer.result is not None and answer.result.count == 0
    server.tool_calls = [call({"aggregate": "sum_cost", "group_by": "project"})]
    answer = ask(platform, "vera", ODD, now=NOW)
    assert answer.result is not None
    assert [g.key for g in answer.result.groups] == ["shop"]


@pytest.mark.parametrize(
    "calls",
    [
        pytest.param(
            [call({"environments": ["prod"], "sql": "DROP TABLE requests"})], id="unknown-field"
        ),
        pytest.param(
            [call({"cost": [{"op": "gt", "amount": 1, "currency": "EUR"}]})],
            id="unknown-nested-field",
        ),
        pytest.param([call({"drift": "sideways"})], id="bad-enum"),
        pytest.param([call({"limit": -3})], id="bad-limit"),
        pytest.param([call({"environments": "prod"})], id="wrong-type"),
        pytest.param([call('{"environments": ["prod"')], id="malformed-json"),
        pytest.param([call('["prod"]')], id="not-an-object"),
        pytest.param([call({"environments": ["prod"]}, name="run_sql")], id="another-tool"),
        pytest.param([call({}), call({"aggregate": "count"})], id="two-calls"),
        pytest.param([], id="no-call"),
    ],
)
def test_refused_tool_calls_cannot_answer(
    server: FakeLLM, make: Callable[..., Platform], calls: list[dict[str, str]]
) -> None:
    platform = make(server.url)
    server.tool_calls = calls
    answer = ask(platform, "admin", ODD, now=NOW)
    assert answer.answered is False
    assert answer.query is None and answer.result is None
    assert "cannot answer" in answer.text and len(answer.suggestions) >= 5
    assert len(server.bodies) == 1  # the model was asked, and its answer refused


@pytest.mark.parametrize("mode", ["500", "429", "hang"])
def test_errors_and_timeouts_cannot_answer(
    server: FakeLLM, make: Callable[..., Platform], mode: str
) -> None:
    platform = make(server.url, timeout=1)
    server.mode = mode
    server.tool_calls = [call({"aggregate": "count"})]
    answer = ask(platform, "admin", ODD, now=NOW)
    assert answer.answered is False and "cannot answer" in answer.text
    assert answer.suggestions


def test_the_parser_answers_first_and_ask_false_means_no_model(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    platform = make(server.url)
    server.tool_calls = [call({"aggregate": "count"})]
    answer = ask(platform, "admin", "how many requests are in prod?", now=NOW)
    assert answer.answered and answer.answered_by == "parser"
    assert server.bodies == []  # the model is never asked what the parser answers
    platform = make(server.url, enabled=False)
    answer = ask(platform, "admin", ODD, now=NOW)
    assert answer.answered is False and server.bodies == []


def test_the_ask_command_shows_the_query_the_model_made(
    server: FakeLLM, make: Callable[..., Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tfpilot_core.cli import cli
    from tfpilot_core.cli.app import App

    platform = make(server.url)
    server.tool_calls = [call({"environments": ["prod"], "drift": "drifted"})]
    monkeypatch.setenv("TFPILOT_USER", "pat")  # viewer of billing in prod
    state = App()
    state._platform = platform
    out = CliRunner().invoke(cli, ["--json", "ask", ODD], obj=state)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["query"] == {"environments": ["prod"], "drift": "drifted"}
    assert data["answered_by"] == "llm"
    assert [r["id"] for r in data["result"]["rows"]] == [IDS[5]]
    state = App()
    state._platform = platform
    out = CliRunner().invoke(cli, ["ask", ODD], obj=state)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("query: ") and IDS[5] in out.stdout
    server.tool_calls = [call({"nope": 1})]
    state = App()
    state._platform = platform
    out = CliRunner().invoke(cli, ["ask", ODD], obj=state)
    assert out.exit_code == 3 and "cannot answer" in out.stdout


HELP = """
import json, sys, contextlib, io
from tfpilot_core.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main({argv!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"litellm": "litellm" in sys.modules, "code": code}}))
"""


def test_help_never_imports_litellm(tmp_path: Path) -> None:
    config = tmp_path / "tfpilot.toml"
    config.write_text(
        CONFIG + '[plugins.summarize_llm]\nmodel = "openai/test-model"\nask = true\nassist = true\n'
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "TFPILOT_HOME": str(tmp_path / "home"),
        "TFPILOT_CONFIG": str(config),
    }
    for argv in (["--help"], ["ask", "--help"], ["requests", "new", "--help"]):
        result = subprocess.run(
            [sys.executable, "-c", HELP.format(argv=argv)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        assert seen["code"] in (0, None) and seen["litellm"] is False, argv


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from([*Query.model_fields, "sql", "where", "filter"])


@settings(max_examples=300, deadline=None)
@given(
    arguments=st.dictionaries(_keys, _json, max_size=5)
    | _json.map(json.dumps)
    | st.text(max_size=40)
)
def test_any_tool_call_is_a_valid_query_or_refused(arguments: Any) -> None:
    """Whatever a model sends as arguments, the result is a validated Query or a refusal."""
    from types import SimpleNamespace

    from tfpilot_summarize_llm.ask import ToolCallRefused, query_from_response

    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    message = SimpleNamespace(
        tool_calls=[SimpleNamespace(function=SimpleNamespace(name="query", arguments=raw))]
    )
    try:
        query = query_from_response(message)
    except ToolCallRefused:
        return
    assert isinstance(query, Query)
    assert set(json.loads(raw)) <= set(Query.model_fields)


#: The question table's other half (issue 28): questions the offline parser refuses, answered
#: through tool calling. (question, the query the model calls the tool with, the exact answer)
TOOL_TABLE: list[tuple[str, dict[str, Any], str]] = [
    (
        "who signed off on the shop bucket in prod?",
        {"projects": ["shop"], "environments": ["prod"], "modules": ["aws/s3-bucket"],
         "who": "approvers"},
        f"{IDS[4]}: approved by dave.",
    ),
    (
        "which of carol's approvals went live this week?",
        {"approvers": ["carol"], "applied_since": "2026-06-08T00:00:00Z"},
        f"1 request matches: {IDS[1]}",
    ),
    (
        "who pushed the billing role to production?",
        {"projects": ["billing"], "environments": ["prod"], "modules": ["aws/iam-role"],
         "who": "appliers"},
        f"{IDS[5]}: applied by bob.",
    ),
    (
        "how many things did bob ship last month?",
        {"appliers": ["bob"], "applied_since": "2026-05-11T12:00:00Z", "aggregate": "count"},
        "2 requests match.",
    ),
    (
        "anything that got rolled out in may?",
        {"applied_since": "2026-05-01T00:00:00Z", "applied_before": "2026-06-01T00:00:00Z"},
        f"3 requests match: {IDS[3]}, {IDS[5]}, {IDS[4]}",
    ),
    (
        "whose queue in stage is still waiting to go out?",
        {"environments": ["stage"], "modules": ["aws/sqs-queue"], "statuses": ["approved"],
         "who": "authors"},
        f"{IDS[8]}: created by dave.",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("question", "query", "expected"), TOOL_TABLE, ids=[t[0] for t in TOOL_TABLE]
)
def test_the_question_table_through_tool_calling(
    server: FakeLLM,
    make: Callable[..., Platform],
    question: str,
    query: dict[str, Any],
    expected: str,
) -> None:
    from tfpilot_core.ask import parse_question

    # The offline parser refuses it (it never guesses) ...
    assert not parse_question(question, now=NOW, actor="admin").understood
    # ... and the model's tool call, validated into a Query, answers it exactly.
    platform = make(server.url)
    server.tool_calls = [call(query)]
    answer = ask(platform, "admin", question, now=NOW)
    assert answer.answered is True and answer.answered_by == "llm", answer.text
    assert answer.query == query
    assert answer.text == expected


def test_a_streamed_answer_gives_its_pieces_as_they_come_and_the_same_query(
    server: FakeLLM, make: Callable[..., Platform]
) -> None:
    """With ``on_text`` the model is asked with ``stream=True`` (server-sent events); the
    pieces are the tool call's arguments, and the rebuilt call is checked as a whole one."""
    from tfpilot_summarize_llm.ask import LLMQuestionModel

    platform = make(server.url)
    arguments = json.dumps({"environments": ["prod"], "drift": "drifted"})
    server.tool_calls = [call(arguments)]
    model = next(m for _, m in platform.kernel.host.question_models())
    assert isinstance(model, LLMQuestionModel)
    pieces: list[str] = []
    fields = model.to_query(
        ODD, now=NOW, actor="admin", environments=["dev", "prod"], modules=[], on_text=pieces.append
    )
    assert fields is not None
    assert Query.model_validate(fields).described() == {
        "environments": ["prod"],
        "drift": "drifted",
    }
    assert server.streamed == 1 and json.loads(server.bodies[-1])["stream"] is True
    assert len(pieces) > 2 and "".join(pieces) == arguments
    # A refused call is refused streamed too.
    server.tool_calls = [call({"drift": "sideways"})]
    assert (
        model.to_query(
            ODD, now=NOW, actor="admin", environments=["prod"], modules=[], on_text=pieces.append
        )
        is None
    )


def test_any_actor_through_tool_calling(server: FakeLLM, make: Callable[..., Platform]) -> None:
    # "involved in" is no form the offline parser reads: the model maps it to the actors filter
    # (issue 28: any actor of an event, in a window), validated and run like any query.
    platform = make(server.url)
    server.tool_calls = [call({"actors": ["carol"], "acted_since": "2026-06-08T00:00:00Z"})]
    answer = ask(platform, "admin", "anything carol was involved in lately", now=NOW)
    assert answer.answered is True and answer.answered_by == "llm", answer.text
    assert answer.query == {"actors": ["carol"], "acted_since": "2026-06-08T00:00:00Z"}
    assert answer.result is not None
    assert [r.id for r in answer.result.rows] == [IDS[1]]
