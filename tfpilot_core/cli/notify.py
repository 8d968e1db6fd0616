"""``tfpilot notify``: the notification outbox, retries, preferences and digests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfpilot_core.cli.app import app, emit, json_option, list_envelope, table

if TYPE_CHECKING:
    from tfpilot_core.notifications.preferences import Preferences


@click.group("notify")
def notify_group() -> None:
    """Notifications: the outbox, retries, preferences and digests.

    \b
    Examples:
      tfpilot notify list --failed
      tfpilot notify worker --interval 30      # deliver and digest, for a long-running server
    """


def _visible(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deliveries about requests the acting user may read (admins: every one)."""
    from tfpilot_core.errors import NotFoundError
    from tfpilot_core.rbac import Action

    state = app()
    platform = state.platform
    actor = state.whoami()
    readable: dict[str, bool] = {}
    shown = []
    for row in rows:
        request_id = str(row.get("request_id"))
        if request_id not in readable:
            try:
                request = platform.store.get_request(request_id)
                readable[request_id] = platform.access.may(actor, Action.READ, request)
            except NotFoundError:
                readable[request_id] = False
        if readable[request_id]:
            shown.append(row)
    return shown


def _public(row: dict[str, Any]) -> dict[str, Any]:
    event = row.get("event") or {}
    return {
        "id": row["id"],
        "state": row.get("state"),
        "channel": row.get("channel"),
        "recipient": row.get("recipient"),
        "recipient_user": row.get("recipient_user"),
        "request_id": row.get("request_id"),
        "event": event.get("type"),
        "event_seq": event.get("seq"),
        "attempts": row.get("attempts"),
        "created_at": row.get("created_at"),
        "next_at": row.get("next_at"),
        "last_error": row.get("last_error"),
        "runbook_url": row.get("runbook_url"),
    }


@notify_group.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100_000), help="Send at most this many.")
@json_option
def deliver_command(limit: int | None) -> None:
    """Send every due delivery: retries with backoff, dead-letters after N attempts.

    \b
    Example:
      tfpilot notify deliver --limit 500       # from cron, or use `tfpilot notify worker`
    """
    counts = app().platform.notifications.deliver_due(limit=limit)
    emit(counts, lambda: click.echo(", ".join(f"{k} {v}" for k, v in counts.items())))


@notify_group.command("list")
@click.option("--failed", is_flag=True, help="Only dead-lettered and failing deliveries.")
@click.option("--pending", is_flag=True, help="Only deliveries not sent yet.")
@json_option
def list_command(failed: bool, pending: bool) -> None:
    """List outbox deliveries (of requests you may read), oldest first.

    With --json: {"items": [deliveries], "next_cursor": null}.

    \b
    Examples:
      tfpilot notify list --failed
      tfpilot --json notify list --pending | jq '.items | length'
    """
    from tfpilot_core.notifications import service

    notifications = app().platform.notifications
    waiting = (service.PENDING, service.SENDING, service.HELD)

    def wanted(row: dict[str, Any]) -> bool:
        if not (failed or pending):
            return True
        state = row.get("state")
        # Failed: dead-lettered, or waiting for a retry after a failed attempt.
        is_failed = state == service.DEAD or (state in waiting and bool(row.get("last_error")))
        return (failed and is_failed) or (pending and state in waiting)

    # The states asked for, so that the outbox's indexes answer (not the whole outbox).
    states: set[str] | None = None
    if failed or pending:
        states = set(waiting) | ({service.DEAD} if failed else set())
    rows = [r for r in notifications.list(states=states) if wanted(r)]
    data = [_public(r) for r in _visible(rows)]

    def render() -> None:
        table(
            ["id", "state", "channel", "to", "event", "request", "tries", "next", "error"],
            [
                [
                    d["id"],
                    d["state"],
                    d["channel"],
                    d["recipient_user"] or d["recipient"],
                    d["event"],
                    d["request_id"],
                    d["attempts"],
                    d["next_at"] if d["state"] == "pending" else "",
                    (d["last_error"] or "")[:60],
                ]
                for d in data
            ],
        )

    emit(list_envelope(data), render)


@notify_group.command("retry")
@click.argument("delivery_id")
@json_option
def retry_command(delivery_id: str) -> None:
    """Try a failed or dead-lettered delivery again, now.

    \b
    Example:
      tfpilot notify retry dlv_01hx7k2m9q
    """
    from tfpilot_core.errors import ForbiddenError

    notifications = app().platform.notifications
    record = notifications.get(delivery_id)
    if not _visible([dict(record.value)]):
        raise ForbiddenError(f"{app().whoami()} may not read the request of {delivery_id}")
    outcome = notifications.retry(delivery_id)
    data = {**_public(dict(notifications.get(delivery_id).value)), "outcome": outcome}
    emit(data, lambda: click.echo(f"{delivery_id}: {outcome} ({data['state']})"))


@notify_group.command("digest")
@click.option("--force", is_flag=True, help="Send what is held now, even if one went today.")
@json_option
def digest_command(force: bool) -> None:
    """Send due daily drift digests (one message per user and channel).

    \b
    Example:
      tfpilot notify digest --force
    """
    counts = app().platform.notifications.send_digests(force=force)
    emit(counts, lambda: click.echo(", ".join(f"{k} {v}" for k, v in counts.items())))


