"""An opt-out accepted by the approver, in headless Chromium against a real uvicorn server, the
plan made with real Terraform on the sandbox provider.

alice asks for a prod bucket (a protected environment) with an opt-out of
``encryption.enabled``. bob's approve form shows it (the rule, who opted out, the justification)
with a reason field; approving without a reason is refused with the core's words naming the
rule (the comment kept, focus on the field); with one, the approval records it as
``tfpilot approve --override encryption.enabled=REASON`` does. axe-core on the form, screenshots
among the test artifacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import BROWSER_MARKS, audit, log_in, planned, sandbox_platform, serving, shot

RULE = "encryption.enabled"
WHY = "Public build artefacts, nothing secret: approved by security (SEC-42)."

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    platform, tokens = sandbox_platform(
        tmp_path, monkeypatch, ("alice", "bob"), protected_prod=True
    )
    with serving(platform, tokens) as served:
        yield served


def test_the_approver_accepts_an_opt_out_with_a_reason(
    served: dict[str, Any], browser: Any
) -> None:
    url, platform = served["url"], served["platform"]
    request_id = planned(
        platform,
        {"name": "artefacts"},
        environment="prod",
        opt_outs=[{"rule_id": RULE, "justification": WHY}],
    )

    bob = log_in(browser, url, served["tokens"]["bob"])
    bob.goto(f"{url}/requests/{request_id}")
    accept = bob.get_by_test_id("opt-outs-to-accept")
    text = accept.inner_text()
    assert RULE in text and "by alice" in text and "SEC-42" in text
    audit(bob, "approve form with an opt-out to accept", "approve-opt-out-1-form")

    # Without a reason the core refuses, naming the rule; the comment is kept, the field marked.
    bob.get_by_label("Comment").fill("prod artefacts bucket")
    bob.get_by_test_id("approve").click()
    error = bob.get_by_test_id("approve-error").inner_text()
    assert "each opt-out needs the approver" in error and RULE in error
    assert bob.get_by_label("Comment").input_value() == "prod artefacts bucket"
    field = bob.locator("fieldset[data-testid=opt-outs-to-accept] textarea").first
    assert field.get_attribute("aria-invalid") == "true"
    assert platform.get(request_id).approvals == []
    shot(bob, "approve-opt-out-2-refused")

    reason = "Checked with security: public artefacts only (SEC-42)."
    field.fill(reason)
    bob.get_by_test_id("approve").click()
    bob.get_by_test_id("status").filter(has_text="approved").wait_for()
    assert reason in bob.get_by_test_id("override").inner_text()
    [approval] = platform.get(request_id).approvals
    assert [(o.rule_id, o.reason, o.actor) for o in approval.overrides] == [(RULE, reason, "bob")]
    assert approval.comment == "prod artefacts bucket"
    shot(bob, "approve-opt-out-3-approved")
