"""Slack interactivity: the Approve, Reject and Request changes buttons of a Slack message,
verified and bound to a digest.

Slack posts ``payload=<json>`` (form-encoded) to ``/integrations/slack/interactivity`` when
someone clicks a button. The request is accepted only when:

* ``X-Slack-Request-Timestamp`` is within 5 minutes of now;
* ``X-Slack-Signature`` equals ``v0=`` + HMAC-SHA256(signing secret, ``v0:<ts>:<raw body>``)
  (compared in constant time);
* the same signature was not seen before (replays are refused: each signature is recorded in
  the store's keyed records, namespace ``slack_replay``, for 10 minutes, with a create-only
  write, so two servers sharing a store refuse a replay too).

The button's ``value`` is JSON ``{"request_id": "...", "plan_digest": "..."}`` (what the
notifier puts in the ``approval_required`` message, :mod:`tfpilot_core.notifications.render`);
the Slack user (``user.id``) must be mapped to a tfpilot user in ``[plugins.web] slack_users``.
The approval goes through ``platform.approve`` as that user, bound to the digest in the message:
the core applies roles, four eyes and digest checks. Reasons typed into the message's
``override:<rule>`` inputs are the written overrides of mandatory findings.

Reject and Request changes go through ``platform.reject`` the same way (who may reject is who
may approve); the reason is what the clicker typed into the message's ``reject_reason`` input:
without one nothing is recorded and the clicker is asked for it (a rejection always carries the
reviewer's own words, never a made-up one).

Once decided, the message is updated in place through the click's ``response_url`` (only one
under ``slack_response_url_prefix``): the buttons and inputs give way to who approved (or
rejected) which plan. A refusal is answered to the clicker alone and leaves the message as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tfpilot_core.errors import AlreadyExistsError, ConflictError, TfpilotError
from tfpilot_core.models import utcnow
from tfpilot_web.problems import PROBLEM_JSON, problem, responses

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_web.settings import WebSettings

log = structlog.get_logger("tfpilot.web.slack")
REPLAY = "slack_replay"
#: How far a request's timestamp may be from now (Slack's own recommendation).
MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's ``v0`` signature of a request body."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str | None, given: str | None, body: bytes, *, now: float
) -> str | None:
    """``None`` when the request is Slack's; otherwise why it is refused."""
    if not timestamp or not given:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Slack-Request-Timestamp is not a number"
    if abs(now - sent) > MAX_SKEW_SECONDS:
        return "X-Slack-Request-Timestamp is more than 5 minutes away from now"
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    expected = signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, given.encode("utf-8", "replace")):
        return "X-Slack-Signature does not match"
    return None


def _refuse(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        problem(status, detail).model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
    )


def _reply(ok: bool, text: str) -> JSONResponse:
    # Slack shows an ephemeral reply to whoever clicked; 200 acknowledges the click.
    return JSONResponse(
        {"ok": ok, "response_type": "ephemeral", "replace_original": False, "text": text}
    )


