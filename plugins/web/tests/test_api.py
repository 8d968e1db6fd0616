"""The JSON API in process (TestClient): authentication, RBAC through the core, problem
details, paging, masking."""

from __future__ import annotations

from typing import Any

import pytest

from tfpilot_core.models import RunKind
from tfpilot_core.platform import Platform
from tfpilot_web.auth import revoke_token, token_hash
from tfpilot_web.problems import STATUS_BY_EXIT_CODE

from .conftest import bearer

CREATE = {
    "module": "test/bucket",
    "environment": "dev",
    "project": "shop",
    "inputs": {"name": "logs", "password": "hunter2-secret"},
}
ACTIONS = ["plan", "approve", "apply", "destroy", "check-drift", "promote"]


def _create(client: Any, token: str, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/requests", json={**CREATE, **changes}, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_openapi_describes_the_api(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3")
    assert "post" in doc["paths"]["/api/requests"]
    post = doc["paths"]["/api/requests"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["401"]["content"]
    assert "Problem" in doc["components"]["schemas"]
    # The UI's pages are not part of the API description.
    assert not any(p.startswith("/requests") for p in doc["paths"])


def test_without_credentials_every_action_is_401(client: Any, platform: Platform) -> None:
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "a"}
    )
    response = client.post("/api/requests", json=CREATE)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401
    for action in ACTIONS:
        body = {"plan_digest": "0" * 12} if action == "approve" else None
        answer = client.post(f"/api/requests/{request.id}/{action}", json=body)
        assert answer.status_code == 401, action
    assert client.get("/api/requests").status_code == 401
    assert client.get(f"/api/requests/{request.id}").status_code == 401
    assert client.patch(f"/api/requests/{request.id}", json={"inputs": {}}).status_code == 401
    bad = client.get("/api/requests", headers=bearer("tfp_not-a-real-token"))
    assert bad.status_code == 401


