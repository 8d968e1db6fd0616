"""Nothing the server logs carries a credential or a sensitive value, whatever goes wrong.

A real ``tfpilot serve`` process (the CLI's logging, uvicorn and its access log) gets credentials
and sensitive inputs in every part of a request (headers, cookies, query, form and JSON body)
on calls that fail with a bug (500); its whole output is then searched for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .serve_support import serve

#: Planted values: none may appear in the log. Each is long and unique, so a hit is a leak.
PLANTED = {
    "cookie_session": "SESSIONcookieVALUE-5f1e2d3c4b5a",
    "cookie_other": "CSRFcookieVALUE-0a9b8c7d6e5f",
    "query_token": "QUERYtokenVALUE-1a2b3c4d5e6f",
    "query_password": "QUERYpasswordVALUE-6f5e4d3c2b1a",
    "form_password": "FORMpasswordVALUE-9e8d7c6b5a4f",
    "form_secret": "FORMsecretVALUE-4f5a6b7c8d9e",
    "json_password": "JSONpasswordVALUE-2b3c4d5e6f7a",
    "json_api_key": "JSONapikeyVALUE-7a6f5e4d3c2b",
    "hub_signature": "sha256=" + "ab12" * 16,
    "slack_signature": "v0=" + "cd34" * 16,
    "slack_secret": "xoxb-1111111111-2222222222-SLACKtokenVALUE",
    "github_token": "ghp_GITHUBtokenVALUE0123456789abcdef",
    "api_key_header": "APIKEYheaderVALUE-3c2b1a0f9e8d",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    with serve(tmp_path) as served:
        yield served.base, served.token, served.log


def test_a_500_logs_no_credential_or_sensitive_input_and_carries_the_security_headers(
    server: tuple[str, str, Path],
) -> None:
    base, token, log = server
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Hub-Signature-256": PLANTED["hub_signature"],
        "X-Slack-Signature": PLANTED["slack_signature"],
        "X-Slack-Token": PLANTED["slack_secret"],
        "X-GitHub-Token": PLANTED["github_token"],
        "X-Api-Key": PLANTED["api_key_header"],
        "Cookie": (
            f"tfpilot_session={PLANTED['cookie_session']}; csrftoken={PLANTED['cookie_other']}"
        ),
    }
    query = {"token": PLANTED["query_token"], "password": PLANTED["query_password"]}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        before = log.stat().st_size
        responses = [
            client.get("/api/test-bug", params=query),
            client.post(
                "/api/test-bug",
                params=query,
                data={
                    "password": PLANTED["form_password"],
                    "inputs.secret": PLANTED["form_secret"],
                },
            ),
            client.post(
                "/api/test-bug",
                params=query,
                json={
                    "inputs": {"password": PLANTED["json_password"]},
                    "api_key": PLANTED["json_api_key"],
                },
            ),
            client.post(
                "/test-bug-page",  # not a route: a 404 page, for the access log of a page
                params=query,
                data={"password": PLANTED["form_password"]},
            ),
        ]
        # The call of the issue: a duration that overflowed (a 500 then; an error either way).
        client.get("/api/metrics", params={"since": "99999999999d", **query})
    time.sleep(0.5)  # the access log line of the last call
    for response in responses[:3]:
        assert response.status_code == 500, response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "content-security-policy" in response.headers
    output = log.read_text(errors="replace")
    assert "internal_error" in output and "RuntimeError" in output, output[-3000:]
    assert "/api/test-bug" in output  # the access log is still there, scrubbed
    leaked = [name for name, value in PLANTED.items() if value in output]
    assert token not in output, "the bearer token is in the log"
    assert not leaked, f"in the log: {leaked}\n{output[-5000:]}"
    # Bounded: each failure logs its error and a traceback without locals, not the request.
    assert log.stat().st_size - before < 5 * 16 * 1024, log.stat().st_size - before