def build_slack_router(platform: Platform, settings: WebSettings) -> APIRouter:
    """The interactivity endpoint, for the server to include under ``/integrations/slack``."""
    secret = settings.slack_signing_secret or ""
    router = APIRouter(tags=["integrations"])

    @router.post("/interactivity", responses=responses(400, 401, 409))
    async def interactivity(request: Request) -> JSONResponse:
        """Slack button clicks (signed by Slack): approve a plan by its digest."""
        body = await request.body()
        refused = verify(
            secret,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            body,
            now=time.time(),
        )
        if refused:
            return _refuse(401, refused)
        given = request.headers["x-slack-signature"]
        replay_key = hashlib.sha256(given.encode()).hexdigest()
        try:
            await run_in_threadpool(
                platform.store.put_record,
                REPLAY,
                replay_key,
                {"at": utcnow().isoformat()},
                expected_version=None,
                expires_at=utcnow() + timedelta(seconds=2 * MAX_SKEW_SECONDS),
            )
        except (AlreadyExistsError, ConflictError):
            return _refuse(409, "this Slack request was already received (replay refused)")
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
            user = str(payload["user"]["id"])
            [action] = payload["actions"][:1]
            action_id = str(action["action_id"])
            value = json.loads(action["value"])
            request_id = str(value["request_id"])
            digest = str(value["plan_digest"])
            overrides = override_reasons(payload)
        except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError):
            return _refuse(400, "not a Slack block_actions payload with a tfpilot button")
        actor = settings.slack_users.get(user)
        if actor is None:
            return _reply(False, f"Slack user {user} is not mapped to a tfpilot user.")
        if action_id in ("reject", "request_changes"):
            return await _reject(platform, settings, payload, actor, request_id, digest, action_id)
        if action_id != "approve":
            return _reply(False, f"'{action_id}' is not a tfpilot action.")
        try:
            approved: Any = await run_in_threadpool(
                lambda: platform.approve(
                    actor,
                    request_id,
                    plan_digest=digest,
                    comment="approved in Slack",
                    overrides=overrides,
                )
            )
        except TfpilotError as exc:
            return _reply(False, f"Not approved: {exc.message}")
        outcome = f"{actor} approved {approved.id} (plan {digest[:12]})."
        url = payload.get("response_url")
        if isinstance(url, str) and url.startswith(settings.slack_response_url_prefix):
            await run_in_threadpool(update_message, url, payload.get("message"), outcome)
        return _reply(True, outcome)

    return router


async def _reject(
    platform: Platform,
    settings: WebSettings,
    payload: dict[str, Any],
    actor: str,
    request_id: str,
    digest: str,
    action_id: str,
) -> JSONResponse:
    """Reject (or ask for changes to) the plan in the message, with the typed reason."""
    reason = reject_reason(payload)
    changes = action_id == "request_changes"
    if not reason:
        what = "ask for changes" if changes else "reject"
        return _reply(
            False,
            f"Nothing recorded: type the reason to {what} in the message's "
            "'Reason to reject or ask for changes' field, then click again.",
        )
    try:
        rejected: Any = await run_in_threadpool(
            lambda: platform.reject(
                actor, request_id, plan_digest=digest, reason=reason, request_changes=changes
            )
        )
    except TfpilotError as exc:
        return _reply(False, f"Not recorded: {exc.message}")
    verb = "asked for changes to" if changes else "rejected"
    outcome = f"{actor} {verb} {rejected.id} (plan {digest[:12]}): {reason}"
    url = payload.get("response_url")
    if isinstance(url, str) and url.startswith(settings.slack_response_url_prefix):
        await run_in_threadpool(update_message, url, payload.get("message"), outcome)
    return _reply(True, outcome)


def reject_reason(payload: dict[str, Any]) -> str:
    """The reason typed into the message's ``reject_reason`` input (empty: none)."""
    values = (payload.get("state") or {}).get("values") or {}
    block = values.get("reject_reason")
    if not isinstance(block, dict):
        return ""
    reason = (block.get("reason") or {}).get("value")
    return reason.strip()[:3000] if isinstance(reason, str) else ""


def override_reasons(payload: dict[str, Any]) -> list[dict[str, str]]:
    """The written overrides typed into the message's ``override:<rule>`` inputs."""
    values = (payload.get("state") or {}).get("values") or {}
    found = []
    for block_id, actions in values.items():
        if not str(block_id).startswith("override:") or not isinstance(actions, dict):
            continue
        reason = (actions.get("reason") or {}).get("value")
        if isinstance(reason, str) and reason.strip():
            rule = str(block_id).removeprefix("override:")
            found.append({"rule_id": rule, "reason": reason.strip()[:1000]})
    return found


def update_message(url: str, message: Any, outcome: str) -> None:
    """Replace the clicked message: its blocks without buttons and inputs, and the outcome."""
    import httpx

    blocks = [
        b
        for b in (message or {}).get("blocks") or []
        if isinstance(b, dict) and b.get("type") not in ("actions", "input")
    ][:48]
    blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": outcome}]})
    text = str((message or {}).get("text") or outcome)
    try:
        httpx.post(
            url,
            json={"replace_original": True, "text": text, "blocks": blocks},
            timeout=10.0,
        ).raise_for_status()
    except httpx.HTTPError as exc:  # the approval stands; only the message stays as it was
        log.warning("slack_message_not_updated", error=type(exc).__name__)
