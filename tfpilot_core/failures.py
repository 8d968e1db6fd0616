"""Failures explained: the facts of a failed plan, apply or drift check, and why it failed.

:func:`failure_facts` turns Terraform's output of a failed run (its log, or the attempt's
recorded ``error``) into :class:`FailureFacts`: the masked tail of the log and the error
diagnostics (``Error: <summary>`` blocks of the human output, or ``"diagnostic"`` objects of
``-json`` output). Everything is scrubbed with :class:`tfpilot_core.plan_facts.Scrubber` (the values
of sensitive inputs and anything that looks like a credential), so the facts can go to a page, a
comment, a notification or a model prompt.

:func:`explain_failure` is the offline, rule-based explanation: the common failures (provider
authentication, quota or rate limits, a name already taken, invalid configuration, a held state
lock, timeouts) are recognised from the diagnostics first and the log second, each with what to
do. Pure functions of their arguments: the lifecycle records the result on the request.
:func:`render_failure` is the one rendering (text or Markdown) for the CLI, the request page, the
PR comment and the notification.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tfpilot_core.masking import Scrubber
from tfpilot_core.models import Conclusion

if TYPE_CHECKING:
    from tfpilot_core.models import Request, RunAttempt

__all__ = [
    "CAUSES",
    "Diagnostic",
    "Explanation",
    "FailureExplainer",
    "FailureFacts",
    "explain_failure",
    "explanation_of",
    "failure_facts",
    "latest_failure",
    "render_failure",
]

#: Lines of the log kept in the facts (the end of it, where Terraform reports errors).
TAIL_LINES = 40
#: Characters of the log tail kept, at most.
TAIL_CHARS = 4000
#: Diagnostics kept, at most (the first ones: later errors are usually consequences).
MAX_DIAGNOSTICS = 10


@dataclass(frozen=True)
class Diagnostic:
    """One Terraform error or warning, masked."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None


@dataclass(frozen=True)
class FailureFacts:
    """What a failed run said, masked: the end of its log and its diagnostics."""

    #: ``plan``, ``apply``, ``destroy`` or ``drift``.
    kind: str
    log_tail: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    #: Lines of the log left out before the tail.
    omitted_lines: int = 0

    def text(self) -> str:
        """The diagnostics and the tail as one text (what the rules and a model read)."""
        parts = [f"{d.summary}\n{d.detail}" for d in self.diagnostics]
        return "\n".join([*parts, *self.log_tail])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts."""
        return {
            "kind": self.kind,
            "diagnostics": [
                {
                    "severity": d.severity,
                    "summary": d.summary,
                    "detail": d.detail,
                    "address": d.address,
                }
                for d in self.diagnostics
            ],
            "log_tail": list(self.log_tail),
            "omitted_lines": self.omitted_lines,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureFacts:
        """The facts :meth:`to_dict` wrote (what a request or an event recorded)."""
        return cls(
            kind=str(data.get("kind") or ""),
            log_tail=tuple(str(line) for line in data.get("log_tail") or ()),
            diagnostics=tuple(
                Diagnostic(
                    str(d.get("severity") or "error"),
                    str(d.get("summary") or ""),
                    str(d.get("detail") or ""),
                    str(d["address"]) if d.get("address") else None,
                )
                for d in data.get("diagnostics") or ()
                if isinstance(d, dict)
            ),
            omitted_lines=int(data.get("omitted_lines") or 0),
        )


@dataclass(frozen=True)
class Cause:
    """A kind of failure the rules recognise: how to spot it and what to do."""

    id: str
    title: str
    explanation: str
    hints: tuple[str, ...]
    #: How the cause shows in a line of the log or a diagnostic (case-insensitive).
    regex: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """:attr:`regex` compiled, on first use: the kernel imports this module, so compiling
        every cause at import cost each command's start about 4 ms."""
        return _compiled(self.regex)


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


