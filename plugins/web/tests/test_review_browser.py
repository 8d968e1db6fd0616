"""Reviewing and operating changes in headless Chromium (Debian's package, via Playwright)
against a real uvicorn server, with real Terraform on the sandbox provider.

One server and one seeded history for the module (Terraform runs are the slow part): an update
plan and a replace plan to review attribute by attribute, a drifted bucket, and a prod bucket
carol (admin) asked to destroy. Then: the diff of the update and of the replace; the approvals
inbox; a viewer told why not; an edit with a field error; the 390 px layout; axe-core on every
page; /docs and the favicon; a plan watched live with a section held open and focus kept; the
drifted badge and attributes; the prod destroy approved with an override reason and applied
after typing the request's id. Screenshots go to ``plugins/web/tests/artifacts/``
(``$TFPILOT_WEB_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .axe_support import check_page
from .browser_support import (
    BROWSER_MARKS,
    applied,
    artifacts_dir,
    chromium,
    log_in,
    sandbox_platform,
    serving,
    shot,
)

#: Every test logs in afresh from 127.0.0.1: more than the default attempts per minute.
WEB = "[plugins.web]\nlogin_attempts_per_minute = 1000\n"

pytestmark = BROWSER_MARKS


def _object(request_id: str, name: str) -> str:
    # The platform makes names unique with the request id's suffix.
    return f"{name}-{request_id.rsplit('_', 1)[-1]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real uvicorn server over a seeded platform, and tokens for each user."""
    from tfpilot_sandbox.objects import ObjectStore

    tmp = tmp_path_factory.mktemp("review")
    with pytest.MonkeyPatch.context() as patch:
        platform, tokens = sandbox_platform(
            tmp, patch, ("alice", "bob", "carol", "vic", "root"), protected_prod=True, extra=WEB
        )
        cloud = ObjectStore(tmp / "sandbox")

        # An update: versioning turned off after the bucket was applied.
        update = applied(platform, {"name": "rv-upd"})
        platform.update("alice", update, inputs={"versioning": False})
        platform.plan("alice", update)
        # A replace: the bucket's region changed out of band forces replacement.
        replace = applied(platform, {"name": "rv-rep"})
        cloud.update("sandbox_bucket", _object(replace, "rv-rep"), {"region": "local-2"})
        platform.plan("alice", replace)
        # Drift: public access turned on out of band, then checked.
        drifted = applied(platform, {"name": "rv-drift"})
        cloud.update("sandbox_bucket", _object(drifted, "rv-drift"), {"public_access": True})
        platform.check_drift("alice", drifted)
        # A prod bucket carol asks to destroy (a reviewed destroy: destroy.protected).
        prod = applied(platform, {"name": "rv-prod"}, environment="prod")
        platform.destroy("carol", prod)

        ids = {"update": update, "replace": replace, "drift": drifted, "prod": prod}
        with serving(platform, tokens, ids=ids) as served:
            yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _shot(page: Any, name: str) -> None:
    shot(page, f"review-{name}")


def _attribute_row(page: Any, path: str) -> tuple[str, str]:
    row = page.locator(f'tr[data-attr="{path}"]').first
    cells = row.locator("td")
    return cells.nth(0).inner_text().strip(), cells.nth(1).inner_text().strip()


def test_an_update_plan_shows_each_attribute_before_and_after(
    server: dict[str, Any], browser: Any
) -> None:
    url, request_id = server["url"], server["ids"]["update"]
    bob = log_in(browser, url, server["tokens"]["bob"])
    bob.goto(f"{url}/requests/{request_id}")
    resource = bob.get_by_test_id("resource").first
    assert "update" in resource.locator("summary").inner_text().lower()
    assert _attribute_row(bob, "versioning") == ("true", "false")
    assert bob.locator('tr[data-attr="encryption"]').count() == 0  # unchanged: not listed
    assert (
        "needs approval by an approver in shop/dev" in bob.get_by_test_id("next-step").inner_text()
    )
    # The JSON API serves the same structured diff.
    answer = bob.request.get(f"{url}/api/requests/{request_id}/diff")
    assert answer.status == 200
    rows = answer.json()["resources"][0]["attributes"]
    assert {k: rows[0][k] for k in ("path", "before", "after")} == {
        "path": "versioning",
        "before": True,
        "after": False,
    }
    _shot(bob, "1-update-diff")


