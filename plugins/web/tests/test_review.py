"""The review pages in process (fake runner): the structured diff on the page and in the API,
the approve form with overrides, confirmation in protected environments, who acts next, the
approvals inbox, editing a request, /docs without a CDN, the favicon."""

from __future__ import annotations

import re
from typing import Any

from tfpilot_core.platform import Platform

from .test_pages import HTML, csrf_of, log_in


def _planned(platform: Platform, environment: str = "dev") -> str:
    created = platform.create(
        "dev", module="test/bucket", environment=environment, project="shop", inputs={"name": "b1"}
    )
    platform.plan("dev", created.id)
    return created.id


def test_request_page_shows_the_attribute_diff_and_the_api_the_same(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _planned(platform)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="diff"' in page and "sandbox_bucket.this" in page
    assert 'data-attr="n"' in page  # the attribute of the fake plan, after = 1
    assert "needs approval by an approver in shop/dev" in page
    api = client.get(f"/api/requests/{request_id}/diff", headers={"accept": "application/json"})
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["total"] == 1 and body["resources"][0]["attributes"][0]["path"] == "n"
    assert body["counts"] == {"create": 1}


def test_a_viewer_is_told_why_not(client: Any, platform: Platform, tokens: dict[str, str]) -> None:
    request_id = _planned(platform)
    log_in(client, tokens["viv"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="why-not"' in page and "You cannot approve" in page


def test_apply_in_a_protected_environment_needs_the_typed_id(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _planned(platform, "prod")
    digest = platform.get(request_id).latest(__import__("tfpilot_core.models").models.RunKind.PLAN)
    assert digest is not None and digest.plan_digest
    platform.approve("appr", request_id, plan_digest=digest.plan_digest)
    log_in(client, tokens["admin"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="confirm-apply"' in page
    refused = client.post(
        f"/requests/{request_id}/apply",
        data={"csrf_token": csrf_of(page), "confirm": "wrong"},
        headers=HTML,
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "to confirm" in refused.text
    assert platform.status(platform.get(request_id)).value == "approved"


def test_approvals_inbox_rows_and_sorting(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    first, second = _planned(platform), _planned(platform, "prod")
    log_in(client, tokens["appr"])
    page = client.get("/approvals?sort=-environment", headers=HTML).text
    rows = re.findall(r'data-testid="inbox-row"><td[^>]*><a href="/requests/([^"]+)"', page)
    assert rows == [second, first]
    assert "1 create" in page and 'aria-sort="descending"' in page


def test_edit_makes_a_new_revision_and_shows_field_errors(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _planned(platform)
    log_in(client, tokens["dev"])
    page = client.get(f"/requests/{request_id}/edit", headers=HTML).text
    bad = client.post(
        f"/requests/{request_id}/edit",
        data={"csrf_token": csrf_of(page), "input.name": "b1", "input.region": "mars"},
        headers=HTML,
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    good = client.post(
        f"/requests/{request_id}/edit",
        data={"csrf_token": csrf_of(page), "input.name": "b1", "input.versioning": "false"},
        headers=HTML,
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    found = platform.get(request_id)
    assert found.revision == 2 and found.inputs["versioning"] is False


def test_docs_are_served_locally_under_the_strict_policy(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"cdn\.|jsdelivr|unpkg", page.text)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
        assert client.get(src).status_code == 200, src
    assert "Apache License" in client.get("/docs/LICENSE").text
    assert client.get("/docs/assets/index.html").status_code == 404
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"


def test_reject_and_request_changes_beside_approve(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.lifecycle import current_plan

    request_id = _planned(platform)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="reject-form"' in page and 'data-testid="approve"' in page
    digest = current_plan(platform.get(request_id)).plan_digest
    # A stale digest keeps the reason and links to the current plan (as approve does).
    stale = client.post(
        f"/requests/{request_id}/reject",
        data={"csrf_token": csrf_of(page), "plan_digest": "0" * 64, "reason": "too open"},
        headers=HTML,
    )
    assert stale.status_code == 409
    assert 'data-testid="new-plan"' in stale.text and ">too open</textarea>" in stale.text
    assert "is not the current plan" in stale.text
    # No reason: 422 naming the field, nothing recorded.
    empty = client.post(
        f"/requests/{request_id}/reject",
        data={"csrf_token": csrf_of(page), "plan_digest": digest, "reason": " "},
        headers=HTML,
    )
    assert empty.status_code == 422 and "reason" in empty.text
    assert platform.get(request_id).rejections == []
    answer = client.post(
        f"/requests/{request_id}/reject",
        data={
            "csrf_token": csrf_of(page),
            "plan_digest": digest,
            "reason": "add a cost-center tag",
            "request_changes": "yes",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    [rejection] = platform.get(request_id).rejections
    assert (rejection.actor, rejection.request_changes) == ("appr", True)
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'class="status s-changes_requested"' in page
    assert 'data-testid="rejection"' in page and "add a cost-center tag" in page
    assert "appr asked for changes" in page  # the next step says who acts and why
    # The timeline says it in words, with the reason.
    assert f"plan {digest[:12]}: “add a cost-center tag”" in page
    assert 'data-testid="approve"' not in page and 'data-testid="reject-form"' not in page
    listed = client.get("/?status=changes_requested", headers=HTML).text
    assert request_id in listed and "s-changes_requested" in listed


def test_reject_through_the_api(client: Any, platform: Platform, tokens: dict[str, str]) -> None:
    from tfpilot_core.lifecycle import current_plan

    from .conftest import bearer

    request_id = _planned(platform)
    digest = current_plan(platform.get(request_id)).plan_digest
    url = f"/api/requests/{request_id}/reject"
    refused = client.post(
        url, json={"plan_digest": digest, "reason": "no"}, headers=bearer(tokens["dev"])
    )
    assert refused.status_code == 403
    missing = client.post(url, json={"plan_digest": digest}, headers=bearer(tokens["appr"]))
    assert missing.status_code == 422 and "reason" in missing.text
    stale = client.post(
        url, json={"plan_digest": "0" * 64, "reason": "no"}, headers=bearer(tokens["appr"])
    )
    assert stale.status_code == 409 and digest[:12] in stale.text
    done = client.post(
        url, json={"plan_digest": digest[:12], "reason": "too big"}, headers=bearer(tokens["appr"])
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "rejected"
    assert done.json()["rejections"][0]["reason"] == "too big"
    approve = client.post(
        f"/api/requests/{request_id}/approve",
        json={"plan_digest": digest},
        headers=bearer(tokens["appr"]),
    )
    assert approve.status_code == 409 and "rejected" in approve.text


def test_cancel_a_queued_run_from_the_page_and_the_api(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.models import RunKind

    from .conftest import bearer

    created = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "q1"}
    )
    # A run dispatched to a runner that has not started it yet (as GitHub Actions leaves it).
    _, attempt = platform.kernel.start_attempt(created.id, RunKind.PLAN, "dev", "fake", queued=True)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{created.id}", headers=HTML).text
    assert 'data-testid="cancel-run"' not in page  # neither its starter nor an admin
    log_in(client, tokens["dev"])
    page = client.get(f"/requests/{created.id}", headers=HTML).text
    assert 'data-testid="cancel-run"' in page and attempt.id in page
    answer = client.post(
        f"/requests/{created.id}/cancel",
        data={"csrf_token": csrf_of(page), "attempt_id": attempt.id},
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert platform.get(created.id).latest(RunKind.PLAN).conclusion.value == "cancelled"
    page = client.get(f"/requests/{created.id}", headers=HTML).text
    assert 'data-testid="cancel-run"' not in page and "request_created" in page
    again = client.post(f"/api/requests/{created.id}/cancel", headers=bearer(tokens["dev"]))
    assert again.status_code == 409 and "no queued run" in again.text


def test_a_stale_digest_keeps_the_comment_and_links_to_the_new_plan(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _planned(platform)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    # The page was of a plan that is no longer the current one (the fake runner's plans all
    # have one digest, so an earlier plan's digest is written out).
    answer = client.post(
        f"/requests/{request_id}/approve",
        data={"csrf_token": csrf_of(page), "plan_digest": "0" * 64, "comment": "LGTM, ship"},
        headers=HTML,
    )
    assert answer.status_code == 409
    assert 'data-testid="new-plan"' in answer.text and 'value="LGTM, ship"' in answer.text
    assert "is not the current plan" in answer.text
    assert platform.get(request_id).approvals == []


def test_the_edit_form_saved_unchanged_is_accepted(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    import html

    request_id = _planned(platform)
    log_in(client, tokens["dev"])
    page = client.get(f"/requests/{request_id}/edit", headers=HTML).text
    found = re.search(r'<textarea id="f-tags"[^>]*>([^<]*)</textarea>', page)
    assert found is not None and "tfpilot:" not in found.group(1)  # the server's own tags
    answer = client.post(
        f"/requests/{request_id}/edit",
        data={
            "csrf_token": csrf_of(page),
            "input.name": "b1",
            "input.tags": html.unescape(found.group(1)),
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