#: The recognised causes, in the order they are tried (the most specific first: a state lock
#: error mentions a conditional check, a quota error can say "403").
CAUSES: tuple[Cause, ...] = (
    Cause(
        "state_lock",
        "The state is locked",
        "Another Terraform run holds the lock on this request's state (or a crashed run left "
        "it behind), so this run could not start.",
        (
            "Wait for the other run to finish and retry.",
            "If no run is in progress, an admin can release the stale lock "
            "(terraform force-unlock with the lock ID shown in the log).",
        ),
        (
            r"error acquiring the state lock|state (?:is )?locked|lock info:|"
            r"conditionalcheckfailedexception|could not acquire (?:the )?lock"
        ),
    ),
    Cause(
        "provider_auth",
        "The provider refused the credentials",
        "The cloud provider did not accept the credentials of the run: they are missing, "
        "expired, or not allowed to do this.",
        (
            "Check that the runner has credentials for this environment (and that they have "
            "not expired).",
            "Check that the role or key is allowed the actions in the log.",
        ),
        (
            r"no ?credential|no valid credential|invalidclienttokenid|expiredtoken|"
            r"token (?:has )?expired|unrecognizedclientexception|signaturedoesnotmatch|"
            r"access ?denied|not authori[sz]ed|unauthori[sz]ed|\b401\b|authentication failed|"
            r"could not find default credentials|invalid_grant|permission denied|forbidden"
        ),
    ),
    Cause(
        "quota",
        "A quota or rate limit was reached",
        "The provider refused to create more of something (an account or project quota) or "
        "throttled the requests.",
        (
            "Free capacity (delete unused resources) or ask for a higher quota.",
            "If the log says throttling or rate exceeded, retry later.",
        ),
        (
            r"limitexceeded|limit exceeded|quotaexceeded|quota|toomanybuckets|"
            r"throttl|rate exceeded|too many requests|\b429\b|insufficient capacity"
        ),
    ),
    Cause(
        "name_conflict",
        "The name is already taken",
        "Something with the same name already exists (created outside this request, by "
        "another request, or left over from an earlier run), so it cannot be created.",
        (
            "Choose another name and update the request.",
            "Or import the existing object, or delete it if it is a leftover.",
        ),
        (
            r"already exists|alreadyexists|already owned by you|alreadyownedbyyou|"
            r"name (?:is )?(?:already )?(?:taken|in use)|duplicate (?:name|key)|"
            r"entityalreadyexists|\bconflict\b|\b409\b"
        ),
    ),
    Cause(
        "timeout",
        "The run timed out",
        "An operation did not finish in time: the provider, the network or the run's own "
        "time limit.",
        (
            "Retry: transient provider slowness is the usual cause.",
            "If it keeps happening, raise the resource's timeouts or the run's limit.",
        ),
        (
            r"timeout while waiting|timed out|time ?out|deadline exceeded|i/o timeout|"
            r"timeouterror"
        ),
    ),
    Cause(
        "validation",
        "The configuration or an input is invalid",
        "Terraform or the provider rejected a value or the configuration before changing anything.",
        (
            "Read the diagnostic: it names the argument and the rule.",
            "Fix the input and update the request (a new revision is planned again).",
        ),
        (
            r"invalid value|invalid (?:argument|reference|parameter|input)|unsupported "
            r"argument|missing required argument|invalidparameter|validation (?:failed|error)|"
            r"validationerror|reference to undeclared|is not a valid|expected .{1,40} to be|"
            r"must be (?:a|an|one of|at|between)|are refused|not allowed"
        ),
    ),
)

_UNKNOWN = Cause(
    "unknown",
    "The run failed",
    "The failure is not one of the kinds tfpilot recognises; the diagnostics and the end of "
    "the log below say what Terraform reported.",
    ("See the runbook for this module, and the log of the run.",),
    r"(?!)",
)


