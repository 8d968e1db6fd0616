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

from .axe_support import check_page
from .browser_support import (
    BROWSER_MARKS,
    chromium,
    fresh_home,
    log_in,
    platform_and_tokens,
    running,
    shot,
)

CONFIG = """
[core]
environments = [{{ key = "dev" }}, {{ key = "prod", protected = true }}]
[users.root]
role = "admin"
[users.alice]
role = "developer"
[users.bob]
role = "approver"
[plugins.runner_local]
timeout_seconds = 300
[plugins.sandbox]
root = "{sandbox}"
"""
RULE = "encryption.enabled"
WHY = "Public build artefacts, nothing secret: approved by security (SEC-42)."

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    sandbox = tmp_path / "sandbox"
    environ = fresh_home(tmp_path, CONFIG.format(sandbox=sandbox), monkeypatch, sandbox=sandbox)
    platform, tokens = platform_and_tokens(environ, ("alice", "bob"))
    with running(platform) as url:
        yield {"url": url, "tokens": tokens, "platform": platform}


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_the_approver_accepts_an_opt_out_with_a_reason(
    served: dict[str, Any], browser: Any
) -> None:
    url, platform = served["url"], served["platform"]
    created = platform.create(
        "alice",
        module="sandbox/bucket",
        environment="prod",
        project="shop",
        inputs={"name": "artefacts"},
        opt_outs=[{"rule_id": RULE, "justification": WHY}],
    )
    platform.plan("alice", created.id)
    assert platform.status(platform.get(created.id)).value == "plan_ready"

    bob = log_in(browser, url, served["tokens"]["bob"])
    bob.goto(f"{url}/requests/{created.id}")
    accept = bob.get_by_test_id("opt-outs-to-accept")
    text = accept.inner_text()
    assert RULE in text and "by alice" in text and "SEC-42" in text
    check_page(bob, "approve form with an opt-out to accept")
    shot(bob, "approve-opt-out-1-form")

    # Without a reason the core refuses, naming the rule; the comment is kept, the field marked.
    bob.get_by_label("Comment").fill("prod artefacts bucket")
    bob.get_by_test_id("approve").click()
    error = bob.get_by_test_id("approve-error").inner_text()
    assert "each opt-out needs the approver" in error and RULE in error
    assert bob.get_by_label("Comment").input_value() == "prod artefacts bucket"
    field = bob.locator("fieldset[data-testid=opt-outs-to-accept] textarea").first
    assert field.get_attribute("aria-invalid") == "true"
    assert platform.get(created.id).approvals == []
    shot(bob, "approve-opt-out-2-refused")

    reason = "Checked with security: public artefacts only (SEC-42)."
    field.fill(reason)
    bob.get_by_test_id("approve").click()
    bob.get_by_test_id("status").filter(has_text="approved").wait_for()
    assert reason in bob.get_by_test_id("override").inner_text()
    [approval] = platform.get(created.id).approvals
    assert [(o.rule_id, o.reason, o.actor) for o in approval.overrides] == [(RULE, reason, "bob")]
    assert approval.comment == "prod artefacts bucket"
    shot(bob, "approve-opt-out-3-approved")
