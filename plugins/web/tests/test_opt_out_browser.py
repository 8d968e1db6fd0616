"""An opt-out with its justification, asked for in the request form, in headless Chromium against
a real uvicorn server, planned with real Terraform on the sandbox provider.

The catalog's "Large public web server" (a public IP: the built-in ``public_access.blocked``
blocks it): the form's debounced policy preview says it is blocked and offers "Request an opt-out
of public_access.blocked"; a too-short justification gets the core's error beside the field; a
real one turns the finding advisory ("opted out by alice"); the request is created with the
opt-out recorded exactly as the CLI records it, and its plan is not blocked. axe-core on the
form, screenshots among the test artifacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import (
    BROWSER_MARKS,
    audit,
    log_in,
    sandbox_platform,
    serving,
    shot,
    wait_for_status,
)

RULE = "public_access.blocked"
WHY = "A public demo web server for the conference booth, torn down on Friday."

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    platform, tokens = sandbox_platform(tmp_path, monkeypatch, ("root", "alice"))
    with serving(platform, tokens) as served:
        yield served


def test_create_with_an_opt_out_from_the_form(served: dict[str, Any], browser: Any) -> None:
    url, platform = served["url"], served["platform"]
    alice = log_in(browser, url, served["tokens"]["alice"])
    # The catalog's "Large public web server" example, pre-filled.
    alice.goto(
        f"{url}/catalog/sandbox/instance?input.name=web&input.size=large&input.public_ip=true"
    )
    alice.get_by_label("Project").fill("shop")
    preview = alice.get_by_test_id("policy-preview")
    preview.get_by_test_id("preview-blocked").wait_for()
    offer = preview.locator("details.opt-out")
    assert offer.count() == 1 and RULE in offer.locator("summary").inner_text()
    shot(alice, "opt-out-1-offered")

    # A justification too short: the core's rule, beside the field.
    offer.locator("summary").click()
    field = alice.get_by_label(f"Justification for opting out of {RULE}")
    field.fill("demo")
    field.press("Tab")  # leaving the field re-runs the preview
    error = preview.get_by_test_id("opt-out-error")
    error.wait_for()
    assert "10 characters" in error.inner_text()
    assert (
        alice.get_by_label(f"Justification for opting out of {RULE}").get_attribute("aria-invalid")
        == "true"
    )

    # A real one: the finding is now advisory, opted out by alice.
    field = alice.get_by_label(f"Justification for opting out of {RULE}")
    field.fill(WHY)
    field.press("Tab")
    preview.get_by_text("opted out by alice").first.wait_for()
    assert preview.get_by_test_id("preview-blocked").count() == 0
    audit(alice, "request form with an opt-out", "opt-out-2-justified")

    # Create (and plan with real Terraform): the opt-out is recorded as the CLI records it.
    alice.get_by_role("button", name="Create request").click()
    alice.wait_for_url(re.compile(r".*/requests/req_dev_"))
    request_id = alice.url.rsplit("/", 1)[-1]
    status = wait_for_status(alice, {"plan_ready", "failed"})
    request = platform.get(request_id)
    assert status == "plan_ready", [e.data for e in platform.store.list_events(request_id)][-3:]
    assert [(o.rule_id, o.justification, o.actor) for o in request.opt_outs] == [
        (RULE, WHY, "alice")
    ]
    graded = [f for f in request.policy_findings if f.rule_id == RULE]
    assert graded and all(f.level.value == "advisory" for f in graded)
    assert "opted out by alice" in alice.content()
    shot(alice, "opt-out-3-planned")
