"""Templates, cost and ask over the JSON API (TestClient): RBAC from the core, problem details,
the core's renderers and the actor's read scope."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tfpilot_core.models import CostEstimate, CostLine, Request
from tfpilot_core.platform import Platform
from tfpilot_core.registrations import Registration
from tfpilot_core.testing import plugin_with

from .conftest import bearer

TEMPLATE = {
    "name": "small-bucket",
    "module": "test/bucket",
    "description": "A bucket in local-1",
    "defaults": {"region": "local-1"},
    "locked": ["region"],
}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_templates_lifecycle_admins_write_everyone_reads(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    admin, dev = bearer(tokens["admin"]), bearer(tokens["dev"])
    # Writes are for admins (the core decides): a developer gets 403, nothing is stored.
    _problem(client.post("/api/templates", json=TEMPLATE, headers=dev), 403)
    assert client.get("/api/templates", headers=dev).json() == []

    created = client.post("/api/templates", json=TEMPLATE, headers=admin)
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["name"] == "small-bucket" and record["retired"] is False
    assert [v["version"] for v in record["versions"]] == [1]
    assert record["versions"][0]["created_by"] == "admin"
    # The same name again conflicts.
    _problem(client.post("/api/templates", json=TEMPLATE, headers=admin), 409)

    listed = client.get("/api/templates", headers=dev, params={"module": "test/bucket"}).json()
    assert [t["name"] for t in listed] == ["small-bucket"]
    assert client.get("/api/templates", headers=dev, params={"module": "other/x"}).json() == []
    shown = client.get("/api/templates/small-bucket", headers=dev)
    assert shown.status_code == 200 and shown.json()["versions"][0]["locked"] == ["region"]

    # A request made from the template gets the locked value; setting it is refused per field.
    made = client.post(
        "/api/requests",
        json={
            "module": "test/bucket",
            "environment": "dev",
            "project": "shop",
            "inputs": {"name": "logs", "region": "local-2"},
            "template_id": "small-bucket",
        },
        headers=dev,
    )
    assert _problem(made, 422)["problems"][0]["field"] == "inputs.region"

    _problem(client.patch("/api/templates/small-bucket", json={"locked": []}, headers=dev), 403)
    updated = client.patch(
        "/api/templates/small-bucket", json={"locked": [], "environment": "dev"}, headers=admin
    )
    assert updated.status_code == 200, updated.text
    versions = updated.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[-1]["locked"] == [] and versions[-1]["environment"] == "dev"
    assert versions[-1]["description"] == "A bucket in local-1"  # not given: unchanged

    _problem(client.post("/api/templates/small-bucket/retire", headers=dev), 403)
    retired = client.post("/api/templates/small-bucket/retire", headers=admin)
    assert retired.status_code == 200 and retired.json()["retired"] is True
    assert retired.json()["retired_by"] == "admin"
    assert client.get("/api/templates", headers=dev).json() == []
    assert len(client.get("/api/templates?include_retired=true", headers=dev).json()) == 1
    # A retired template can be neither used nor updated.
    refused = client.post(
        "/api/requests",
        json={
            "module": "test/bucket",
            "environment": "dev",
            "project": "shop",
            "inputs": {"name": "logs"},
            "template_id": "small-bucket",
        },
        headers=dev,
    )
    _problem(refused, 403)
    _problem(
        client.patch("/api/templates/small-bucket", json={"description": "x"}, headers=admin), 403
    )


def test_template_errors_name_the_field(client: Any, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    _problem(client.get("/api/templates/nope", headers=admin), 404)
    bad_name = client.get("/api/templates/Not_A_Name", headers=admin)
    assert _problem(bad_name, 422)["problems"][0]["field"] == "template"
    unknown_input = client.post(
        "/api/templates", json={**TEMPLATE, "defaults": {"colour": "red"}}, headers=admin
    )
    assert _problem(unknown_input, 422)["problems"][0]["field"] == "defaults.colour"
    unknown_env = client.post(
        "/api/templates", json={**TEMPLATE, "environment": "mars"}, headers=admin
    )
    assert _problem(unknown_env, 422)["problems"][0]["field"] == "environment"
    _problem(
        client.post("/api/templates", json={**TEMPLATE, "module": "no/such"}, headers=admin), 404
    )
    _problem(client.get("/api/templates"), 401)


ESTIMATE = CostEstimate(
    monthly=Decimal("22.30"),
    previous=Decimal("10.00"),
    estimator="test",
    lines=[
        CostLine(
            address="sandbox_bucket.this",
            resource_type="sandbox_bucket",
            monthly=Decimal("22.30"),
            previous=Decimal("10.00"),
        )
    ],
)


@pytest.fixture
def estimator(register_plugin: Callable[..., str]) -> list[Request]:
    """A cost estimator pricing every plan at ESTIMATE; records the requests it priced."""
    seen: list[Request] = []

    class Estimator:
        def estimate(self, request: Request, plan: Any) -> CostEstimate:
            seen.append(request)
            return ESTIMATE

    register_plugin(
        plugin_with(
            "tfpilot_register_cost_estimators",
            lambda: [Registration(name="test", factory=lambda s, c: Estimator())],
        ),
        name="test_cost",
    )
    return seen


def test_cost_is_the_stored_estimate_rendered_by_the_core(
    estimator: list[Request], client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.cost import delta_phrase, render_markdown

    dev = bearer(tokens["dev"])
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "a"}
    )
    # Not planned yet: no estimate, a 404 that says what to do.
    missing = _problem(client.get(f"/api/requests/{request.id}/cost", headers=dev), 404)
    assert "plan it first" in missing["detail"]

    platform.plan("dev", request.id)
    assert len(estimator) == 1
    response = client.get(f"/api/requests/{request.id}/cost", headers=dev)
    assert response.status_code == 200, response.text
    cost = response.json()
    stored = platform.get(request.id).cost
    assert stored is not None
    assert cost["request_id"] == request.id
    assert (cost["monthly"], cost["previous"], cost["delta"]) == ("22.30", "10.00", "12.30")
    assert cost["phrase"] == delta_phrase(stored)
    assert cost["markdown"] == render_markdown(stored)
    assert [t["address"] for t in cost["top"]] == ["sandbox_bucket.this"]
    assert client.get(f"/api/requests/{request.id}/cost?top=0", headers=dev).json()["top"] == []
    # Showing it again runs no estimator.
    assert len(estimator) == 1
    _problem(client.get(f"/api/requests/{request.id}/cost"), 401)
    _problem(client.get("/api/requests/req_dev_bucket_zzzzzz/cost", headers=dev), 404)
    _problem(client.get(f"/api/requests/{request.id}/cost?top=-1", headers=dev), 422)


def test_ask_answers_within_the_callers_read_scope(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    from tfpilot_core.config import Grant, UserSettings
    from tfpilot_core.models import Role
    from tfpilot_web.auth import create_token

    for name, project in (("a", "shop"), ("b", "shop"), ("c", "web")):
        platform.create(
            "dev", module="test/bucket", environment="dev", project=project, inputs={"name": name}
        )
    question = {"question": "how many requests are in dev?"}
    asked = client.post("/api/ask", json=question, headers=bearer(tokens["dev"]))
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["answered"] is True and body["query"] is not None
    assert body["answer"] == "3 requests match."
    assert body["result"]["count"] == 3

    # A user who may read only project "shop" is answered about shop's requests only.
    platform.config.users["shopper"] = UserSettings(
        grants=[Grant(role=Role.VIEWER, projects=["shop"])]
    )
    shopper = create_token(platform, "admin", user="shopper")[0]
    scoped = client.post("/api/ask", json=question, headers=bearer(shopper))
    assert scoped.status_code == 200, scoped.text
    assert scoped.json()["result"]["count"] == 2
    assert scoped.json()["answer"] == "2 requests match."

    not_understood = client.post(
        "/api/ask",
        json={"question": "what is the airspeed of a swallow"},
        headers=bearer(tokens["dev"]),
    )
    problem = _problem(not_understood, 422)
    assert problem["problems"][0]["field"] == "question"
    assert "how many requests" in problem["detail"]
    _problem(client.post("/api/ask", json={"question": ""}, headers=bearer(tokens["dev"])), 422)
    _problem(client.post("/api/ask", json={"question": "how many?"}), 401)


def test_openapi_describes_the_new_routes(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert {"get", "post"} <= set(paths["/api/templates"])
    assert {"get", "patch"} <= set(paths["/api/templates/{name}"])
    assert "post" in paths["/api/templates/{name}/retire"]
    assert "get" in paths["/api/requests/{request_id}/cost"]
    assert "post" in paths["/api/ask"]
    schemas = doc["components"]["schemas"]
    assert {"CostReport", "AskBody", "AskAnswer", "CreateTemplateBody", "TemplateRecord"} <= set(
        schemas
    )
    create = paths["/api/templates"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(create)
