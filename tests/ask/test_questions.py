# ruff: noqa: E501  (the table reads best one case to a line)
"""The question table: each question, the structured query it must become, and the answer it must
get on the seeded world (``tests/query/query_world.py``), offline."""

from __future__ import annotations

from typing import Any

import pytest
from query_world import IDS, MODULES, NOW

from tfpilot_core.ask import ask, parse_question
from tfpilot_core.ask.answer import render_answer
from tfpilot_core.platform import Platform
from tfpilot_core.query import Query

WEEK = "2026-06-08T00:00:00Z"
TODAY = "2026-06-10T00:00:00Z"
DAYS7 = "2026-06-03T12:00:00Z"
DAYS30 = "2026-05-11T12:00:00Z"
OPEN = ["request_created", "planning", "plan_ready", "approved", "applying"]
PROJECTS = ("shop", "billing", "search")

C = "count"

#: (question, expected query (non-default fields), expected answer, actor)
#: The answer is a count, a list of request numbers in order, or a dict: group -> count/cost.
TABLE: list[tuple[str, dict[str, Any], Any]] = [
    ("how many requests are in dev?", {"environments": ["dev"], "aggregate": C}, 4),
    ("which prod requests drifted this week?", {"environments": ["prod"], "drifted_since": WEEK}, [4]),
    ("list failed requests in project billing", {"statuses": ["failed"], "projects": ["billing"]}, [7]),
    ("what is the total monthly cost by environment?", {"aggregate": "sum_cost", "group_by": "environment"}, {"prod": "485", "stage": "65", "dev": "10"}),
    ("requests costing more than $100 a month", {"cost": [{"op": "gt", "amount": "100"}]}, [6, 4]),
    ("which requests are awaiting approval?", {"statuses": ["plan_ready"]}, [6]),
    ("top 5 most expensive applied requests", {"statuses": ["applied"], "sort": "-cost", "limit": 5}, [4, 3, 1, 11, 5]),
    ("requests created by alice in the last 7 days", {"authors": ["alice"], "created_since": DAYS7}, [10, 6, 11, 1]),
    ("how many requests per module?", {"aggregate": C, "group_by": "module"}, {"aws/s3-bucket": 5, "aws/iam-role": 3, "aws/sqs-queue": 3, "sandbox/bucket": 1}),
    ("requests with a policy_overridden event", {"events": [{"kind": "policy_overridden"}]}, [4]),
    ("how many applied requests are there?", {"statuses": ["applied"], "aggregate": C}, 6),
    ("show me destroyed requests", {"statuses": ["destroyed"]}, [9]),
    ("which requests have drift?", {"drift": "drifted"}, [3, 5, 4]),
    ("requests without drift", {"drift": "none"}, [1]),
    ("how many requests were never checked for drift?", {"drift": "unchecked", "aggregate": C}, 7),
    ("requests with drift check errors", {"drift": "error"}, [12]),
    ("my requests", {"authors": ["alice"]}, [10, 6, 11, 1, 3]),
    ("requests by bob", {"authors": ["bob"]}, [12, 2, 5]),
    ("how many requests were created by carol?", {"authors": ["carol"], "aggregate": C}, 2),
    ("bob's requests in prod", {"authors": ["bob"], "environments": ["prod"]}, [5]),
    ("requests created this week", {"created_since": WEEK}, [10, 6, 11, 1]),
    ("requests created today", {"created_since": TODAY}, [10, 6]),
    ("requests created yesterday", {"created_since": "2026-06-09T00:00:00Z", "created_before": TODAY}, [11, 1]),
    ("requests applied this week", {"applied_since": WEEK}, [11, 1]),
    ("requests applied in the last 30 days", {"applied_since": DAYS30}, [11, 1, 12, 3, 5]),
    ("which requests drifted in the last 30 days?", {"drifted_since": DAYS30}, [3, 5, 4]),
    ("total cost of prod requests", {"environments": ["prod"], "aggregate": "sum_cost"}, "485"),
    ("how much do we spend per month on project shop?", {"projects": ["shop"], "aggregate": "sum_cost"}, "160"),
    ("monthly cost by project", {"aggregate": "sum_cost", "group_by": "project"}, {"billing": "300", "shop": "160", "search": "100"}),
    ("3 cheapest requests", {"sort": "cost", "limit": 3}, [5, 11, 1]),
    ("requests whose cost increased by more than 50", {"cost": [{"measure": "delta", "op": "gt", "amount": "50"}]}, [6]),
    ("requests where the cost went down by more than 4", {"cost": [{"measure": "delta", "op": "lt", "amount": "-4"}]}, [8]),
    ("requests cheaper than $20 a month", {"cost": [{"op": "lt", "amount": "20"}]}, [11, 1, 5]),
    ("how many requests in stage cost at least 25 dollars?", {"environments": ["stage"], "cost": [{"op": "gte", "amount": "25"}], "aggregate": C}, 2),
    ("count requests per status", {"aggregate": C, "group_by": "status"}, {"applied": 6, "request_created": 2, "approved": 1, "destroyed": 1, "failed": 1, "plan_ready": 1}),
    ("number of requests by author", {"aggregate": C, "group_by": "author"}, {"alice": 5, "bob": 3, "carol": 2, "dave": 2}),
    ("list the 2 newest requests", {"limit": 2}, [10, 6]),
    ("oldest 2 requests", {"sort": "created", "limit": 2}, [9, 4]),
    ("requests with failed notifications", {"events": [{"kind": "notification_failed"}]}, [6]),
    ("which requests had a plan_failed event this week?", {"events": [{"kind": "plan_failed", "since": WEEK}]}, [7]),
    ("open requests in billing project", {"statuses": OPEN, "projects": ["billing"]}, [6]),
    ("new requests in dev", {"statuses": ["request_created"], "environments": ["dev"]}, [10, 2]),
    ("approved requests", {"statuses": ["approved"]}, [8]),
    ("s3-bucket requests in prod", {"modules": ["aws/s3-bucket"], "environments": ["prod"]}, [4, 9]),
    ("how many sqs-queue requests are there?", {"modules": ["aws/sqs-queue"], "aggregate": C}, 3),
    ("how many requests are in production or staging?", {"environments": ["prod", "stage"], "aggregate": C}, 8),
    ("most recently applied requests", {"statuses": ["applied"], "sort": "-applied"}, [11, 1, 12, 3, 5, 4]),
    ("prod requests created before 2026-05-10", {"environments": ["prod"], "created_before": "2026-05-10T00:00:00Z"}, [4, 9]),
    ("requests older than 30 days", {"created_before": DAYS30}, [4, 9]),
    ("requests with drift in project shop", {"drift": "drifted", "projects": ["shop"]}, [3, 4]),
    ("How many requests are there?", {"aggregate": C}, 12),
    ("which module aws/iam-role requests failed?", {"modules": ["aws/iam-role"], "statuses": ["failed"]}, [7]),
    # Who and when (issue 28): approver, applier, planner; closed windows on any time.
    ("requests approved by carol", {"approvers": ["carol"]}, [1, 8, 12, 9]),
    ("what did alice apply yesterday?", {"appliers": ["alice"], "applied_since": "2026-06-09T00:00:00Z", "applied_before": TODAY}, [1]),
    ("requests applied by alice this week", {"appliers": ["alice"], "applied_since": WEEK}, [11, 1]),
    ("how many requests did dave approve?", {"approvers": ["dave"], "aggregate": C}, 2),
    ("requests planned by carol", {"planners": ["carol"]}, [7, 4]),
    ("requests applied between 2026-05-01 and 2026-05-31", {"applied_since": "2026-05-01T00:00:00Z", "applied_before": "2026-06-01T00:00:00Z"}, [3, 5, 4]),
    ("prod requests applied before 2026-06-01", {"environments": ["prod"], "applied_before": "2026-06-01T00:00:00Z"}, [5, 4, 9]),
    ("which requests drifted before 2026-06-01?", {"drifted_before": "2026-06-01T00:00:00Z"}, [5]),
    ("requests applied by bob", {"appliers": ["bob"]}, [12, 5]),
    ("how many requests were approved by carol in prod?", {"approvers": ["carol"], "environments": ["prod"], "aggregate": C}, 1),
    ("requests created between 2026-06-01 and 2026-06-05", {"created_since": "2026-06-01T00:00:00Z", "created_before": "2026-06-06T00:00:00Z"}, [8, 7, 12, 2]),
    ("requests created after 2026-06-09", {"created_since": "2026-06-09T00:00:00Z"}, [10, 6, 11, 1]),
    ("what did bob apply in the last 30 days?", {"appliers": ["bob"], "applied_since": DAYS30}, [12, 5]),
    ("requests deployed by dave", {"appliers": ["dave"]}, [9]),
    ("how much does project shop cost?", {"projects": ["shop"], "aggregate": "sum_cost"}, "160"),
    # Bare project names that exist (issue 28: "total monthly cost of shop in prod").
    ("total monthly cost of shop in prod", {"projects": ["shop"], "environments": ["prod"], "aggregate": "sum_cost"}, "125"),
    ("how many billing requests failed?", {"projects": ["billing"], "statuses": ["failed"], "aggregate": C}, 1),
    # Per-request people: the answer names them (expected: ("text", the answer's sentence)).
    (f"who approved {IDS[4]}?", {"ids": [IDS[4]], "who": "approvers"}, ("text", f"{IDS[4]}: approved by dave.")),
    (f"who applied {IDS[1]}", {"ids": [IDS[1]], "who": "appliers"}, ("text", f"{IDS[1]}: applied by alice.")),
    (f"who approved {IDS[6]}?", {"ids": [IDS[6]], "who": "approvers"}, ("text", f"{IDS[6]}: not approved.")),
    (f"who created {IDS[2]}?", {"ids": [IDS[2]], "who": "authors"}, ("text", f"{IDS[2]}: created by bob.")),
    ("who applied prod requests this week?", {"environments": ["prod"], "applied_since": WEEK, "who": "appliers"}, ("text", f"{IDS[11]}: applied by alice.")),
    ("who planned the failed requests?", {"statuses": ["failed"], "who": "planners"}, ("text", f"{IDS[7]}: planned by carol.")),
    # Any actor of an event (issue 28): created, revised, planned, approved, applied, checked.
    ("what did carol do this week?", {"actors": ["carol"], "acted_since": WEEK}, [1]),
    ("what did alice do today?", {"actors": ["alice"], "acted_since": TODAY}, [10, 6, 11]),
    ("what has dave done in the last 30 days?", {"actors": ["dave"], "acted_since": DAYS30}, [8, 3]),
    ("requests touched by dave", {"actors": ["dave"]}, [8, 3, 4, 9]),
    ("requests worked on by alice this week", {"actors": ["alice"], "acted_since": WEEK}, [10, 6, 11, 1]),
    ("how many requests did carol touch?", {"actors": ["carol"], "aggregate": C}, 6),
    ("which prod requests did bob touch?", {"environments": ["prod"], "actors": ["bob"]}, [11, 5]),
    # Bare user names that exist in the configuration, before what they did.
    ("requests bob touched", {"actors": ["bob"]}, [11, 12, 2, 5]),
    ("requests carol touched yesterday", {"actors": ["carol"], "acted_since": "2026-06-09T00:00:00Z", "acted_before": TODAY}, [1]),
    ("requests alice changed between 2026-05-15 and 2026-05-21", {"actors": ["alice"], "acted_since": "2026-05-15T00:00:00Z", "acted_before": "2026-05-22T00:00:00Z"}, [3, 5]),
    ("billing requests carol worked on", {"projects": ["billing"], "actors": ["carol"]}, [7, 12]),
    ("which stage requests has dave handled?", {"environments": ["stage"], "actors": ["dave"]}, [8, 3]),
    ("requests alice approved", {"approvers": ["alice"]}, [5]),
    ("what alice applied yesterday", {"appliers": ["alice"], "applied_since": "2026-06-09T00:00:00Z", "applied_before": TODAY}, [1]),
    ("requests carol created", {"authors": ["carol"]}, [7, 4]),
    ("requests dave planned", {"planners": ["dave"]}, [8, 9]),
    ("requests bob deployed", {"appliers": ["bob"]}, [12, 5]),
]  # fmt: skip

