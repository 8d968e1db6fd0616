"""The webhook receiver: a FastAPI app for the infra repository's webhook.

``create_webhook_app(platform)`` builds it (for embedding: the HTTP API mounts the same app);
``tfpilot webhook serve`` serves it with uvicorn. (This module imports FastAPI: import it only
where the receiver is wanted, never from the plugin's hooks.) Every delivery is verified
(``X-Hub-Signature-256``, HMAC-SHA256 of the raw body with the webhook secret, compared in
constant time; 401 otherwise) and de-duplicated by ``X-GitHub-Delivery`` in the store, so a
redelivery or a replay is acknowledged and ignored.

Handled events: ``pull_request`` (merged or closed), ``pull_request_review`` (an approving review
by a mapped, authorized user becomes an approval of the digest shown in tfpilot's comment),
``workflow_run`` and ``check_run`` (monotonic attempt updates), ``issue_comment`` commands
(``tfpilot plan``, ``tfpilot apply``, authorized like the CLI) and ``ping``.

A comment command acts once: it is bound to the comment's id in the store (shared by every
replica), not only to the delivery id, so a captured signed delivery re-sent with new delivery ids
is acknowledged as a duplicate; an edited comment never runs its command again (post a new one).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tfpilot_core.errors import AlreadyExistsError, ConflictError, TfpilotError
from tfpilot_core.lifecycle.approvals import RequiredOverride, required_overrides
from tfpilot_core.models import Event, utcnow

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform
    from tfpilot_runner_github.infra import InfraRepo

log = structlog.get_logger("tfpilot.github.webhook")

DELIVERIES = "github_deliveries"
#: How long a delivery id is remembered (GitHub redelivers for days at most).
DELIVERY_TTL = timedelta(days=14)
_MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
COMMANDS = "github_comment_commands"
#: How long a comment's command is remembered; an older comment is never acted on (a replay of
#: a delivery captured long ago cannot outlive the record that would catch it).
COMMAND_TTL = timedelta(days=30)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.encode())


class Outcome(dict[str, Any]):
    """The JSON answer of a delivery: ``status`` (processed/ignored/duplicate) and details."""


def _outcome(outcome: str, **details: Any) -> Outcome:
    return Outcome(status=outcome, **details)


def _needs_reasons(request_id: str, digest: str, needed: list[RequiredOverride]) -> str:
    """Why a GitHub review cannot approve this plan, and how to approve it instead."""
    items = "; ".join(
        f"accept the opt-out of `{r.rule_id}` by {r.actor} ({r.message})"
        if r.kind == "opt_out"
        else f"override the mandatory finding `{r.rule_id}` ({r.address or 'request'})"
        for r in needed
    )
    flags = " ".join(sorted({f"--override {r.rule_id}=REASON" for r in needed}))
    return (
        f"this approval needs a written reason for each of: {items}. A GitHub review cannot "
        "carry them: approve on the request's page in the tfpilot web UI (a reason field for "
        f"each), or run `tfpilot approve {request_id} --plan {digest[:12]} {flags}`"
    )


class Receiver:
    """Handles verified deliveries for one platform (the FastAPI app calls :meth:`handle`)."""

    def __init__(self, platform: Platform, infra: InfraRepo, secret: str) -> None:
        self.platform = platform
        self.infra = infra
        self.secret = secret
        self.users = infra.settings.users

    # -- delivery -----------------------------------------------------------------------------

    def claim(self, delivery: str, event: str) -> bool:
        """Record the delivery id; ``False`` when it was seen before (a replay)."""
        try:
            self.platform.store.put_record(
                DELIVERIES,
                delivery,
                {"event": event, "at": utcnow().isoformat()},
                expected_version=None,
                expires_at=utcnow() + DELIVERY_TTL,
            )
        except (ConflictError, AlreadyExistsError):
            return False
        return True

    def release(self, delivery: str) -> None:
        """Forget a delivery whose handling failed, so GitHub's redelivery is processed."""
        found = self.platform.store.get_record(DELIVERIES, delivery)
        if found is not None:
            with contextlib.suppress(TfpilotError):
                self.platform.store.delete_record(
                    DELIVERIES, delivery, expected_version=found.version
                )

    def claim_command(self, comment_id: int) -> bool:
        """Record that comment ``comment_id``'s command runs now; ``False`` if it already ran."""
        try:
            self.platform.store.put_record(
                COMMANDS,
                str(comment_id),
                {"at": utcnow().isoformat()},
                expected_version=None,
                expires_at=utcnow() + COMMAND_TTL,
            )
        except (ConflictError, AlreadyExistsError):
            return False
        return True

    def release_command(self, comment_id: int) -> None:
        """Forget a command whose handling failed, so GitHub's redelivery carries it out."""
        found = self.platform.store.get_record(COMMANDS, str(comment_id))
        if found is not None:
            with contextlib.suppress(TfpilotError):
                self.platform.store.delete_record(
                    COMMANDS, str(comment_id), expected_version=found.version
                )

    def handle(self, event: str, payload: dict[str, Any]) -> Outcome:
        """Dispatch a verified, first-time delivery to its handler."""
        handler = {
            "pull_request": self.pull_request,
            "pull_request_review": self.review,
            "workflow_run": self.workflow_run,
            "check_run": self.check_run,
            "issue_comment": self.issue_comment,
        }.get(event)
        if event == "ping":
            return _outcome("processed", event="ping")
        if handler is None:
            return _outcome("ignored", reason=f"event {event!r} is not handled")
        return handler(payload)

    # -- events -------------------------------------------------------------------------------

    def _request_of_pr(self, number: int | None) -> tuple[str, str] | None:
        return None if number is None else self.infra.request_for_pr(int(number))

    def _record_event(self, request_id: str, type_: str, data: dict[str, Any], actor: str) -> None:
        request = self.platform.get(request_id)
        self.platform.store.append_event(
            Event(
                request_id=request_id,
                type=type_,
                at=utcnow(),
                revision=request.revision,
                actor=actor,
                source="github",
                data=data,
            )
        )

    def pull_request(self, payload: dict[str, Any]) -> Outcome:
        """A tfpilot PR was merged or closed: recorded on the request (and in the record)."""
        pull = payload.get("pull_request") or {}
        if payload.get("action") != "closed":
            return _outcome("ignored", reason=f"pull_request {payload.get('action')}")
        found = self._request_of_pr(pull.get("number"))
        if found is None:
            return _outcome("ignored", reason="not a tfpilot pull request")
        request_id, kind = found
        merged = bool(pull.get("merged"))
        state = "merged" if merged else "closed"
        key = "cleanup_state" if kind == "cleanup" else "pr_state"
        record = self.infra.record(request_id)
        if kind == "request" and record and record.value.get("pr") != pull.get("number"):
            key = "old_pr_state"  # a superseded PR: the current one is another
        self.infra.update_record(request_id, **{key: state})
        type_ = f"{'cleanup_' if kind == 'cleanup' else ''}pr_{state}"
        login = str((pull.get("merged_by") or payload.get("sender") or {}).get("login", ""))
        self._record_event(
            request_id, type_, {"pr": pull.get("number"), "by": login}, self.users.get(login, login)
        )
        return _outcome("processed", request=request_id, recorded=type_)

    def review(self, payload: dict[str, Any]) -> Outcome:
        """An approving review becomes an approval only for a mapped user allowed to approve."""
        from tfpilot_core.rbac import Action

        review = payload.get("review") or {}
        pull = payload.get("pull_request") or {}
        if (
            payload.get("action") != "submitted"
            or str(review.get("state", "")).lower() != "approved"
        ):
            return _outcome("ignored", reason="not an approving review")
        found = self._request_of_pr(pull.get("number"))
        if found is None:
            return _outcome("ignored", reason="not a tfpilot pull request")
        request_id, _ = found
        number = int(pull["number"])
        login = str((review.get("user") or {}).get("login", ""))
        user = self.users.get(login)
        if user is None:
            return self._refuse(number, f"@{login} is not mapped to a tfpilot user")
        request = self.platform.get(request_id)
        if not self.platform.access.may(user, Action.APPROVE, request):
            try:
                self.platform.access.check(user, Action.APPROVE, request)
                why = f"{user} may not approve {request_id}"
            except TfpilotError as exc:
                why = exc.message
            return self._refuse(number, why)
        record = self.infra.record(request_id)
        shown = record.value.get("shown_digest") if record else None
        if not shown:
            return self._refuse(number, "no plan is shown on this PR yet; wait for the plan")
        submitted = _time(review.get("submitted_at"))
        shown_at = _time(record.value.get("shown_at")) if record else None
        if record and record.value.get("shown_revision") not in (None, request.revision):
            return self._refuse(number, "the request changed since the plan was shown (stale)")
        if (
            submitted is not None
            and shown_at is not None
            and submitted < shown_at - timedelta(seconds=1)
        ):
            return self._refuse(
                number,
                f"stale review: the comment shows plan `{str(shown)[:12]}`, updated after this "
                "review was submitted; review the new plan",
            )
        needed = required_overrides(
            request, protected=self.platform.environment(request.placement.environment).protected
        )
        if needed:
            # A review has no field per rule for the written reasons the core demands (mandatory
            # findings; opt-outs in a protected environment): say where to approve instead,
            # never approve without them.
            return self._refuse(number, _needs_reasons(request_id, str(shown), needed))
        try:
            self.platform.approve(
                user, request_id, plan_digest=str(shown), comment=f"GitHub review by @{login}"
            )
        except TfpilotError as exc:
            return self._refuse(number, exc.message)
        self.infra.reply(number, f"tfpilot: approved plan `{str(shown)[:12]}` as `{user}`.")
        return _outcome("processed", request=request_id, approved_by=user, plan_digest=shown)

    def _refuse(self, pr: int, reason: str) -> Outcome:
        self.infra.reply(pr, f"tfpilot: review ignored: {reason}")
        log.info("review_ignored", pr=pr, reason=reason)
        return _outcome("ignored", reason=reason)

    def _attempt_of(self, title: str) -> tuple[str, str] | None:
        # run-name of every tfpilot workflow: "tfpilot <kind> <request id> <attempt id>"
        parts = title.split()
        if len(parts) >= 4 and parts[0] == "tfpilot":
            return parts[2], parts[3]
        return None

    def workflow_run(self, payload: dict[str, Any]) -> Outcome:
        """A workflow run moved: advance its attempt (never backwards)."""
        from tfpilot_core.runs import advance
        from tfpilot_runner_github.runner import run_update

        run = payload.get("workflow_run") or {}
        found = self._attempt_of(str(run.get("display_title") or run.get("name") or ""))
        if found is None:
            return _outcome("ignored", reason="not a tfpilot run")
        request_id, attempt_id = found
        update = run_update(
            str(run.get("status") or ""),
            run.get("conclusion"),
            run_id=str(run.get("id")),
            url=run.get("html_url"),
        )
        return self._advance(request_id, attempt_id, update, advance)

    def check_run(self, payload: dict[str, Any]) -> Outcome:
        """A check run tfpilot created (external id ``request:attempt``): advance the attempt."""
        from tfpilot_core.runs import RunUpdate, advance
        from tfpilot_runner_github.runner import run_update

        check = payload.get("check_run") or {}
        external = str(check.get("external_id") or "")
        request_id, sep, attempt_id = external.partition(":")
        if not sep:
            return _outcome("ignored", reason="not a tfpilot check run")
        base = run_update(
            str(check.get("status") or ""), check.get("conclusion"), run_id="", url=None
        )
        # A check run's id is not the attempt's run id: only status and conclusion are taken.
        update = RunUpdate(
            status=base.status,
            conclusion=base.conclusion,
            source="github check run",
            error=base.error,
        )
        return self._advance(request_id, attempt_id, update, advance)

    def _advance(self, request_id: str, attempt_id: str, update: Any, advance: Any) -> Outcome:
        try:
            _, reason = advance(self.platform, request_id, attempt_id, update)
        except TfpilotError as exc:
            return _outcome("ignored", reason=exc.message)
        if reason:
            return _outcome("ignored", reason=reason, request=request_id, attempt=attempt_id)
        return _outcome(
            "processed", request=request_id, attempt=attempt_id, run_status=update.status.value
        )

    def issue_comment(self, payload: dict[str, Any]) -> Outcome:
        """``tfpilot plan`` / ``tfpilot apply`` on a tfpilot PR, as the mapped user."""
        if payload.get("action") != "created":
            return _outcome("ignored", reason="comment not created")
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        words = str(comment.get("body") or "").strip().split()
        if len(words) < 2 or words[0] != "tfpilot" or words[1] not in ("plan", "apply"):
            return _outcome("ignored", reason="not a tfpilot command")
        if "pull_request" not in issue:
            return _outcome("ignored", reason="not a pull request")
        found = self._request_of_pr(issue.get("number"))
        if found is None:
            return _outcome("ignored", reason="not a tfpilot pull request")
        request_id, _ = found
        number = int(issue["number"])
        comment_id = comment.get("id")
        if not isinstance(comment_id, int) or isinstance(comment_id, bool):
            return _outcome("ignored", reason="a comment without an id")
        created = _time(comment.get("created_at"))
        if created is not None and utcnow() - created > COMMAND_TTL:
            return _outcome("ignored", reason="the comment is older than the command window")
        # Bound to the comment, not the delivery: re-sending a captured comment under new
        # delivery ids must not plan again (each re-plan voids the approvals).
        if not self.claim_command(comment_id):
            return _outcome(
                "duplicate", comment=comment_id, reason="this comment's command was carried out"
            )
        try:
            return self._comment_command(number, request_id, comment, words[1])
        except Exception:
            self.release_command(comment_id)
            raise

    def _comment_command(
        self, number: int, request_id: str, comment: dict[str, Any], command: str
    ) -> Outcome:
        login = str((comment.get("user") or {}).get("login", ""))
        user = self.users.get(login)
        if user is None:
            self.infra.reply(number, f"tfpilot: @{login} is not mapped to a tfpilot user")
            return _outcome("ignored", reason=f"@{login} is not mapped to a tfpilot user")
        try:
            if command == "plan":
                request = self.platform.plan(user, request_id)
            else:
                request = self.platform.apply(user, request_id)
        except TfpilotError as exc:
            self.infra.reply(number, f"tfpilot {command}: refused: {exc.message}")
            return _outcome("ignored", reason=exc.message, command=command)
        status = self.platform.status(request).value
        return _outcome("processed", request=request_id, command=command, request_status=status)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def create_webhook_app(platform: Platform, *, infra: InfraRepo | None = None) -> FastAPI:
    """The receiver as a FastAPI app (POST ``/github``; GET ``/healthz``).

    ``infra`` defaults to the one built from ``[plugins.runner_github]``; the webhook secret must be
    configured (``webhook_secret``), else nothing could be verified and the app refuses to start.
    """
    from tfpilot_core.errors import ConfigError
    from tfpilot_runner_github.registration import infra_for

    infra = infra or infra_for(platform)
    secret = infra.settings.webhook_secret
    if not secret:
        raise ConfigError(
            "the webhook receiver needs [plugins.runner_github] webhook_secret to verify "
            "deliveries",
            key="plugins.runner_github.webhook_secret",
        )
    receiver = Receiver(platform, infra, secret)
    app = FastAPI(title="tfpilot GitHub webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    # Signature headers first and at most GitHub's 25 MB, before any of the body is read.
    from tfpilot_core.body_limits import KIB, BodyLimit, BodyRule

    app.add_middleware(
        BodyLimit,
        rules=[BodyRule("/github", _MAX_BODY, required_headers=("x-hub-signature-256",))],
        default_max=64 * KIB,
    )
    app.state.receiver = receiver

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/github")
    async def github(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > _MAX_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            log.warning("webhook_rejected", reason="bad or missing signature")
            return JSONResponse({"error": "bad or missing X-Hub-Signature-256"}, status_code=401)
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if not delivery or len(delivery) > 100:
            return JSONResponse({"error": "missing X-GitHub-Delivery"}, status_code=400)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if not receiver.claim(delivery, event):
            return JSONResponse(dict(_outcome("duplicate", delivery=delivery)), status_code=200)
        try:
            # Handlers call the store and GitHub (blocking I/O): off the event loop.
            outcome = await run_in_threadpool(receiver.handle, event, payload)
        except Exception as exc:
            receiver.release(delivery)
            log.error("webhook_failed", github_event=event, delivery=delivery, error=str(exc))
            return JSONResponse({"error": f"{type(exc).__name__}"}, status_code=500)
        log.info("webhook", github_event=event, delivery=delivery, status=outcome["status"])
        return JSONResponse(dict(outcome), status_code=200)

    return app