@notify_group.command("worker")
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds between two rounds of deliveries.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1),
    default=None,
    help="Stop after this many rounds (default: run until stopped).",
)
@json_option
def worker_command(interval: float, rounds: int | None) -> None:
    """Deliver due notifications and send due digests in a loop, for long-running servers.

    Each round runs `notify deliver` and then `notify digest` (a digest goes once a day per
    user and channel, after [notifications] digest_hour). One line per round that did
    something (a JSON object with --json); Ctrl-C or SIGTERM stops it between rounds. Run one
    worker per store: deliveries are leased, so a second one is safe but adds nothing.

    \b
    Examples:
      tfpilot notify worker --interval 30
      tfpilot --json notify worker --rounds 1     # one round, as a cron job would
    """
    from tfpilot_core.cli.worker import run_worker

    notifications = app().platform.notifications

    def report(round_number: int, counts: dict[str, dict[str, int]]) -> None:
        if app().json:
            click.echo(json.dumps({"round": round_number, **counts}))
            return
        done = {
            f"{kind} {k}": v
            for kind, c in counts.items()
            for k, v in c.items()
            if v and k != "skipped"
        }
        if done:
            click.echo(f"round {round_number}: " + ", ".join(f"{k} {v}" for k, v in done.items()))

    run_worker(
        [("deliver", notifications.deliver_due), ("digest", notifications.send_digests)],
        interval=interval,
        rounds=rounds,
        report=report,
    )


@notify_group.group("prefs")
def prefs_group() -> None:
    """Your notification preferences (admins: anyone's, with --user).

    \b
    Examples:
      tfpilot notify prefs show
      tfpilot notify prefs set --channel slack=U0123ABCD --quiet-hours 22:00-07:00
    """


def _show(user: str, prefs: Preferences) -> None:
    data = {"user": user, **prefs.model_dump(mode="json")}

    def render() -> None:
        click.echo(f"notification preferences of {user}")
        for key, value in prefs.model_dump(mode="json").items():
            click.echo(f"  {key}: {json.dumps(value)}")

    emit(data, render)


@prefs_group.command("show")
@click.option("--user", help="Whose preferences (default: you).")
@json_option
def prefs_show(user: str | None) -> None:
    """Show notification preferences (the defaults when none are stored).

    \b
    Example:
      tfpilot --as admin notify prefs show --user alice
    """
    state = app()
    who = user or state.whoami()
    _show(who, state.platform.notifications.preferences(who))


def _names(value: str) -> list[str] | None:
    if value.strip() == "all":
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@prefs_group.command("set")
@click.option("--user", help="Whose preferences (default: you; others: admins only).")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False),
    help="A whole preferences document (JSON); the options below change it further.",
)
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME=ADDRESS", help="e.g. slack=U123."
)
@click.option("--no-channel", "off", multiple=True, metavar="NAME", help="Turn a channel off.")
@click.option("--events", help="Comma-separated event types, or 'all'.")
@click.option("--environments", help="Comma-separated environments, or 'all'.")
@click.option("--mute/--unmute", default=None, help="Stop (or resume) every message.")
@click.option("--quiet-hours", metavar="HH:MM-HH:MM", help="Hold messages in this window.")
@click.option("--timezone", help="Time zone of the quiet hours (IANA name).")
@click.option("--no-quiet-hours", is_flag=True, help="Remove the quiet hours.")
@click.option("--drift-digest/--no-drift-digest", default=None, help="One daily drift message.")
@json_option
def prefs_set(
    user: str | None,
    file: str | None,
    channels: tuple[str, ...],
    off: tuple[str, ...],
    events: str | None,
    environments: str | None,
    mute: bool | None,
    quiet_hours: str | None,
    timezone: str | None,
    no_quiet_hours: bool,
    drift_digest: bool | None,
) -> None:
    """Change notification preferences (users their own, admins anyone's).

    \b
    Examples:
      tfpilot notify prefs set --channel slack=U0123ABCD --events plan_ready,apply_failed
      tfpilot notify prefs set --quiet-hours 22:00-07:00 --timezone Europe/Paris
    """
    from pydantic import ValidationError as PydanticValidationError

    from tfpilot_core.errors import FieldProblem, ValidationError
    from tfpilot_core.notifications.preferences import parse

    state = app()
    actor = state.whoami()
    who = user or actor
    notifications = state.platform.notifications
    if file is not None:
        try:
            doc: dict[str, Any] = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(
                [FieldProblem("file", "json", f"{file}: not readable JSON ({exc})")]
            ) from None
    else:
        doc = notifications.preferences(who).model_dump(mode="json")
    for pair in channels:
        name, sep, address = pair.partition("=")
        if not sep:
            raise ValidationError(
                [FieldProblem("channel", "format", f"{pair!r}: use NAME=ADDRESS, e.g. slack=U123")]
            )
        doc.setdefault("channels", {})[name.strip()] = address.strip()
    for name in off:
        doc.setdefault("channels", {})[name.strip()] = None
    if events is not None:
        doc["events"] = _names(events)
    if environments is not None:
        doc["environments"] = _names(environments)
    if mute is not None:
        doc["mute"] = mute
    if drift_digest is not None:
        doc["drift_digest"] = drift_digest
    if no_quiet_hours:
        doc["quiet_hours"] = None
    if quiet_hours is not None:
        start, sep, end = quiet_hours.partition("-")
        if not sep:
            raise ValidationError(
                [FieldProblem("quiet_hours", "format", "use HH:MM-HH:MM, e.g. 22:00-07:00")]
            )
        doc["quiet_hours"] = {"start": start, "end": end, "timezone": timezone or "UTC"}
    elif timezone is not None and doc.get("quiet_hours"):
        doc["quiet_hours"]["timezone"] = timezone
    try:
        prefs = parse(doc)
    except PydanticValidationError as exc:
        raise ValidationError(
            [
                FieldProblem(
                    ".".join(str(p) for p in e["loc"]) or "preferences", e["type"], e["msg"]
                )
                for e in exc.errors()
            ],
            subject="notification preferences",
        ) from None
    _show(who, notifications.set_preferences(actor, who, prefs))
