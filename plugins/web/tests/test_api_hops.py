"""The API's per-request cost (issue 31): a request read is identified, authorised, read and
encoded in one worker-thread hop, with the same answer, the same refusals and the same body as
the RequestView it documents."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest

from tfpilot_core.platform import Platform
from tfpilot_web.auth import revoke_token, token_hash
from tfpilot_web.schemas import RequestView

from .conftest import bearer
from .test_pages import log_in


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every worker-thread hop the server makes (what FastAPI and the middleware call)."""
    made: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return made


def _request(platform: Platform) -> str:
    made = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "logs", "password": "hunter2-secret"},
    )
    return made.id


def test_a_request_read_is_one_hop_with_the_documented_body(
    client: Any, platform: Platform, tokens: dict[str, str], hops: list[str]
) -> None:
    request_id = _request(platform)
    hops.clear()
    response = client.get(f"/api/requests/{request_id}", headers=bearer(tokens["dev"]))
    assert response.status_code == 200, response.text
    assert len(hops) == 1, hops
    # The body is what validating the core's view against RequestView gives (once, cached).
    expected = RequestView.model_validate(platform.view(platform.get(request_id)))
    assert response.json() == expected.model_dump(mode="json")
    assert response.json()["inputs"]["password"] == "(sensitive)"
    assert response.headers["content-type"] == "application/json"


def test_a_request_read_still_refuses_who_it_must(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    request_id = _request(platform)
    path = f"/api/requests/{request_id}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer("tfp_not-a-real-token")).status_code == 401
    assert (
        client.get("/api/requests/req_dev_bucket_zzzzzz", headers=bearer(tokens["dev"])).status_code
        == 404
    )
    assert client.get(path, headers=bearer(tokens["viv"])).status_code in (200, 403)
    # Revoked: refused on the very next request (nothing about the caller is cached).
    assert client.get(path, headers=bearer(tokens["appr"])).status_code == 200
    revoke_token(platform, "admin", token_hash(tokens["appr"])[:12])
    refused = client.get(path, headers=bearer(tokens["appr"]))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"


def test_other_api_reads_and_sessions_are_identified_as_before(
    client: Any, platform: Platform, tokens: dict[str, str], hops: list[str]
) -> None:
    """Routes taking ``Actor`` check deferred credentials in a hop of their own; a browser session
    reads the API as before, and an unsafe call still needs its CSRF token."""
    request_id = _request(platform)
    hops.clear()
    who = client.get("/api/whoami", headers=bearer(tokens["appr"]))
    assert who.status_code == 200 and who.json()["actor"] == "appr" and who.json()["via"] == "token"
    # The credentials, the route (a plain def) and FastAPI's validation of its response: the
    # actor dependency itself (async) no longer costs a hop of its own.
    assert len(hops) == 3, hops
    log_in(client, tokens["dev"])
    assert client.get("/api/whoami").json()["via"] == "session"
    assert client.get(f"/api/requests/{request_id}").status_code == 200
    unsafe = client.patch(f"/api/requests/{request_id}", json={"inputs": {"name": "x"}})
    assert unsafe.status_code == 403  # a cookie session without X-CSRF-Token


def test_whether_a_platform_read_takes_the_actor_is_answered_per_method(
    platform: Platform,
) -> None:
    """``core`` asks it on every read (cached per function since issue 31): the answer is still
    the method's own, for the Platform, an older core's reads without an actor, and callables
    that are not methods."""
    from tfpilot_web import core

    class OlderCore:
        def read(self, request_id: str) -> None: ...

        def list(self, actor: str, query: object) -> None: ...

    assert core._takes_actor(platform.read) and core._takes_actor(platform.list)
    assert not core._takes_actor(OlderCore().read) and core._takes_actor(OlderCore().list)
    assert core._takes_actor(lambda actor, request_id: None)
    assert not core._takes_actor(lambda request_id: None)
    assert not core._takes_actor(print)  # no signature to read: treated as taking none
