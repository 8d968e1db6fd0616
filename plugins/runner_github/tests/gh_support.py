"""Helpers of the runner_github tests: configuration sections, users, request builders.

A platform here is a real one: embedded store (or S3 on moto in the workflow tests), the
sandbox's modules and provider, the local runner for executing dispatched attempts.
"""

from __future__ import annotations

from typing import Any

from tfpilot_core.platform import Platform
from tfpilot_core.testing.fixtures import USERS as TEST_USERS

TOKEN = "ghs_test_token"
SECRET = "webhook-secret-for-tests"

#: One user per role (the core's test users: alice, bob, carol, vera).
USERS = TEST_USERS


def github_section(url: str, **extra: Any) -> str:
    """A ``[plugins.runner_github]`` section for the stand-in at ``url``."""
    lines = [
        "[plugins.runner_github]",
        'repository = "acme/infra"',
        f'token = "{TOKEN}"',
        f'api_url = "{url}"',
        f'webhook_secret = "{SECRET}"',
        "max_retries = 4",
        "backoff_factor = 0.01",
        "secondary_rate_wait = 0.5",
        "max_rate_limit_wait = 10",
        "seconds_between_requests = 0",
        "seconds_between_writes = 0",
        'full_text_url = "https://tfpilot.test/requests/{request_id}"',
    ]
    for key, value in extra.items():
        lines.append(f"{key} = {value}")
    lines += [
        "[plugins.runner_github.users]",
        '"alice-gh" = "alice"',
        '"bob-gh" = "bob"',
        '"vera-gh" = "vera"',
        '"carol-gh" = "carol"',
    ]
    return "\n".join(lines) + "\n"


def create(platform: Platform, name: str = "logs", actor: str = "alice") -> Any:
    """A sandbox bucket request in dev."""
    return platform.create(
        actor, module="sandbox/bucket", environment="dev", project="shop", inputs={"name": name}
    )


def deliver(
    client: Any,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    secret: str = SECRET,
    signature: str | None = "good",
) -> Any:
    """POST a webhook delivery the way GitHub signs it (``signature=None``: no header)."""
    import json
    import uuid

    from tfpilot_runner_github.webhook import signature as sign

    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature == "good":
        headers["X-Hub-Signature-256"] = sign(secret, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/github", content=body, headers=headers)


def run_event(
    standin: Any, run_id: int, status: str, conclusion: str | None = None
) -> dict[str, Any]:
    """A ``workflow_run`` payload for a run of the stand-in in ``status``."""
    run = dict(standin.repo.runs[run_id])
    run.update(status=status, conclusion=conclusion)
    action = {"queued": "requested", "in_progress": "in_progress"}.get(status, "completed")
    return {"action": action, "workflow_run": run, "repository": {"full_name": "acme/infra"}}
