"""The second part of the UI in process: metrics dashboard, templates, notification preferences
and outbox, chat (assistant and ask), admin (users, tokens with expiry)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tfpilot_core.platform import Platform
from tfpilot_web import create_app

from .test_pages import HTML, csrf_of, log_in


@pytest.fixture
def admin(client: TestClient, tokens: dict[str, str]) -> TestClient:
    log_in(client, tokens["admin"])
    return client


def seed(platform: Platform) -> list[str]:
    """Three requests: two applied (dev/shop, dev/web), one planned (prod/shop)."""
    from tfpilot_web import core

    ids = []
    for i, (env, project) in enumerate([("dev", "shop"), ("dev", "web"), ("prod", "shop")]):
        r = platform.create(
            "dev", module="test/bucket", environment=env, project=project, inputs={"name": f"b{i}"}
        )
        ids.append(r.id)
        platform.plan("dev", r.id)
        if i < 2:
            digest = core.current_plan_digest(platform.get(r.id))
            assert digest
            platform.approve("appr", r.id, plan_digest=digest)
            platform.apply("appr", r.id)
    return ids


def numbers(page: str, series: str) -> dict[str, float]:
    """The values a chart of ``series`` was drawn from (its data attributes)."""
    found = re.findall(
        rf'data-series="{re.escape(series)}" data-label="([^"]*)" data-value="([^"]*)"', page
    )
    return {label: float(value) for label, value in found}


def test_metrics_page_draws_the_numbers_of_the_metrics_report(
    admin: TestClient, platform: Platform
) -> None:
    from tfpilot_core.metrics import metrics

    seed(platform)
    page = admin.get("/metrics", headers=HTML)
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") >= 9
    report = metrics(platform.store, since=timedelta(days=7))
    statuses = report["totals"]["requests"]["by_status"]
    assert statuses and numbers(page.text, "status") == {k: float(v) for k, v in statuses.items()}
    by_env = metrics(platform.store, since=timedelta(days=7), by="env")["groups"]
    dev = by_env["dev"]["durations_seconds"]
    row = re.search(r'<tr data-env="dev">(.*?)</tr>', page.text, re.S)
    assert row and f"{dev['apply']['p50']} / {dev['apply']['p95']}" in row.group(1)
    assert f"{dev['plan']['p50']} / {dev['plan']['p95']}" in row.group(1)
    # Every dev apply happened today, so the last daily bucket holds them all: its p95 point
    # is the window's p95 of dev.
    apply_p95 = numbers(page.text, "apply dev p95")
    assert apply_p95 and list(apply_p95.values())[-1] == dev["apply"]["p95"]
    assert "prod" not in {
        k.split()[1] for k in re.findall(r'data-series="(apply [^"]+)"', page.text)
    }
    assert report["totals"]["requests"]["created"] == 3


def test_metrics_filters_and_read_grants(
    client: TestClient, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.config import Grant, UserSettings
    from tfpilot_core.models import Role

    seed(platform)
    platform.config.users["scoped"] = UserSettings(
        grants=[Grant(role=Role.VIEWER, projects=["web"])]
    )
    from tfpilot_web.auth import create_token

    token = create_token(platform, "admin", user="scoped")[0]
    log_in(client, token)
    page = client.get("/metrics", headers=HTML).text
    # Only the dev/web request is readable: one request by status.
    assert sum(numbers(page, "status").values()) == 1.0
    client.cookies.clear()
    log_in(client, tokens["admin"])
    filtered = client.get("/metrics?environment=prod", headers=HTML).text
    assert numbers(filtered, "status") == {"plan_ready": 1.0}
    by_project = client.get("/metrics?project=web", headers=HTML).text
    assert sum(numbers(by_project, "status").values()) == 1.0
    assert client.get("/metrics?since=nonsense", headers=HTML).status_code == 422


def test_templates_pages_create_update_diff_retire(admin: TestClient, platform: Platform) -> None:
    page = admin.get("/templates/new", headers=HTML)
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "small",
        "module": "test/bucket",
        "description": "Small bucket",
        "defaults": '{"region": "local-2", "versioning": true}',
        "locked": "region",
        "allowed_overrides": "name",
    }
    created = admin.post("/templates/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    bad = admin.post("/templates/new", data={**form, "name": "other", "defaults": "[1"})
    assert bad.status_code == 422 and "defaults" in bad.text
    r = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "x1"},
        template_id="small",
    )
    shown = admin.get("/templates/small", headers=HTML).text
    assert "region" in shown and r.id in shown
    edit = admin.get("/templates/small?edit=1", headers=HTML).text
    assert "local-2" in edit
    update = {
        **form,
        "csrf_token": csrf_of(edit),
        "defaults": '{"region": "local-1", "versioning": true}',
    }
    assert admin.post("/templates/small", data=update, follow_redirects=False).status_code == 303
    diff = admin.get("/templates/small?a=1&b=2", headers=HTML).text
    assert "defaults.region" in diff and "local-2" in diff and "local-1" in diff
    assert "defaults.versioning" not in diff  # unchanged defaults are kept, not replaced
    listing = admin.get("/templates", headers=HTML).text
    assert "small" in listing and "v2" in listing
    retire = admin.post(
        "/templates/small/retire", data={"csrf_token": csrf_of(diff)}, follow_redirects=False
    )
    assert retire.status_code == 303
    assert "retired" in admin.get("/templates/small", headers=HTML).text


def test_templates_writes_need_admin(client: TestClient, tokens: dict[str, str]) -> None:
    log_in(client, tokens["dev"])
    page = client.get("/templates", headers=HTML)
    assert page.status_code == 200 and "New template" not in page.text
    refused = client.post(
        "/templates/new",
        data={"csrf_token": csrf_of(page.text), "name": "x", "module": "test/bucket"},
        headers=HTML,
    )
    assert refused.status_code == 403


def test_preferences_page_saves_and_validates(
    client: TestClient, platform: Platform, tokens: dict[str, str]
) -> None:
    log_in(client, tokens["dev"])
    page = client.get("/notifications", headers=HTML)
    assert page.status_code == 200 and "Quiet hours" in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "channel.email": "dev@example.test",
        "events_all": "yes",
        "environment.dev": "yes",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "quiet_timezone": "Europe/Paris",
        "drift_digest": "yes",
    }
    saved = client.post("/notifications", data=form, follow_redirects=False)
    assert saved.status_code == 303
    prefs = platform.notifications.preferences("dev")
    assert prefs.quiet_hours is not None and prefs.quiet_hours.timezone == "Europe/Paris"
    assert prefs.environments == ["dev"] and prefs.events is None and prefs.drift_digest
    assert prefs.channels == {"email": "dev@example.test"}
    bad = client.post("/notifications", data={**form, "quiet_start": "25:00"})
    assert bad.status_code == 422 and "HH:MM" in bad.text
    # Someone else's preferences: only admins.
    assert client.get("/notifications?user=admin", headers=HTML).status_code == 403
    assert client.get("/notifications/outbox", headers=HTML).status_code == 403


def test_outbox_lists_and_retries_for_admins(admin: TestClient) -> None:
    page = admin.get("/notifications/outbox?view=dead", headers=HTML)
    assert page.status_code == 200 and "Dead-lettered" in page.text


def test_chat_assistant_creates_a_request_after_yes(
    admin: TestClient, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.models import RequestQuery

    chat = admin.get("/chat", headers=HTML)
    started = admin.post(
        "/chat/new", data={"csrf_token": csrf_of(chat.text)}, follow_redirects=False
    )
    location = started.headers["location"]
    answers = {
        "describe": "a bucket for files",
        "module": "test/bucket",
        "environment": "dev",
        "project": "chat",
        "input:name": "fromchat",
        "input:region": "local-9",  # refused: not in the allowlist, asked again
    }
    seen = []
    for _ in range(30):
        page = admin.get(location, headers=HTML).text
        key = re.search(r'name="key" value="([^"]+)"', page)
        if key is None:
            break
        k = key.group(1)
        seen.append(k)
        if k == "input:region" and seen.count(k) == 2:
            value = "local-2"
        elif k == "confirm":
            assert "policy" in page and not platform.list("admin", RequestQuery()).items
            value = "yes"
        else:
            value = answers.get(k, "")
        admin.post(location, data={"csrf_token": csrf_of(page), "key": k, "answer": value})
    assert seen.count("input:region") == 2 and "not accepted" in page
    # An empty answer is stored as the default it took (replays stay the same with a model).
    record = platform.store.get_record("web_chat", location.rsplit("/", 1)[1])
    assert record is not None
    stored = {a["key"]: a["answer"] for a in record.value["answers"]}
    assert stored["input:versioning"] == "true" and stored["confirm"] == "yes"
    assert "confirm" in seen
    created = platform.list("admin", RequestQuery()).items
    assert len(created) == 1 and created[0].inputs["region"] == "local-2"
    assert created[0].id in page
    # A stale form (the confirm again) creates nothing more.
    admin.post(location, data={"csrf_token": csrf_of(page), "key": "confirm", "answer": "yes"})
    assert len(platform.list("admin", RequestQuery()).items) == 1
    # Conversations are private.
    other = TestClient(create_app(platform))
    log_in(other, tokens["dev"])
    assert other.get(location, headers=HTML).status_code == 403


def test_chat_ask_shows_the_query(admin: TestClient, platform: Platform) -> None:
    seed(platform)
    chat = admin.get("/chat", headers=HTML).text
    admin.post(
        "/chat/ask", data={"csrf_token": csrf_of(chat), "question": "how many requests in dev"}
    )
    page = admin.get("/chat", headers=HTML).text
    assert "2 requests match" in page, page
    assert "&#34;environment&#34;" in page or "environment" in page
    assert 'data-testid="query"' in page


def test_admin_page_users_and_tokens_with_expiry(admin: TestClient, platform: Platform) -> None:
    page = admin.get("/admin", headers=HTML)
    assert page.status_code == 200 and "appr" in page.text and "approver" in page.text
    made = admin.post(
        "/admin/tokens",
        data={
            "csrf_token": csrf_of(page.text),
            "user": "viv",
            "name": "ci",
            "expires_in_days": "7",
        },
    )
    assert made.status_code == 201 and "not shown again" in made.text
    token = re.search(r'value="(tfp_[^"]+)"', made.text)
    assert token
    assert (
        admin.get("/api/whoami", headers={"Authorization": f"Bearer {token.group(1)}"}).json()[
            "actor"
        ]
        == "viv"
    )
    from tfpilot_web.auth import list_tokens

    listed = [t for t in list_tokens(platform, "admin") if t["name"] == "ci"]
    assert listed and listed[0]["expires_at"]
    revoked = admin.post(
        f"/admin/tokens/{listed[0]['id']}/revoke",
        data={"csrf_token": csrf_of(made.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert (
        admin.get("/api/whoami", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code
        == 401
    )


def test_expired_tokens_stop_working(platform: Platform, client: TestClient) -> None:
    from tfpilot_core.models import utcnow
    from tfpilot_web.auth import create_token

    token, _ = create_token(
        platform, "admin", user="dev", expires_at=utcnow() + timedelta(seconds=1)
    )
    assert (
        client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    with pytest.raises(Exception, match="future"):
        create_token(platform, "admin", user="dev", expires_at=utcnow() - timedelta(seconds=1))
    import time

    time.sleep(1.2)
    assert (
        client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_navigation_reaches_every_new_page(admin: TestClient) -> None:
    home = admin.get("/", headers=HTML).text
    for path in ("/templates", "/metrics", "/chat", "/notifications", "/admin"):
        assert f'href="{path}"' in home
        assert admin.get(path, headers=HTML).status_code == 200, path


def test_module_form_offers_templates_with_read_only_fields(
    client: TestClient, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.templates import Templates

    Templates(platform).create(
        "admin",
        "small",
        module="test/bucket",
        environment="dev",
        defaults={"region": "local-2", "versioning": False},
        locked=["region"],
        allowed_overrides=["name"],
    )
    log_in(client, tokens["dev"])
    plain = client.get("/catalog/test/bucket", headers=HTML).text
    assert 'name="template"' in plain and "small v1" in plain
    page = client.get("/catalog/test/bucket?template=small", headers=HTML).text
    region = re.search(r'<select id="f-region"[^>]*>', page)
    assert region and "disabled" in region.group(0)
    assert re.search(r'<option value="local-2" selected>', page)
    assert 'data-testid="fixed-versioning"' in page and 'data-testid="fixed-name"' not in page
    form = {
        "csrf_token": csrf_of(page),
        "template": "small",
        "project": "shop",
        "environment": "dev",
        "input.name": "fromtemplate",
        "input.region": "local-1",  # a tampered post of a read-only field is not used
    }
    created = client.post("/catalog/test/bucket", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    request = platform.get(created.headers["location"].rsplit("/", 1)[1])
    assert request.placement.template_id == "small"
    assert request.inputs["region"] == "local-2" and request.inputs["versioning"] is False
    # The pinned environment is the template's: another one is refused, naming the field.
    wrong = client.post("/catalog/test/bucket", data={**form, "environment": "prod"})
    assert wrong.status_code == 422 and "is for environment dev" in wrong.text, wrong.text


def test_catalog_search_and_filters(client: TestClient) -> None:
    page = client.get("/catalog", headers=HTML).text
    assert 'role="search"' in page and "test/bucket" in page
    assert "test/bucket" in client.get("/catalog?q=bucket+test", headers=HTML).text
    assert "test/bucket" not in client.get("/catalog?q=database", headers=HTML).text
    assert "test/bucket" in client.get("/catalog?category=storage&risk=low", headers=HTML).text
    assert "test/bucket" not in client.get("/catalog?risk=high", headers=HTML).text


def test_module_form_examples_prefill_suffix_protected_and_projects(
    client: TestClient, platform: Platform
) -> None:
    from tfpilot_core.config import Grant, UserSettings
    from tfpilot_core.models import Role
    from tfpilot_web.auth import create_token

    platform.config.users["scoped"] = UserSettings(
        grants=[Grant(role=Role.DEVELOPER, projects=["shop", "web"])]
    )
    log_in(client, create_token(platform, "admin", user="scoped")[0])
    page = client.get("/catalog/test/bucket?input.name=logs&input.region=local-2", headers=HTML)
    assert page.status_code == 200
    assert re.search(r'id="f-name"[^>]*value="logs"', page.text)
    assert re.search(r'<option value="local-2" selected>', page.text)
    assert "logs-xxxxxx" in page.text  # the suffix the name will get, before submitting
    assert '<datalist id="f-projects"><option value="shop"></option><option value="web">' in (
        page.text
    )
    protected = [e.key for e in platform.config.core.environments if e.protected]
    for key in protected:
        assert f">{key} (protected)</option>" in page.text


def test_policy_preview_fragment(client: TestClient, tokens: dict[str, str]) -> None:
    log_in(client, tokens["dev"])
    page = client.get("/catalog/test/bucket", headers=HTML).text
    assert 'hx-post="/catalog-preview/test/bucket"' in page and "delay:600ms" in page
    form = {"csrf_token": csrf_of(page), "environment": "dev", "input.name": "ok"}
    waiting = client.post("/catalog-preview/test/bucket", data=form)
    assert waiting.status_code == 200 and "Fill in the project" in waiting.text
    bad = client.post(
        "/catalog-preview/test/bucket",
        data={**form, "project": "shop", "input.region": "local-9"},
    )
    assert bad.status_code == 200 and "<dt>region</dt>" in bad.text
    good = client.post("/catalog-preview/test/bucket", data={**form, "project": "shop"})
    assert "region" not in good.text
    # Without the session's CSRF token the preview is refused like any form post.
    assert client.post("/catalog-preview/test/bucket", data={"project": "x"}).status_code == 403


def test_catalog_shows_usage_to_readers(
    client: TestClient, platform: Platform, tokens: dict[str, str]
) -> None:
    seed(platform)
    assert "Requests you can see" not in client.get("/catalog", headers=HTML).text
    log_in(client, tokens["admin"])
    page = client.get("/catalog", headers=HTML).text
    assert '<td data-usage="test/bucket">3</td>' in page