def test_lifecycle_over_http_with_rbac_from_the_core(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    created = _create(client, tokens["dev"])
    rid = created["id"]
    assert created["status"] == "request_created"
    # Sensitive inputs never come back, in any response.
    assert created["inputs"]["password"] != "hunter2-secret"
    viewer = bearer(tokens["viv"])
    assert client.post("/api/requests", json=CREATE, headers=viewer).status_code == 403

    planned = client.post(f"/api/requests/{rid}/plan", headers=bearer(tokens["dev"]))
    assert planned.status_code == 200, planned.text
    assert planned.json()["status"] == "plan_ready"
    digest = platform.get(rid).latest(RunKind.PLAN)
    assert digest is not None and digest.plan_digest

    # A viewer gets 403 from every action route: the core refuses, the API maps it.
    for action in ACTIONS:
        body = {"plan_digest": digest.plan_digest[:12]} if action == "approve" else None
        answer = client.post(f"/api/requests/{rid}/{action}", json=body, headers=viewer)
        assert answer.status_code == 403, (action, answer.text)
        assert answer.json()["exit_code"] == 6
    patch = client.patch(
        f"/api/requests/{rid}", json={"inputs": {"region": "local-2"}}, headers=viewer
    )
    assert patch.status_code == 403

    approver = bearer(tokens["appr"])
    wrong = client.post(
        f"/api/requests/{rid}/approve", json={"plan_digest": "a" * 12}, headers=approver
    )
    assert wrong.status_code == 409 and wrong.json()["error"] == "ConflictError"
    approved = client.post(
        f"/api/requests/{rid}/approve",
        json={"plan_digest": digest.plan_digest[:12], "comment": "ok"},
        headers=approver,
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    applied = client.post(f"/api/requests/{rid}/apply", headers=approver)
    assert applied.status_code == 200 and applied.json()["status"] == "applied"

    timeline = client.get(f"/api/requests/{rid}/timeline", headers=viewer).json()
    types = [e["type"] for e in timeline["events"]]
    assert types[0] == "request_created" and "approved" in types and "apply_succeeded" in types
    audit = client.get(f"/api/requests/{rid}/audit", headers=viewer)
    assert audit.status_code == 200
    everything = client.get(f"/api/requests/{rid}", headers=viewer).text + str(timeline)
    assert "hunter2-secret" not in everything + audit.text

    drift = client.get("/api/drift", headers=viewer).json()
    assert [d["id"] for d in drift] == [rid]


def test_list_filters_and_cursor_paging(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    for i in range(5):
        _create(
            client, tokens["dev"], inputs={"name": f"b{i}"}, project="shop" if i % 2 else "blog"
        )
    headers = bearer(tokens["viv"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/requests", params=params, headers=headers).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    shop = client.get("/api/requests", params={"project": "shop"}, headers=headers).json()
    assert len(shop["items"]) == 2
    assert all(r["placement"]["project"] == "shop" for r in shop["items"])
    bad = client.get("/api/requests", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422


def test_errors_are_problem_details(client: Any, tokens: dict[str, str]) -> None:
    headers = bearer(tokens["dev"])
    invalid = client.post(
        "/api/requests",
        json={**CREATE, "inputs": {"name": "x", "region": "mars"}},
        headers=headers,
    )
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["error"] == "ValidationError" and body["exit_code"] == 3
    assert any(p["field"] == "inputs.region" for p in body["problems"])
    missing = client.get("/api/requests/req_dev_test-bucket_abcdef", headers=headers)
    assert missing.status_code in (404, 422)
    assert client.get("/api/requests/..%2Fetc", headers=headers).status_code in (404, 422)
    unknown = client.post("/api/requests", json={**CREATE, "module": "no/such"}, headers=headers)
    assert unknown.status_code == 404
    malformed = client.post(
        "/api/requests", content=b"{", headers={**headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("exit_code", "status"), sorted(STATUS_BY_EXIT_CODE.items()))
def test_exit_code_classes_map_to_http(exit_code: int, status: int) -> None:
    from tfpilot_core.errors import ExitCode

    expected = {
        ExitCode.VALIDATION: 422,
        ExitCode.FORBIDDEN: 403,
        ExitCode.NOT_FOUND: 404,
        ExitCode.CONFLICT: 409,
        ExitCode.POLICY: 409,
        ExitCode.CONFIG: 500,
        ExitCode.PLUGIN: 502,
        ExitCode.EXTERNAL: 502,
        ExitCode.INTERNAL: 500,
    }
    assert expected[exit_code] == status


def test_revoked_tokens_stop_working(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["dev"])
    assert client.get("/api/whoami", headers=headers).json() == {
        "actor": "dev",
        "role": "developer",
        "via": "token",
    }
    revoke_token(platform, "admin", token_hash(tokens["dev"])[:12])
    assert client.get("/api/whoami", headers=headers).status_code == 401


def test_catalog_is_public(client: Any) -> None:
    modules = client.get("/api/catalog").json()
    assert "test/bucket" in [m["name"] for m in modules]
    detail = client.get("/api/catalog/test/bucket").json()
    assert detail["input_schema"]["properties"]["password"]["writeOnly"] is True
    assert client.get("/api/catalog/no/such").status_code == 404


def test_audit_verify_and_suggestions_when_the_core_has_them(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    rid = _create(client, tokens["dev"])["id"]
    headers = bearer(tokens["viv"])
    if hasattr(platform, "verify_audit"):
        report = client.get(f"/api/requests/{rid}/audit/verify", headers=headers)
        assert report.status_code == 200 and report.json()["ok"] is True
    if hasattr(platform, "suggestions"):
        found = client.get(f"/api/requests/{rid}/suggestions", headers=headers)
        assert found.status_code == 200, found.text
        assert found.json()["request_id"] == rid
    assert client.get(f"/api/requests/{rid}/audit/verify").status_code in (401, 404)


def test_cached_listing_matches_the_platform_view(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    import json

    rid = _create(client, tokens["dev"])["id"]
    headers = bearer(tokens["dev"])
    first = client.get("/api/requests", headers=headers).json()["items"]
    assert first == [json.loads(json.dumps(platform.view(platform.get(rid))))]
    client.post(f"/api/requests/{rid}/plan", headers=headers)
    # A write bumps the version: the listing shows the new facts, not a stale cached view.
    [after] = client.get("/api/requests", headers=headers).json()["items"]
    assert after["status"] == "plan_ready" and after["version"] > first[0]["version"]


def test_logs_and_metrics_when_the_core_has_them(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    import importlib.util

    rid = _create(client, tokens["dev"])["id"]
    client.post(f"/api/requests/{rid}/plan", headers=bearer(tokens["dev"]))
    headers = bearer(tokens["viv"])
    if importlib.util.find_spec("tfpilot_core.run_logs"):
        [entry] = client.get(f"/api/requests/{rid}/logs", headers=headers).json()
        assert entry["kind"] == "plan" and entry["conclusion"] == "success"
        assert client.get(f"/api/requests/{rid}/logs").status_code == 401
    if importlib.util.find_spec("tfpilot_core.metrics"):
        report = client.get("/api/metrics", params={"since": "1d"}, headers=headers)
        assert report.status_code == 200, report.text
        assert (
            client.get("/api/metrics", params={"since": "soon"}, headers=headers).status_code == 422
        )