#: The users of the table's configuration: bare names are read for these only.
USERS = ("admin", "alice", "bob", "carol", "dave")


def check_answer(platform: Platform, actor: str, query: Query, expected: Any) -> None:
    result = platform.query(actor, query)
    if isinstance(expected, int):
        assert result.count == expected
    elif isinstance(expected, list):
        assert [r.id for r in result.rows] == [IDS[n] for n in expected]
    elif isinstance(expected, str):
        assert str(result.total_cost) == expected
    elif isinstance(expected, tuple):
        assert render_answer(result) == expected[1]
    else:
        got = {
            g.key: (str(g.monthly_cost) if query.aggregate.value == "sum_cost" else g.count)
            for g in result.groups
        }
        assert got == expected
        assert list(got) == list(expected), "groups are ordered largest first"


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 55
    assert len({q for q, _, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(
    ("question", "expected_query", "expected"), TABLE, ids=[t[0] for t in TABLE]
)
def test_question(
    platform: Platform, question: str, expected_query: dict[str, Any], expected: Any
) -> None:
    parsed = parse_question(
        question, now=NOW, actor="alice", modules=MODULES, projects=PROJECTS, users=USERS
    )
    assert parsed.query is not None, parsed.reason
    assert parsed.query.described() == expected_query
    check_answer(platform, "admin", parsed.query, expected)


def test_ask_shows_the_query_it_ran(platform: Platform) -> None:
    answer = ask(platform, "admin", "how many requests are in dev?", now=NOW)
    data = answer.to_dict()
    assert data["answered"] is True
    assert data["query"] == {"environments": ["dev"], "aggregate": "count"}
    assert data["result"]["count"] == 4
    assert data["answer"] == "4 requests match."


@pytest.mark.parametrize(
    "question",
    [
        "which requests use the most memory?",
        "delete all prod requests",
        "DROP TABLE requests; --",
        "requests with a made_up_thing",
        "what is the weather in prod?",
        "requests costing more than",
        "x" * 600,
        # Numbers and dates out of range are refused, never an overflow (issue 27 item 7).
        "requests created in the last 99999999999999999999 days",
        "requests older than 99999999 weeks",
        "requests created since 2026-13-45",
        # A closed window on an event would be answered as an open one: refused.
        "requests with a plan_failed event yesterday",
        # A user named with no verb, a name that is no user, a verb nothing reads: refused.
        "alice prod requests",
        "requests bob touched",  # bob is not a user of this configuration
        "what did carol eat this week?",
        "requests alice liked",
    ],
)
def test_unanswerable_questions_say_so_and_suggest_forms(platform: Platform, question: str) -> None:
    answer = ask(platform, "admin", question, now=NOW)
    assert answer.answered is False
    assert answer.query is None and answer.result is None
    assert "cannot answer" in answer.text
    assert len(answer.suggestions) >= 5
    # Every suggestion is itself answerable.
    for example in answer.suggestions:
        assert parse_question(example, now=NOW, actor="a", modules=MODULES).understood, example


def test_the_ask_command(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from tfpilot_core.cli import cli
    from tfpilot_core.cli.app import App

    monkeypatch.setenv("TFPILOT_USER", "vera")
    state = App()
    state._platform = platform
    out = CliRunner().invoke(cli, ["--json", "ask", "how many requests are there?"], obj=state)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["query"] == {"aggregate": "count"}
    assert data["result"]["count"] == 5  # vera reads project shop only
    state = App()
    state._platform = platform
    out = CliRunner().invoke(cli, ["ask", "which", "requests", "use", "memory?"], obj=state)
    assert out.exit_code == 3
    assert "cannot answer" in out.stdout and "tfpilot ask 'how many" in out.stdout


def test_bare_project_names_come_from_what_the_asker_may_read(platform: Platform) -> None:
    answer = ask(platform, "admin", "total monthly cost of shop in prod", now=NOW)
    assert answer.answered and answer.query == {
        "projects": ["shop"],
        "environments": ["prod"],
        "aggregate": "sum_cost",
    }
    # vera reads project shop only: "billing" is not a name she can use, so it is refused.
    answer = ask(platform, "vera", "how many billing requests failed?", now=NOW)
    assert answer.answered is False and "billing" in answer.text
    # A word that is no project is refused, never guessed.
    answer = ask(platform, "admin", "total monthly cost of shoes in prod", now=NOW)
    assert answer.answered is False and "shoes" in answer.text


#: (question, the words the refusal names): bare words the parser does not use are refused,
#: never read as another question (issue 28).
REFUSED: list[tuple[str, list[str]]] = [
    ("alice prod requests", ["alice"]),
    ("prod requests of alice", ["alice"]),
    ("requests zed touched", ["zed", "touched"]),
    ("requests alice liked", ["alice", "liked"]),
    ("what did carol eat?", ["carol", "eat"]),
    ("requests touched", ["touched"]),
]


@pytest.mark.parametrize(("question", "words"), REFUSED, ids=[q for q, _ in REFUSED])
def test_words_not_used_are_refused_not_guessed(question: str, words: list[str]) -> None:
    parsed = parse_question(
        question, now=NOW, actor="alice", modules=MODULES, projects=PROJECTS, users=USERS
    )
    assert parsed.query is None
    assert set(words) <= set(parsed.unknown), parsed.reason


def test_a_bare_user_refusal_says_the_forms_that_work(platform: Platform) -> None:
    answer = ask(platform, "admin", "alice prod requests", now=NOW)
    assert answer.answered is False
    assert "alice is a user: say what alice did" in answer.text
    assert "'what did alice do this week'" in answer.text
    # Through ask, the configuration's users are the names read bare: alice is one.
    answer = ask(platform, "admin", "requests alice touched this week", now=NOW)
    assert answer.answered and answer.query == {"actors": ["alice"], "acted_since": WEEK}
    assert answer.result is not None
    assert [r.id for r in answer.result.rows] == [IDS[n] for n in (10, 6, 11, 1)]
