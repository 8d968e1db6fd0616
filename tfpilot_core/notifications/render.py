"""Notification text: one :class:`Message` per delivery, and one renderer per format.

:func:`build_message` turns a :class:`~tfpilot_core.interfaces.Delivery` into a neutral
:class:`Message` (title, fields, plan summary, cost and policy lines, details, links), with every
string scrubbed of the request's sensitive values. Each channel renders that one message:
:func:`render_text` (email text part, logs), :func:`render_html` (email HTML part, escaped) and
:func:`render_slack` (Block Kit within Slack's limits, user text escaped for mrkdwn). So Slack,
email and the CLI never disagree about what an event says.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tfpilot_core.failures import Explanation, render_failure
from tfpilot_core.masking import scrub_text

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Delivery

#: Slack's limits (Block Kit reference): section text, header text, fields, blocks, buttons.
SLACK_SECTION_MAX = 3000
SLACK_HEADER_MAX = 150
SLACK_FIELD_MAX = 2000
SLACK_FIELDS_MAX = 10
SLACK_BLOCKS_MAX = 50
SLACK_BUTTON_TEXT_MAX = 75
SLACK_URL_MAX = 3000
SLACK_ACTIONS_MAX = 25
#: The top-level ``text`` fallback is kept well under Slack's 40,000 characters.
SLACK_TEXT_MAX = 3000
#: How cut text is marked, in every format.
CUT = "… (cut)"
#: Free text (Terraform errors) in email is cut at this length too: nobody reads more there.
DETAIL_MAX = 8000

_TITLES: dict[str, tuple[str, str]] = {
    # event type -> (title, severity)
    "plan_failed": ("Plan failed", "failure"),
    "plan_succeeded": ("Plan ready", "info"),
    "approval_required": ("Approval required", "warning"),
    "approved": ("Approved", "info"),
    "rejected": ("Plan rejected", "failure"),
    "changes_requested": ("Changes requested", "warning"),
    "run_cancelled": ("Run cancelled", "info"),
    "apply_started": ("Apply started", "info"),
    "apply_succeeded": ("Applied", "success"),
    "apply_failed": ("Apply failed", "failure"),
    "drift_detected": ("Drift detected", "warning"),
    "drift_cleared": ("Drift cleared", "success"),
    "drift_check_failed": ("Drift check failed", "failure"),
    "policy_blocked": ("Blocked by policy", "failure"),
    "destroy_started": ("Destroy started", "info"),
    "destroy_succeeded": ("Destroyed", "success"),
    "destroy_failed": ("Destroy failed", "failure"),
    "request_created": ("Request created", "info"),
    "request_updated": ("Request updated", "info"),
    "drift_digest": ("Drift digest", "warning"),
    "notification_dead_lettered": ("Notification dead-lettered", "failure"),
}
_SHOWS_PLAN = {"approval_required", "plan_succeeded", "apply_succeeded", "policy_blocked"}
_EMOJI = {"failure": "🔴", "warning": "🟠", "success": "🟢", "info": "🔵"}


@dataclass
class Message:
    """What a notification says, before any format."""

    title: str
    severity: str
    event_type: str
    request_id: str
    #: (label, value) pairs: request, module, environment, project, actor.
    fields: list[tuple[str, str]] = field(default_factory=list)
    summary: str | None = None
    cost: str | None = None
    policy: list[str] = field(default_factory=list)
    #: Free text: the error of a failed run, drifted addresses.
    details: list[str] = field(default_factory=list)
    #: (label, url): the run, the PR, the runbook, the request.
    links: list[tuple[str, str]] = field(default_factory=list)
    unsubscribe_url: str | None = None
    #: One line per item of a digest.
    items: list[str] = field(default_factory=list)
    #: ``approval_required`` only: the plan digest an approval binds to, and the rules of the
    #: mandatory findings (and opt-outs) an approver must override in writing (Slack's Approve
    #: button and reason inputs; ``tfpilot_web.slack`` takes the click).
    approval_digest: str | None = None
    overrides_needed: list[str] = field(default_factory=list)
    #: Those of ``overrides_needed`` that are opt-outs to accept (a protected environment).
    opt_outs_to_accept: list[str] = field(default_factory=list)

    def headline(self) -> str:
        """One line: the title and the request (email subject, Slack fallback)."""
        where = next((v for k, v in self.fields if k == "Environment"), "")
        module = next((v for k, v in self.fields if k == "Module"), "")
        suffix = f" ({module} in {where})" if module and where else ""
        if self.event_type == "drift_digest":
            return f"[tfpilot] {self.title}: {len(self.items)} drifted request(s)"
        return f"[tfpilot] {self.title}: {self.request_id}{suffix}"


def _money(value: Decimal | None, currency: str) -> str:
    return "unknown" if value is None else f"{value:,.2f} {currency}"


def _cost_line(cost: Any) -> str | None:
    if cost is None:
        return None
    line = f"Cost: {_money(cost.monthly, cost.currency)}/month"
    delta = cost.delta
    if delta is not None:
        sign = "+" if delta >= 0 else "-"
        line += f" ({sign}{_money(abs(delta), cost.currency)})"
    if getattr(cost, "unknown", None):
        line += f"; usage-based, unknown: {len(cost.unknown)} resource(s)"
    return line


def _finding_line(finding: Mapping[str, Any]) -> str:
    where = f" ({finding.get('address')})" if finding.get("address") else ""
    level, rule = finding.get("level", "?"), finding.get("rule_id", "?")
    return f"{level} {rule}{where}: {finding.get('message', '')}"


def build_message(delivery: Delivery, secrets: Iterable[str] = ()) -> Message:
    """The message of ``delivery``; every string is scrubbed of ``secrets`` as a last defence.

    The request in a delivery already has its sensitive inputs masked; ``secrets`` catches a
    sensitive value that reached free text (a Terraform error quoting it).
    """
    event = delivery.event
    request = delivery.request
    title, severity = _TITLES.get(event.type, (event.type.replace("_", " ").capitalize(), "info"))
    placement = request.placement
    message = Message(
        title=title,
        severity=severity,
        event_type=event.type,
        request_id=request.id,
        fields=[
            ("Request", request.id),
            ("Module", placement.module),
            ("Environment", placement.environment),
            ("Project", placement.project),
            ("By", event.actor),
        ],
    )
    data = event.data
    if event.type in _SHOWS_PLAN and request.summary is not None:
        message.summary = request.summary.text
    if event.type in _SHOWS_PLAN:
        message.cost = _cost_line(request.cost)
        findings = data.get("findings")
        if not isinstance(findings, list):
            findings = [f.model_dump(mode="json") for f in request.policy_findings]
        message.policy = [_finding_line(f) for f in findings if isinstance(f, Mapping)]
    if event.type == "approval_required" and isinstance(data.get("plan_digest"), str):
        message.approval_digest = data["plan_digest"]
        needed = data.get("overrides_needed")
        if isinstance(needed, list):
            # The core's list (lifecycle.approvals.required_overrides, at plan time): the
            # mandatory findings and, in a protected environment, the opt-outs to accept.
            items = [n for n in needed if isinstance(n, Mapping)]
            message.overrides_needed = sorted({str(n.get("rule_id", "")) for n in items})
            for n in items:
                if n.get("kind") == "opt_out":
                    message.opt_outs_to_accept.append(str(n.get("rule_id", "")))
                    message.policy.append(
                        f"opt-out {n.get('rule_id', '')} by {n.get('actor', '')}: "
                        f"{n.get('message', '')} (the approver accepts it with a reason)"
                    )
        else:  # an event recorded before the list was part of it
            message.overrides_needed = sorted(
                {f.rule_id for f in request.policy_findings if f.level.value == "mandatory"}
            )
    if isinstance(data.get("explanation"), Mapping):
        # Why the run failed and what to do (issue 28), before the raw error; the runbook is
        # the delivery's link, not the path on the machine that ran Terraform.
        explained = replace(Explanation.from_dict(dict(data["explanation"])), runbook=None)
        message.details.append(render_failure(explained))
    if isinstance(data.get("error"), str):
        message.details.append(data["error"][-DETAIL_MAX:])
    if event.type in ("rejected", "changes_requested") and isinstance(data.get("reason"), str):
        # The reviewer's written reason is what the author needs to act on.
        message.details.append(data["reason"][:DETAIL_MAX])
    if event.type == "drift_detected":
        paths = data.get("paths") if isinstance(data.get("paths"), Mapping) else {}
        for address in data.get("addresses") or []:
            changed = ", ".join(str(p) for p in (paths or {}).get(address, []))
            message.details.append(f"{address}: {changed}" if changed else str(address))
    if event.type == "notification_dead_lettered":
        message.details.append(str(data.get("error", "")))
    if event.type == "drift_digest":
        for item in data.get("items") or []:
            if isinstance(item, Mapping):
                addresses = ", ".join(str(a) for a in item.get("addresses") or [])
                message.items.append(
                    f"{item.get('request')} ({item.get('module')} in {item.get('environment')}):"
                    f" {addresses or 'drifted'}"
                )
    for name, url in delivery.links.items():
        message.links.append((name.replace("_", " ").capitalize(), url))
    if delivery.runbook_url:
        message.links.append(("Runbook", delivery.runbook_url))
    message.unsubscribe_url = delivery.links.get("unsubscribe")
    message.links = [(k, v) for k, v in message.links if k != "Unsubscribe"]
    return _scrubbed(message, list(secrets))


def _scrubbed(message: Message, secrets: Sequence[str]) -> Message:
    if not secrets:
        return message

    def s(text: str) -> str:
        return scrub_text(text, secrets)

    message.title = s(message.title)
    message.fields = [(k, s(v)) for k, v in message.fields]
    message.summary = None if message.summary is None else s(message.summary)
    message.cost = None if message.cost is None else s(message.cost)
    message.policy = [s(p) for p in message.policy]
    message.details = [s(d) for d in message.details]
    message.items = [s(i) for i in message.items]
    message.links = [(k, s(v)) for k, v in message.links]
    return message


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, marked with :data:`CUT` when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT)] + CUT


# -- plain text ------------------------------------------------------------------------------


def render_text(message: Message) -> str:
    """The message as plain text (email text part, console)."""
    lines = [message.headline().removeprefix("[tfpilot] "), ""]
    lines += [f"{label}: {value}" for label, value in message.fields]
    if message.summary:
        lines += ["", "Plan:", message.summary]
    if message.cost:
        lines += ["", message.cost]
    if message.policy:
        lines += ["", "Policy:"] + [f"  - {p}" for p in message.policy]
    if message.details:
        lines += ["", "Details:"] + [cut(d, DETAIL_MAX) for d in message.details]
    if message.items:
        lines += [""] + [f"  - {i}" for i in message.items]
    if message.links:
        lines += [""] + [f"{label}: {url}" for label, url in message.links]
    lines += ["", _unsubscribe_text(message)]
    return "\n".join(lines) + "\n"


def _unsubscribe_text(message: Message) -> str:
    text = "Stop these messages: tfpilot notify prefs set --mute"
    if message.unsubscribe_url:
        text += f" (or {message.unsubscribe_url})"
    return text


# -- HTML --------------------------------------------------------------------------------------


def render_html(message: Message) -> str:
    """The message as an HTML document; every value is escaped (no markup from user text)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body>',
        f"<h2>{e(message.headline().removeprefix('[tfpilot] '))}</h2>",
        "<table>",
    ]
    parts += [f"<tr><th align=left>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in message.fields]
    parts.append("</table>")
    if message.summary:
        parts.append(f"<h3>Plan</h3><pre>{e(message.summary)}</pre>")
    if message.cost:
        parts.append(f"<p>{e(message.cost)}</p>")
    if message.policy:
        parts.append("<h3>Policy</h3><ul>")
        parts += [f"<li>{e(p)}</li>" for p in message.policy]
        parts.append("</ul>")
    if message.details:
        parts.append("<h3>Details</h3>")
        parts += [f"<pre>{e(cut(d, DETAIL_MAX))}</pre>" for d in message.details]
    if message.items:
        parts.append("<ul>")
        parts += [f"<li>{e(i)}</li>" for i in message.items]
        parts.append("</ul>")
    if message.links:
        parts.append("<p>")
        parts += [f'<a href="{e(url, quote=True)}">{e(label)}</a> ' for label, url in message.links]
        parts.append("</p>")
    unsubscribe = "Stop these messages: <code>tfpilot notify prefs set --mute</code>"
    if message.unsubscribe_url:
        unsubscribe += f' or <a href="{e(message.unsubscribe_url, quote=True)}">unsubscribe</a>'
    parts.append(f"<p><small>{unsubscribe}</small></p></body></html>")
    return "\n".join(parts)


# -- Slack Block Kit ---------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """``text`` safe in Slack mrkdwn: ``&``, ``<`` and ``>`` escaped, so ``<!channel>`` or
    ``<https://evil|click>`` in user input show as text instead of pinging or linking."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Lines joined into texts of at most ``limit`` characters (long lines are cut)."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = cut(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def _code(text: str) -> str:
    # A code block inside mrkdwn: escaped like any text; backticks would end it early.
    body = slack_escape(text).replace("```", "'''")
    return "```" + cut(body, SLACK_SECTION_MAX - 6) + "```"


#: Reason inputs shown for mandatory findings (more are overridden on the request page).
SLACK_OVERRIDE_INPUTS_MAX = 5
#: The block id prefix of an override reason input: ``override:<rule id>``.
OVERRIDE_BLOCK = "override:"
#: The block id of the reason input that Reject and Request changes require.
REJECT_BLOCK = "reject_reason"


def _approval_blocks(message: Message) -> list[dict[str, Any]]:
    """One reason input per rule to override (a mandatory finding's, or an opt-out's to
    accept): an approval must override it in writing."""
    blocks: list[dict[str, Any]] = []
    for rule in message.overrides_needed[:SLACK_OVERRIDE_INPUTS_MAX]:
        what = "accept the opt-out of" if rule in message.opt_outs_to_accept else "override"
        blocks.append(
            {
                "type": "input",
                "block_id": cut(OVERRIDE_BLOCK + rule, 255),
                "optional": True,
                "label": {
                    "type": "plain_text",
                    "text": cut(f"Reason to {what} {rule}", SLACK_BUTTON_TEXT_MAX),
                },
                "element": {"type": "plain_text_input", "action_id": "reason"},
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": REJECT_BLOCK,
            "optional": True,
            "label": {"type": "plain_text", "text": "Reason to reject or ask for changes"},
            "element": {
                "type": "plain_text_input",
                "action_id": "reason",
                "multiline": True,
                "max_length": 3000,
            },
        }
    )
    return blocks


def _approval_buttons(message: Message) -> list[dict[str, Any]]:
    """Approve, Reject and Request changes, bound to the plan digest: ``tfpilot_web.slack``
    acts on exactly that plan (a rejection needs the reason typed in the message)."""
    import json

    value = json.dumps({"request_id": message.request_id, "plan_digest": message.approval_digest})
    label = "Approve with the reasons above" if message.overrides_needed else "Approve"
    return [
        {
            "type": "button",
            "action_id": "approve",
            "style": "primary",
            "text": {"type": "plain_text", "text": label},
            "value": value,
        },
        {
            "type": "button",
            "action_id": "reject",
            "style": "danger",
            "text": {"type": "plain_text", "text": "Reject (with the reason above)"},
            "value": value,
        },
        {
            "type": "button",
            "action_id": "request_changes",
            "text": {"type": "plain_text", "text": "Request changes"},
            "value": value,
        },
    ]


def render_slack(message: Message) -> dict[str, Any]:
    """Block Kit ``{"blocks": [...], "text": fallback}`` within Slack's limits.

    A header; the request, module, environment, project and actor as fields; the plan summary;
    cost and policy lines; details; link buttons. Every user-supplied string is escaped; text
    longer than a block allows is cut and marked; at most 50 blocks (the rest is summarised).
    """
    esc = slack_escape
    emoji = _EMOJI.get(message.severity, "")
    header_text = f"{emoji} {message.headline().removeprefix('[tfpilot] ')}".strip()
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": cut(header_text, SLACK_HEADER_MAX)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": cut(f"*{label}*\n{esc(value)}", SLACK_FIELD_MAX)}
                for label, value in message.fields[:SLACK_FIELDS_MAX]
            ],
        },
    ]
    body: list[dict[str, Any]] = []
    if message.summary:
        body += [_section(t) for t in _chunks([esc(message.summary)], SLACK_SECTION_MAX)]
    if message.cost:
        body.append(_section(cut(esc(message.cost), SLACK_SECTION_MAX)))
    if message.policy:
        lines = ["*Policy*", *(f"• {esc(p)}" for p in message.policy)]
        body += [_section(t) for t in _chunks(lines, SLACK_SECTION_MAX)]
    for detail in message.details:
        body.append(_section(_code(detail)))
    if message.items:
        body += [_section(t) for t in _chunks([f"• {esc(i)}" for i in message.items], 3000)]
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": cut(label, SLACK_BUTTON_TEXT_MAX)},
            "url": url,
        }
        for label, url in message.links
        if len(url) <= SLACK_URL_MAX
    ][:SLACK_ACTIONS_MAX]
    tail: list[dict[str, Any]] = []
    if message.approval_digest:
        tail += _approval_blocks(message)
        buttons = [*_approval_buttons(message), *buttons][:SLACK_ACTIONS_MAX]
    if buttons:
        tail.append({"type": "actions", "block_id": "tfpilot", "elements": buttons})
    room = SLACK_BLOCKS_MAX - len(blocks) - len(tail)
    if len(body) > room:
        dropped = len(body) - (room - 1)
        body = body[: room - 1]
        body.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{dropped} more block(s) {CUT}"}],
            }
        )
    blocks += body + tail
    fallback = esc(message.headline())
    if message.details:
        fallback += "\n" + esc(message.details[0])
    return {"blocks": blocks, "text": cut(fallback, SLACK_TEXT_MAX)}
