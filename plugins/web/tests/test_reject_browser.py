"""Reject and request changes from the request page in headless Chromium against a real uvicorn
server, with real Terraform on the sandbox provider.

alice's bucket is planned with real Terraform. bob (an approver) opens it: Reject and Request
changes sit beside Approve. An empty reason is refused by the form; a reason sent for a plan that
was re-planned meanwhile comes back with the reason kept and a link to the new plan; then bob
rejects the current plan: the page shows the rejected badge, the rejection with its reason and
who must act next, Approve is gone, and the requests list shows the badge too. After alice
updates the request and plans again, the page is ready for review again. axe-core on the
rejected page, screenshots among the test artifacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser_support import BROWSER_MARKS, audit, log_in, planned, sandbox_platform, serving, shot

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """alice's dev bucket, planned with real Terraform, and the server."""
    platform, tokens = sandbox_platform(tmp_path, monkeypatch, ("root", "alice", "bob"))
    request_id = planned(platform, {"name": "rj"})
    with serving(platform, tokens, id=request_id) as served:
        yield served


def test_reject_a_plan_and_see_the_state(served: dict[str, Any], browser: Any) -> None:
    from tfpilot_core.lifecycle import current_plan

    url, request_id, platform = served["url"], served["id"], served["platform"]
    first = current_plan(platform.get(request_id)).plan_digest
    bob = log_in(browser, url, served["tokens"]["bob"])
    bob.goto(f"{url}/requests/{request_id}")
    form = bob.get_by_test_id("reject-form")
    assert bob.get_by_test_id("approve").is_visible() and form.is_visible()
    assert first[:12] in bob.get_by_test_id("reject").inner_text()

    # The reason is required: the browser does not send the form without one.
    bob.get_by_test_id("reject").click()
    assert bob.url.endswith(f"/requests/{request_id}")
    assert platform.get(request_id).rejections == []

    # Meanwhile alice plans again (real Terraform): bob's page is of the old plan.
    platform.plan("alice", request_id)
    second = current_plan(platform.get(request_id)).plan_digest
    assert second != first
    bob.get_by_label("Reason to reject or ask for changes (required, sent to the authors)").fill(
        "public access must stay off"
    )
    bob.get_by_test_id("reject").click()
    error = bob.get_by_test_id("reject-error")
    error.wait_for()
    assert "is not the current plan" in error.inner_text()
    assert bob.locator("#reject-reason").input_value() == "public access must stay off"
    assert second[:12] in bob.get_by_test_id("new-plan").inner_text()
    assert platform.get(request_id).rejections == []
    shot(bob, "reject-stale-digest")

    # Rejecting the current plan (the form now carries its digest), the reason still there.
    bob.get_by_test_id("reject").click()
    bob.wait_for_url(f"{url}/requests/{request_id}")
    status = bob.get_by_test_id("status")
    assert status.inner_text() == "rejected"
    assert "s-rejected" in str(status.get_attribute("class"))
    rejection = bob.get_by_test_id("rejection")
    assert "bob rejected plan" in rejection.inner_text()
    assert "public access must stay off" in rejection.inner_text()
    assert "bob rejected the plan" in bob.get_by_test_id("next-step").inner_text()
    assert bob.get_by_test_id("approve").count() == 0
    assert bob.get_by_test_id("reject-form").count() == 0
    audit(bob, "rejected request page", "reject-rejected-page")

    # The list shows the state too.
    bob.goto(f"{url}/?status=rejected")
    row = bob.locator("tr", has_text=request_id)
    assert row.locator(".status").inner_text() == "rejected"

    # alice changes the request and plans again: a new plan, reviewed anew.
    platform.update("alice", request_id, {"versioning": True})
    platform.plan("alice", request_id)
    bob.goto(f"{url}/requests/{request_id}")
    assert bob.get_by_test_id("status").inner_text() == "plan_ready"
    assert bob.get_by_test_id("approve").is_visible()
    assert "superseded" in bob.get_by_test_id("rejection").inner_text()