def test_a_replace_plan_names_why_and_the_attribute_that_forces_it(
    server: dict[str, Any], browser: Any
) -> None:
    url, request_id = server["url"], server["ids"]["replace"]
    bob = log_in(browser, url, server["tokens"]["bob"])
    bob.goto(f"{url}/requests/{request_id}")
    resource = bob.get_by_test_id("resource").first
    summary = resource.locator("summary").inner_text().lower()
    assert "replace" in summary and "forces replacement" in summary
    region = bob.locator('tr[data-attr="region"]')
    assert "forces replacement" in region.inner_text()
    assert _attribute_row(bob, "region") == ('"local-2"', '"local-1"')
    # The id is known only after the apply of a replace.
    assert bob.locator('tr[data-attr="id"] code.unknown').inner_text() == "(known after apply)"
    _shot(bob, "2-replace-diff")


def test_the_approvals_inbox_shows_change_kind_counts_and_sorts(
    server: dict[str, Any], browser: Any
) -> None:
    url, ids = server["url"], server["ids"]
    bob = log_in(browser, url, server["tokens"]["bob"])
    bob.get_by_role("link", name="Approvals", exact=True).click()
    rows = bob.get_by_test_id("inbox-row")
    assert rows.count() == 3  # update, replace, prod destroy
    destroy_row = bob.locator("tr.k-destroy")
    assert ids["prod"] in destroy_row.inner_text() and "mandatory" in destroy_row.inner_text()
    assert "1 delete" in destroy_row.inner_text()
    # Red row for the destroy.
    background = destroy_row.locator("td").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert background == "rgb(255, 240, 240)"
    bob.get_by_role("link", name="Environment").click()
    bob.get_by_role("link", name="Environment").click()  # twice: descending, prod first
    assert ids["prod"] in rows.first.inner_text()
    _shot(bob, "3-inbox")


def test_a_viewer_is_told_who_acts_next_and_why_not(server: dict[str, Any], browser: Any) -> None:
    url, request_id = server["url"], server["ids"]["prod"]
    vic = log_in(browser, url, server["tokens"]["vic"])
    vic.goto(f"{url}/requests/{request_id}")
    assert vic.get_by_test_id("no-actions").is_visible()
    step = vic.get_by_test_id("next-step").inner_text()
    assert "needs approval by an approver in shop/prod other than" in step and "carol" in step
    assert "bob" in step.rsplit(":", 1)[-1]  # who can do it
    assert "You cannot approve" in vic.get_by_test_id("why-not").inner_text()
    assert vic.get_by_test_id("destroy-by").inner_text() == "carol"
    _shot(vic, "4-viewer")


def test_an_edit_with_a_bad_field_marks_it_and_focuses_it(
    server: dict[str, Any], browser: Any
) -> None:
    url, request_id = server["url"], server["ids"]["update"]
    alice = log_in(browser, url, server["tokens"]["alice"])
    alice.goto(f"{url}/requests/{request_id}")
    alice.get_by_test_id("edit").click()
    alice.locator("#f-tags").fill("{not json")
    alice.get_by_test_id("save-edit").click()
    assert alice.get_by_test_id("form-errors").is_visible()
    assert alice.locator("#f-tags").get_attribute("aria-invalid") == "true"
    assert alice.evaluate("document.activeElement.id") == "f-tags"
    border = alice.locator("#f-tags").evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(164, 0, 0)"
    _shot(alice, "5-edit-error")


