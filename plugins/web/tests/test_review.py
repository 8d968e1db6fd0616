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


def test_reject_is_offered_only_when_the_core_has_it(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _planned(platform)
    log_in(client, tokens["appr"])
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="reject-form"' not in page  # this core has no Platform.reject yet
    calls: list[tuple[Any, ...]] = []

    def reject(actor: str, rid: str, *, plan: str, reason: str, request_changes: bool) -> None:
        calls.append((actor, rid, plan, reason, request_changes))

    # Stands in for the lifecycle action the core will add (the form is built against it).
    platform.reject = reject  # type: ignore[attr-defined]
    page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert 'data-testid="reject-form"' in page
    answer = client.post(
        f"/requests/{request_id}/reject",
        data={
            "csrf_token": csrf_of(page),
            "plan_digest": "abc",
            "reason": "too big",
            "request_changes": "yes",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert calls == [("appr", request_id, "abc", "too big", True)]


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
