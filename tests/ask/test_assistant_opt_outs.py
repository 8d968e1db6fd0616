"""The request assistant asks for an opt-out where a finding allows one: a justification for
each security default the draft breaks, checked by the create's own check as it is answered
(refused, explained, asked again), the policy judged again with it, and the request created with
it recorded as the CLI records it; blank asks for none, and the request stays blocked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tfpilot_core.assistant import AnswersConversation, run_assistant
from tfpilot_core.platform import Platform

MODULE_TF = """
variable "name" {
  type = string
}
variable "public_access" {
  type    = bool
  default = false
}
"""
MODULE_TOML = 'description = "A public site"\ncategory = "web"\nname_input = "name"\n'
RULE = "public_access.blocked"
WHY = "A public demo site for the conference booth, torn down on Friday."


@pytest.fixture
def platform(modules_platform: Callable[..., Platform]) -> Platform:
    """The site module with the built-in policy; alice (developer)."""
    from tfpilot_policy_builtin import plugin as builtin_plugin

    return modules_platform(
        {"site": (MODULE_TF, MODULE_TOML)},
        '[users.alice]\nrole = "developer"\n',
        (("policy_builtin", builtin_plugin),),
    )


ANSWERS = {
    "environment": "dev",
    "project": "shop",
    "inputs": {"name": "demo", "public_access": True},
    "confirm": "yes",
}


def test_an_opt_out_is_asked_checked_and_recorded(platform: Platform) -> None:
    conv = AnswersConversation({**ANSWERS, f"opt_out:{RULE}": ["too short", WHY]})
    result = run_assistant(platform, "alice", conv, module="test/site")
    assert result.created is not None, conv.said
    assert [(o.rule_id, o.justification, o.actor) for o in result.created.opt_outs] == [
        (RULE, WHY, "alice")
    ]
    refused = next(t for t in result.transcript if t["question"] == f"opt_out:{RULE}")
    assert "opt_outs[0].justification" in refused["refused"]
    assert any("opted out by alice" in line for line in conv.said)


def test_without_a_justification_the_request_stays_blocked(platform: Platform) -> None:
    conv = AnswersConversation(ANSWERS)  # the opt-out question's default: none
    result = run_assistant(platform, "alice", conv, module="test/site")
    assert result.created is None and result.draft is not None and result.draft.blocked
    asked = [t for t in result.transcript if t["question"] == f"opt_out:{RULE}"]
    assert asked == [{"question": f"opt_out:{RULE}", "answer": ""}]  # asked, none given
    assert any("Blocked by policy" in line for line in conv.said)
