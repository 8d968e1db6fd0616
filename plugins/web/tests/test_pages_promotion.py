"""The promotion panel, page and action in process (fake runner): gates, dry run, refusals, the
chain both ways. The browser test (``test_promotion_browser.py``) does it with real Terraform."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tfpilot_core.models import DriftResult, DriftState
from tfpilot_core.platform import Platform
from tfpilot_core.stores.cas import update_request
from tfpilot_web.core import current_plan_digest

from .test_pages import HTML, csrf_of, log_in


def _created(platform: Platform) -> str:
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "versioning": False},
    )
    return str(request.id)


def _applied_and_checked(platform: Platform) -> str:
    request_id = _created(platform)
    platform.plan("dev", request_id)
    platform.approve("appr", request_id, plan_digest=current_plan_digest(platform.get(request_id)))
    platform.apply("appr", request_id)

    def checked(current: Any) -> Any:
        current.drift = DriftState(checked_at=datetime.now(UTC), result=DriftResult.NONE)
        return current

    update_request(platform.store, request_id, checked)
    return request_id


def _gates(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-gate="(\w+)">.*?class="status [^"]+">(\w+)<', page, re.S)
    return dict(rows)


def test_an_unapplied_request_shows_the_refusing_gates_and_no_button(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _created(platform)
    log_in(client, tokens["dev"])
    panel = client.get(f"/requests/{request_id}/promotion", headers=HTML)
    assert panel.status_code == 200
    gates = _gates(panel.text)
    assert list(gates) == ["applied", "drift_free", "drift_check_age", "soak", "path"]
    assert gates["applied"] == "refuses" and gates["drift_free"] == "refuses"
    assert gates["path"] == "passes" and "never checked for drift" in panel.text
    assert 'data-testid="promote"' not in panel.text
    page = client.get(f"/promote/{request_id}", headers=HTML)
    assert page.status_code == 200 and "<h1>Promote" in page.text
    # The request page loads the panel, and links to the page without JavaScript.
    request_page = client.get(f"/requests/{request_id}", headers=HTML).text
    assert f'hx-get="/requests/{request_id}/promotion"' in request_page
    assert f'href="/promote/{request_id}"' in request_page
    # Promoting anyway: the core's gate refuses, shown on the page (409).
    refused = client.post(
        f"/promote/{request_id}", data={"csrf_token": csrf_of(page.text)}, headers=HTML
    )
    assert refused.status_code == 409
    assert 'role="alert"' in refused.text and "gate &#39;applied&#39;" in refused.text
    assert platform.get(request_id).promoted_to == []


def test_promote_from_the_page_and_the_chain_links_both_ways(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    source = _applied_and_checked(platform)
    log_in(client, tokens["dev"])
    page = client.get(f"/promote/{source}", headers=HTML).text
    assert set(_gates(page).values()) == {"passes"}
    assert 'data-testid="promote"' in page and "Promote to stage" in page
    assert 'data-testid="promotion-diff"' in page
    assert platform.get(source).promoted_to == []  # the dry run stores nothing
    done = client.post(
        f"/promote/{source}",
        data={"csrf_token": csrf_of(page), "to": "stage"},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    target = done.headers["location"].rsplit("/", 1)[-1]
    assert platform.get(source).promoted_to == [target]
    assert platform.get(target).promoted_from == source
    panel = client.get(f"/requests/{target}/promotion", headers=HTML).text
    assert f'<a href="/requests/{source}" data-testid="chain-link">' in panel
    assert 'aria-current="page"' in panel and "promoted by dev" in panel
    back = client.get(f"/requests/{source}", headers=HTML).text
    assert f'<dt>Promoted to</dt><dd><a href="/requests/{target}">' in back
    source_panel = client.get(f"/requests/{source}/promotion", headers=HTML).text
    assert f'<a href="/requests/{target}" data-testid="chain-link">' in source_panel
    assert 'data-testid="promoted-to"' in source_panel
    # The API's view names the other end too.
    assert client.get(
        f"/api/requests/{source}", headers={"Authorization": f"Bearer {tokens['dev']}"}
    ).json()["promoted_to"] == [target]


def test_a_viewer_sees_the_panel_but_may_not_promote(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    source = _applied_and_checked(platform)
    log_in(client, tokens["viv"])
    page = client.get(f"/promote/{source}", headers=HTML)
    assert page.status_code == 200 and set(_gates(page.text).values()) == {"passes"}
    assert 'data-testid="promote"' not in page.text
    refused = client.post(
        f"/promote/{source}", data={"csrf_token": csrf_of(page.text)}, headers=HTML
    )
    assert refused.status_code == 403
    assert platform.get(source).promoted_to == []