@dataclass(frozen=True)
class Explanation:
    """Why a run failed: a recognised cause (or ``unknown``), in words, with what to do.

    ``evidence`` is the masked line the cause was recognised in; ``source`` is ``rules`` or
    the model that wrote ``text`` (checked against the log).
    """

    kind: str
    cause: str
    title: str
    text: str
    hints: tuple[str, ...]
    evidence: str | None
    facts: FailureFacts
    source: str = "rules"
    #: Why a model's explanation was not used (None when it was, or none was asked for).
    fallback_reason: str | None = None
    runbook: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready explanation (what the request records and ``--json`` prints)."""
        return {
            "kind": self.kind,
            "cause": self.cause,
            "title": self.title,
            "text": self.text,
            "hints": list(self.hints),
            "evidence": self.evidence,
            "source": self.source,
            "fallback_reason": self.fallback_reason,
            "runbook": self.runbook,
            "facts": self.facts.to_dict(),
        }

    def brief(self) -> dict[str, Any]:
        """:meth:`to_dict` without the log tail (what an event carries: the request holds
        the whole explanation, the captured log holds the whole output)."""
        data = self.to_dict()
        data["facts"] = {**data["facts"], "log_tail": []}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        """The explanation :meth:`to_dict` (or :meth:`brief`) wrote."""
        return cls(
            kind=str(data.get("kind") or ""),
            cause=str(data.get("cause") or "unknown"),
            title=str(data.get("title") or _UNKNOWN.title),
            text=str(data.get("text") or ""),
            hints=tuple(str(h) for h in data.get("hints") or ()),
            evidence=str(data["evidence"]) if data.get("evidence") else None,
            facts=FailureFacts.from_dict(dict(data.get("facts") or {})),
            source=str(data.get("source") or "rules"),
            fallback_reason=(str(data["fallback_reason"]) if data.get("fallback_reason") else None),
            runbook=str(data["runbook"]) if data.get("runbook") else None,
        )


class FailureExplainer(Protocol):
    """What a summariser may also do: explain a failed run (optional; see docs/hooks.md).

    The configured summariser (``[core] summarizer``) is asked when it has this method; the
    rules (:func:`explain_failure`) otherwise, and whenever it raises.
    """

    def explain_failure(
        self,
        kind: str,
        log: str,
        *,
        diagnostics: Sequence[dict[str, Any]] = (),
        secrets: Sequence[str] = (),
        runbook: str | None = None,
    ) -> Explanation:
        """Why the run of ``kind`` failed, from its (masked) ``log``."""
        ...


#: Where a failed attempt keeps its explanation (``RunAttempt.details``).
DETAILS_KEY = "explanation"


def explanation_of(attempt: RunAttempt) -> Explanation | None:
    """The explanation recorded on a failed ``attempt``, if any."""
    data = attempt.details.get(DETAILS_KEY)
    if attempt.conclusion is not Conclusion.FAILURE or not isinstance(data, dict):
        return None
    return Explanation.from_dict(data)


def latest_failure(request: Request) -> Explanation | None:
    """The explanation of the request's most recent run, when that run failed and has one.

    Only the latest attempt of the request counts: a failure already followed by another run
    (a new plan, a successful retry) is history, read in the timeline.
    """
    attempts = [a for runs in request.runs.values() for a in runs]
    if not attempts:
        return None
    newest = max(attempts, key=lambda a: a.completed_at or a.created_at)
    return explanation_of(newest)


_ERROR_BLOCK = re.compile(r"^(?:│\s*)?(Error|Warning): (.+)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _diagnostics(lines: Sequence[str]) -> list[Diagnostic]:
    """Diagnostics from ``-json`` lines or from the human ``Error: ...`` blocks."""
    found: list[Diagnostic] = []
    for line in lines:
        if line.startswith("{") and '"diagnostic"' in line:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            diag = data.get("diagnostic") if isinstance(data, dict) else None
            if isinstance(diag, dict):
                address = diag.get("address")
                found.append(
                    Diagnostic(
                        str(diag.get("severity") or data.get("@level") or "error"),
                        str(diag.get("summary") or ""),
                        str(diag.get("detail") or ""),
                        str(address) if address else None,
                    )
                )
    if found:
        return found
    current: list[str] | None = None
    head: tuple[str, str] | None = None
    for raw in [*lines, "Error: (end)"]:
        line = raw.strip().lstrip("│").strip()
        match = _ERROR_BLOCK.match(line)
        if match:
            if head is not None and current is not None:
                detail = "\n".join(x for x in current if x and not x.startswith("─")).strip()
                found.append(Diagnostic(head[0].lower(), head[1].strip(), detail))
            head, current = (match.group(1), match.group(2)), []
        elif current is not None:
            current.append(line)
    return found


def failure_facts(
    kind: str,
    log: str,
    *,
    diagnostics: Sequence[dict[str, Any]] = (),
    secrets: Sequence[str] = (),
    tail_lines: int = TAIL_LINES,
) -> FailureFacts:
    """The masked facts of a failed run of ``kind`` from its ``log`` (Terraform's output, or
    the attempt's recorded error), and ``diagnostics`` already parsed elsewhere (``-json``
    ``diagnostic`` objects). ``secrets`` are extra strings to mask (sensitive input values)."""
    scrub = Scrubber(secrets).text
    lines = [_ANSI.sub("", line).rstrip() for line in log.splitlines()]
    parsed = [
        Diagnostic(
            str(d.get("severity") or "error"),
            str(d.get("summary") or ""),
            str(d.get("detail") or ""),
            str(d["address"]) if d.get("address") else None,
        )
        for d in diagnostics
    ] or _diagnostics(lines)
    errors = [d for d in parsed if d.severity == "error"] or parsed
    # The same diagnostic printed twice (Terraform's output, then the runner's error) is one.
    unique: dict[tuple[str, str], Diagnostic] = {}
    for d in errors:
        unique.setdefault((d.severity, d.summary), d)
    errors = list(unique.values())
    masked = tuple(
        Diagnostic(
            d.severity,
            scrub(d.summary)[:500],
            scrub(d.detail)[:1500],
            scrub(d.address) if d.address else None,
        )
        for d in errors[:MAX_DIAGNOSTICS]
    )
    kept = [line for line in lines if line.strip()]
    tail = kept[-tail_lines:]
    # Keep the end within TAIL_CHARS: the last lines matter most.
    while tail and sum(len(line) + 1 for line in tail) > TAIL_CHARS:
        tail = tail[1:]
    return FailureFacts(
        kind=kind,
        log_tail=tuple(scrub(line)[:500] for line in tail),
        diagnostics=masked,
        omitted_lines=len(kept) - len(tail),
    )


def explain_failure(
    kind: str,
    log: str,
    *,
    diagnostics: Sequence[dict[str, Any]] = (),
    secrets: Sequence[str] = (),
    runbook: str | None = None,
) -> Explanation:
    """Why a run of ``kind`` (plan, apply, destroy, drift) failed, by the rules: pure and
    offline. The diagnostics are read first (their summaries, then details), then the log
    tail from its end; the first recognised cause wins, else ``unknown``."""
    facts = failure_facts(kind, log, diagnostics=diagnostics, secrets=secrets)
    places = [d.summary for d in facts.diagnostics] + [d.detail for d in facts.diagnostics]
    places += list(reversed(facts.log_tail))
    for cause in CAUSES:
        for text in places:
            for line in text.splitlines() or [text]:
                if cause.pattern.search(line):
                    return _explained(kind, cause, line.strip(), facts, runbook)
    return _explained(kind, _UNKNOWN, None, facts, runbook)


def _explained(
    kind: str, cause: Cause, evidence: str | None, facts: FailureFacts, runbook: str | None
) -> Explanation:
    what = {"drift": "The drift check", "plan": "The plan", "apply": "The apply"}.get(
        kind, f"The {kind}"
    )
    return Explanation(
        kind=kind,
        cause=cause.id,
        title=cause.title,
        text=f"{what} failed. {cause.explanation}",
        hints=cause.hints,
        evidence=evidence,
        facts=facts,
        runbook=runbook,
    )


def render_failure(explanation: Explanation, *, markdown: bool = False) -> str:
    """The explanation for people: text (CLI, e-mail, Slack) or Markdown (PR comment, page).

    The one rendering of a failure: title, explanation, the line that shows it, what to do,
    the first diagnostics, the runbook, and which source wrote it.
    """
    e = explanation
    by = "tfpilot's rules" if e.source == "rules" else f"{e.source} (checked against the log)"
    if markdown:
        lines = [f"**{_md(e.title)}** ({e.cause})", "", _md(e.text)]
        if e.evidence:
            lines += ["", "From the log:", "", "```", e.evidence.replace("```", "'''"), "```"]
        lines += ["", "What to do:"] + [f"- {_md(h)}" for h in e.hints]
        for d in e.facts.diagnostics[:3]:
            lines += ["", f"> **{_md(d.severity)}:** {_md(d.summary)}"]
        if e.runbook:
            lines += ["", f"Runbook: {e.runbook}"]
        lines += ["", f"*Explained by {_md(by)}.*"]
        if e.fallback_reason:
            lines += [f"*Model explanation not used: {_md(e.fallback_reason)}*"]
        return "\n".join(lines)
    lines = [f"{e.title} ({e.cause})", e.text]
    if e.evidence:
        lines.append(f"From the log: {e.evidence}")
    lines += ["What to do:"] + [f"  - {h}" for h in e.hints]
    for d in e.facts.diagnostics[:3]:
        lines.append(f"{d.severity}: {d.summary}")
    if e.runbook:
        lines.append(f"Runbook: {e.runbook}")
    lines.append(f"Explained by {by}.")
    if e.fallback_reason:
        lines.append(f"Model explanation not used: {e.fallback_reason}")
    return "\n".join(lines)


def _md(text: str) -> str:
    # Markdown characters that would change the meaning of a model's or a log's words.
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)