def test_the_header_and_tables_fit_a_390px_phone(server: dict[str, Any], browser: Any) -> None:
    url, ids = server["url"], server["ids"]
    # A reader in New York: times are shown in their zone, named, with a relative time.
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/New_York"
    )
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("API token").fill(server["tokens"]["bob"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    for path in ("/", f"/requests/{ids['replace']}", "/approvals", "/drift"):
        page.goto(url + path)
        widths = page.evaluate(
            "() => [Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),"
            " document.querySelector('header nav').scrollWidth,"
            " document.querySelector('header nav').clientWidth]"
        )
        assert widths[0] <= 390 and widths[1] <= widths[2], (path, widths)
        drift_link = page.get_by_role("link", name="Drift", exact=True).bounding_box()
        assert drift_link is not None and drift_link["x"] + drift_link["width"] <= 390, path
        actor = page.get_by_test_id("actor")
        color = actor.evaluate("e => getComputedStyle(e).color")
        assert color == "rgb(255, 255, 255)"  # white on the header's dark blue
        assert actor.bounding_box()["x"] + actor.bounding_box()["width"] <= 390
        if path.startswith("/requests/"):
            shown = page.locator("time[data-local]").first.inner_text()
            assert "EST" in shown and "ago" in shown, shown
        _shot(page, "6-phone" + path.replace("/", "-"))
    context.close()


def test_every_page_passes_axe_without_serious_violations(
    server: dict[str, Any], browser: Any
) -> None:
    url, ids = server["url"], server["ids"]
    anonymous = browser.new_page()
    for path in ("/login", "/catalog", "/catalog/sandbox/bucket", "/docs"):
        anonymous.goto(url + path)
        known: tuple[str, ...] = ()
        if path == "/docs":
            anonymous.locator(".swagger-ui .info").wait_for()
            # Swagger UI 5 nests its operation's copy/expand buttons inside the summary
            # control: upstream markup, not ours (everything else on the page must pass).
            known = ("nested-interactive",)
        check_page(anonymous, path, known=known)
    bob = log_in(browser, url, server["tokens"]["bob"])
    pages = ["/", "/approvals", "/drift", *(f"/requests/{i}" for i in ids.values())]
    for path in pages:
        bob.goto(url + path)
        check_page(bob, path)
    alice = log_in(browser, url, server["tokens"]["alice"])
    alice.goto(f"{url}/requests/{ids['update']}/edit")
    check_page(alice, "edit")


def test_docs_work_offline_under_the_strict_policy_and_the_favicon_answers(
    server: dict[str, Any], browser: Any
) -> None:
    url = server["url"]
    page = browser.new_page()
    refused: list[str] = []
    outside: list[str] = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
    page.goto(f"{url}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "tfpilot" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 5  # the operations of /openapi.json
    assert not refused, refused
    assert not outside, outside
    assert page.request.get(f"{url}/favicon.ico").status == 200
    _shot(page, "7-docs")


def test_a_running_plan_updates_status_and_log_without_closing_sections_or_moving_focus(
    server: dict[str, Any], browser: Any
) -> None:
    url, platform = server["url"], server["platform"]
    alice = log_in(browser, url, server["tokens"]["alice"])
    alice.goto(f"{url}/catalog/sandbox/bucket")
    alice.get_by_label("Project").fill("shop")
    alice.get_by_label("Bucket name").fill("rv-live")
    alice.get_by_role("button", name="Create request").click()
    alice.wait_for_url(re.compile(r".*/requests/req_dev_"))
    request_id = alice.url.rsplit("/", 1)[-1]
    status = alice.get_by_test_id("status").inner_text()
    assert status == "planning", status  # the plan is still running
    # The run's buttons are disabled while it runs.
    assert alice.get_by_test_id("poller").count() == 1
    # Hold a timeline entry open and put the keyboard focus on the module link.
    first_event = alice.locator("[data-testid=timeline] details").first
    first_event.locator("summary").click()
    alice.locator("dl.facts a").first.focus()
    focused = "document.activeElement.getAttribute('href')"
    assert alice.evaluate(focused) == "/catalog/sandbox/bucket"
    deadline = time.monotonic() + 240
    live_lines: list[str] = []
    while alice.get_by_test_id("status").inner_text() != "plan_ready":
        assert time.monotonic() < deadline, "the plan did not finish"
        text = alice.get_by_test_id("log-plan").locator("pre").inner_text()
        if (
            "waiting for Terraform" not in text
            and "planning" in alice.get_by_test_id("status").inner_text()
        ):
            live_lines.append(text)
        alice.wait_for_timeout(300)
    # Terraform's output showed while it ran (streamed from the run's log lines).
    assert live_lines and "Initializing" in live_lines[0], live_lines[:1]
    # Only the fragments were swapped: the section is still open, focus did not move.
    assert first_event.evaluate("e => e.open") is True
    assert alice.evaluate(focused) == "/catalog/sandbox/bucket"
    assert alice.locator("#status-line").get_attribute("aria-live") == "polite"
    log = alice.get_by_test_id("log-plan").locator("pre").inner_text()
    assert "Plan:" in log or "to add" in log, log[-500:]
    # The diff and the next step arrived with the end of the run, without a page load.
    assert alice.locator('tr[data-attr="encryption"]').count() == 1
    assert "needs approval" in alice.get_by_test_id("next-step").inner_text()
    assert alice.get_by_test_id("poller-done").count() == 1
    assert platform.status(platform.get(request_id)).value == "plan_ready"
    _shot(alice, "8-live-after")


def test_a_drifted_request_has_its_badge_and_attributes_in_lists_and_on_its_page(
    server: dict[str, Any], browser: Any
) -> None:
    url, request_id = server["url"], server["ids"]["drift"]
    bob = log_in(browser, url, server["tokens"]["bob"])
    row = bob.locator("tr", has=bob.get_by_role("link", name=request_id))
    assert row.locator(".status.s-drifted").inner_text() == "drifted"
    assert row.locator("td[data-label=Drift] .status").inner_text() == "drifted"
    bob.goto(f"{url}/?drift=drifted")
    assert bob.get_by_role("link", name=request_id).count() == 1
    assert bob.get_by_role("link", name=re.compile("req_dev_")).count() == 1
    bob.goto(f"{url}/requests/{request_id}")
    assert bob.get_by_test_id("status").inner_text() == "drifted"
    attributes = bob.get_by_test_id("drift-attributes").inner_text()
    assert "public_access" in attributes and "sandbox_bucket.this" in attributes
    bob.get_by_role("link", name="Drift", exact=True).click()
    assert "public_access" in bob.locator("table").inner_text()
    _shot(bob, "9-drift")


def test_a_prod_destroy_is_approved_with_an_override_reason_and_applied_after_typing_its_id(
    server: dict[str, Any], browser: Any
) -> None:
    url, request_id, platform = server["url"], server["ids"]["prod"], server["platform"]
    bob = log_in(browser, url, server["tokens"]["bob"])
    bob.goto(f"{url}/requests/{request_id}")
    assert bob.get_by_test_id("status").inner_text() == "destroy plan_ready"
    overrides = bob.get_by_test_id("overrides")
    assert "destroy.protected" in overrides.inner_text()
    # Without a reason the core refuses; the comment is kept and the field marked.
    bob.get_by_label("Comment").fill("decommissioning rv-prod")
    bob.get_by_test_id("approve").click()
    assert "override with a reason" in bob.get_by_test_id("approve-error").inner_text()
    assert bob.get_by_label("Comment").input_value() == "decommissioning rv-prod"
    assert bob.evaluate("document.activeElement.tagName") == "TEXTAREA"
    _shot(bob, "10-override-refused")
    reason = "shop retired the bucket (ticket OPS-42)"
    bob.locator("fieldset[data-testid=overrides] textarea").first.fill(reason)
    bob.get_by_test_id("approve").click()
    bob.get_by_test_id("status").filter(has_text="approved").wait_for()
    assert reason in bob.get_by_test_id("override").inner_text()
    # Recorded as `tfpilot approve --override destroy.protected=REASON` records it.
    approval = platform.get(request_id).approvals[-1]
    assert [(o.rule_id, o.reason, o.address) for o in approval.overrides] == [
        ("destroy.protected", reason, None)
    ]
    assert approval.comment == "decommissioning rv-prod"
    # Earlier approvals (of the create) are marked superseded.
    assert bob.get_by_test_id("superseded").count() >= 1
    # Applying a destroy needs the destroy right: bob is told who may, carol (admin) applies.
    assert bob.get_by_test_id("action-apply").count() == 0
    assert "You cannot destroy" in bob.get_by_test_id("why-not").inner_text()
    assert "carol" in bob.get_by_test_id("next-step").inner_text()
    carol = log_in(browser, url, server["tokens"]["carol"])
    carol.goto(f"{url}/requests/{request_id}")
    # Applying the destroy in prod asks for the request's id.
    carol.get_by_test_id("confirm-apply").fill("rv-prod")
    carol.get_by_test_id("action-apply").click()
    assert "to confirm" in carol.locator("#confirm-error-apply").inner_text()
    assert carol.evaluate("document.activeElement.id") == "confirm-apply"
    carol.get_by_test_id("confirm-apply").fill(request_id)
    carol.get_by_test_id("action-apply").click()
    deadline = time.monotonic() + 240
    while platform.status(platform.get(request_id)).value != "destroyed":
        assert time.monotonic() < deadline, platform.status(platform.get(request_id))
        time.sleep(0.5)
    carol.goto(f"{url}/requests/{request_id}")
    assert carol.get_by_test_id("status").inner_text() == "destroyed"
    _shot(carol, "11-destroyed")
    print(f"screenshots in {artifacts_dir()}")
