"""Promotion from the request page in headless Chromium against a real uvicorn server, with real
Terraform on the sandbox provider.

A dev bucket applied with real Terraform: its promotion panel shows the next environment and
every gate, ``drift_free`` refusing while it was never checked (no promote button); after the
drift check (the page's own button, real Terraform) every gate passes, the dry run shows the
stage template's locked ``versioning`` as a difference, and promoting opens the new stage
request, whose chain links back to dev, while dev's page links to it. axe-core on the panel,
screenshots among the test artifacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .axe_support import check_page
from .browser_support import (
    BROWSER_MARKS,
    applied,
    audit,
    log_in,
    sandbox_platform,
    serving,
    shot,
    wait_for_status,
)

pytestmark = BROWSER_MARKS


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A dev bucket applied with real Terraform (never drift-checked), and a stage template."""
    from tfpilot_core.templates import Templates

    platform, tokens = sandbox_platform(tmp_path, monkeypatch, ("root", "alice", "bob", "vic"))
    Templates(platform).create(
        "root",
        "stage-buckets",
        module="sandbox/bucket",
        environment="stage",
        project="shop",
        defaults={"versioning": True},
        locked=["versioning"],
    )
    dev = applied(platform, {"name": "promo", "versioning": False})
    with serving(platform, tokens, dev=dev) as served:
        yield served


def _gates(page: Any) -> dict[str, str]:
    rows = page.get_by_test_id("gates").locator("tbody tr")
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        found[str(row.get_attribute("data-gate"))] = row.locator("td").nth(1).inner_text()
    return found


def test_promote_dev_to_stage_from_the_request_page(served: dict[str, Any], browser: Any) -> None:
    url, dev = served["url"], served["dev"]
    platform = served["platform"]
    alice = log_in(browser, url, served["tokens"]["alice"])
    alice.goto(f"{url}/requests/{dev}")

    # The panel (loaded by htmx): next environment, every gate; never checked refuses.
    panel = alice.get_by_test_id("promotion")
    panel.wait_for()
    assert "stage" in alice.get_by_test_id("promotion-next").inner_text()
    gates = _gates(alice)
    assert list(gates) == ["applied", "drift_free", "drift_check_age", "soak", "path"]
    assert gates["applied"] == "passes" and gates["drift_free"] == "refuses"
    assert "never checked for drift" in panel.inner_text()
    assert alice.get_by_test_id("promote").count() == 0
    assert alice.get_by_test_id("promote-blocked").is_visible()
    shot(alice, "promotion-1-gate-refuses")

    # Check drift with the page's button (real Terraform), then every gate passes.
    alice.get_by_test_id("action-check-drift").click()
    alice.wait_for_url(f"{url}/requests/{dev}")
    deadline_status = wait_for_status(alice, {"applied"})
    assert deadline_status == "applied"
    alice.get_by_test_id("drift").wait_for()
    alice.goto(f"{url}/requests/{dev}")
    alice.get_by_test_id("promote").wait_for()
    assert set(_gates(alice).values()) == {"passes"}

    # The dry run's diff: stage's template locks versioning on.
    row = alice.locator('[data-testid=promotion-diff] tr[data-input="versioning"]')
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "false" and cells.nth(2).inner_text() == "true"
    assert "template" in cells.nth(3).inner_text()
    name_cells = alice.locator('[data-testid=promotion-diff] tr[data-input="name"] td')
    assert name_cells.nth(3).inner_text() == "same"
    assert platform.get(dev).promoted_to == []  # the dry run stored nothing
    audit(alice, "promotion panel", "promotion-2-gates-pass")

    # Promote: the new stage request's page, linked back to dev, in the chain.
    alice.get_by_test_id("promote").click()
    alice.wait_for_url(re.compile(r".*/requests/req_stage_"))
    stage = alice.url.rsplit("/", 1)[-1]
    assert platform.get(dev).promoted_to == [stage]
    chain = alice.get_by_test_id("promotion-chain")
    chain.wait_for()
    assert chain.get_by_role("link", name=dev).is_visible()
    assert "stage" in chain.locator("[aria-current=page]").inner_text()
    assert alice.get_by_test_id("promoted-from").get_by_role("link", name=dev).is_visible()
    audit(alice, "promoted request", "promotion-3-stage-request")

    # And back: dev's page links to stage (facts and panel).
    chain.get_by_role("link", name=dev).click()
    alice.wait_for_url(f"{url}/requests/{dev}")
    alice.get_by_test_id("promoted-to").get_by_role("link", name=stage).click()
    alice.wait_for_url(f"{url}/requests/{stage}")
    stage_request = platform.get(stage)
    assert stage_request.inputs["versioning"] is True
    assert stage_request.placement.template_id == "stage-buckets"


def test_a_viewer_sees_the_gates_but_no_promote_button_and_posting_is_refused(
    served: dict[str, Any], browser: Any
) -> None:
    url, dev = served["url"], served["dev"]
    served["platform"].check_drift("alice", dev)
    vic = log_in(browser, url, served["tokens"]["vic"])
    vic.goto(f"{url}/promote/{dev}")
    assert set(_gates(vic).values()) == {"passes"}
    assert vic.get_by_test_id("promote").count() == 0
    check_page(vic, "promotion page")
    csrf = vic.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = vic.request.post(
        f"{url}/promote/{dev}",
        form={"csrf_token": csrf or "", "to": "stage"},
        headers={"accept": "text/html"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert served["platform"].get(dev).promoted_to == []
