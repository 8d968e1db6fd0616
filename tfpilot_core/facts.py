"""Deterministic facts of a plan: what a model may be told, and what its answer is checked against.

:func:`extract_facts` turns a *masked* plan, its request and the summary context (policy findings,
cost) into :class:`SummaryFacts`: counts per action, every destructive change with its reason
(Terraform's ``action_reason`` and the attributes in ``replace_paths`` forcing a replacement),
creations, updates (attribute names only), drift, outputs, the cost and its delta, the findings,
and the rules summary. Like the rules summariser, facts hold no attribute *values*: addresses,
types, attribute names, counts, money and finding messages only.

Defence in depth, because facts are meant to leave tfpilot (an LLM prompt): every string is passed
through :func:`scrub_secrets` (values of sensitive inputs, and anything that looks like a key, a
token or a connection string), whatever its origin.

The same facts, and the same plan, always give the same :meth:`SummaryFacts.digest`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import Request
    from tfpilot_core.plan import Plan

#: What a scrubbed secret becomes (the masking module's mask).
SECRET_MASK = "(sensitive)"

#: Strings that look like credentials, whatever field they were found in. Ordered: the most
#: specific first, so that a connection string is masked as a whole.
SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private keys.
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    # URLs with credentials: scheme://user:password@host (databases, brokers, git remotes).
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s@/]+@[^\s\"']+"),
    # key=value connection strings carrying a password or key.
    re.compile(
        r"(?i:\b(?:password|pwd|secret|accountkey|sharedaccesskey|api[_-]?key|token)\s*[=:]\s*"
        r"[^\s;,\"']+)"
    ),
    # AWS access key ids and secret keys.
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),
    re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
    # GitHub, Slack, OpenAI-style, Google API keys; JWTs; bearer tokens.
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
    re.compile(r"(?i:\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*)"),
    # Long hex strings (keys, HMAC secrets). Digests match too, which costs nothing: facts never
    # need one.
    re.compile(r"\b[0-9a-fA-F]{40,}\b"),
)


#: Every pattern in one alternation: one scan per string (most strings match none).
_ANY_SECRET = re.compile("|".join(f"(?:{p.pattern})" for p in SECRET_PATTERNS))


class Scrubber:
    """Scrubs known secrets and secret-looking strings; built once for many strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every known secret and every secret-looking string masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, SECRET_MASK)
        if _ANY_SECRET.search(text) is None:
            return text
        for pattern in SECRET_PATTERNS:
            text = pattern.sub(SECRET_MASK, text)
        return text


def scrub_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every secret-looking string replaced by a mask."""
    return Scrubber(secrets).text(text)


def looks_secret(text: str) -> bool:
    """Whether ``text`` holds something :data:`SECRET_PATTERNS` would mask."""
    return any(p.search(text) for p in SECRET_PATTERNS)


@dataclass(frozen=True)
class DestructiveFact:
    """One delete or replacement, with why Terraform does it."""

    address: str
    type: str
    action: str
    reason: str | None = None
    forced_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeFact:
    """One creation, update, or drifted object (attribute names only, never values)."""

    address: str
    type: str
    attributes: tuple[str, ...] = ()


@dataclass
class SummaryFacts:
    """Everything a summary may say about a plan; see the module docstring."""

    request_id: str
    module: str
    environment: str
    counts: dict[str, int]
    destructive: list[DestructiveFact]
    created: list[ChangeFact]
    updated: list[ChangeFact]
    drift: list[ChangeFact]
    outputs: list[str]
    cost: dict[str, str | None] | None
    findings: list[dict[str, str | None]]
    rules_summary: str
    #: Per list, how many items were left out to keep the facts within their budget.
    omitted: dict[str, int] = field(default_factory=dict)

    def to_dict(self, *, with_rules_summary: bool = False) -> dict[str, Any]:
        """The facts as JSON-ready data (the rules summary only on request: it repeats them)."""
        data = asdict(self)
        if not with_rules_summary:
            data.pop("rules_summary")
        return data

    def to_json(self) -> str:
        """Canonical compact JSON of :meth:`to_dict` (what a prompt carries)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)

    def digest(self) -> str:
        """sha256 of the canonical facts: equal facts, equal digest."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def addresses(self) -> set[str]:
        """Every resource address the facts name (changes, drift, findings)."""
        found = {d.address for d in self.destructive}
        for group in (self.created, self.updated, self.drift):
            found.update(c.address for c in group)
        found.update(str(f["address"]) for f in self.findings if f.get("address"))
        return found

    def numbers(self) -> set[Decimal]:
        """Every number the facts contain, in any field (counts, sizes of lists, money)."""
        found: set[Decimal] = set()
        for value in self.counts.values():
            found.add(Decimal(value))
        found.add(Decimal(sum(self.counts.values())))
        for group in (self.destructive, self.created, self.updated, self.drift, self.findings):
            found.add(Decimal(len(group)))
        found.add(Decimal(len(self.outputs)))
        found.update(Decimal(v) for v in self.omitted.values())
        found.update(numbers_in(json.dumps(self.to_dict(with_rules_summary=True), default=str)))
        return found | {abs(n) for n in found}

    def trimmed(self, max_items: int) -> SummaryFacts:
        """A copy listing at most ``max_items`` creations, updates, drifts and findings.

        Destructive changes are never trimmed: a summary must mention each of them.
        """
        omitted = dict(self.omitted)

        def cut(name: str, items: list[Any]) -> list[Any]:
            if len(items) > max_items:
                omitted[name] = omitted.get(name, 0) + len(items) - max_items
                return items[:max_items]
            return items

        return SummaryFacts(
            request_id=self.request_id,
            module=self.module,
            environment=self.environment,
            counts=self.counts,
            destructive=self.destructive,
            created=cut("created", self.created),
            updated=cut("updated", self.updated),
            drift=cut("drift", self.drift),
            outputs=cut("outputs", self.outputs),
            cost=self.cost,
            findings=cut("findings", self.findings),
            rules_summary=self.rules_summary,
            omitted=omitted,
        )


_NUMBER = re.compile(r"(?<![\w.-])[-+]?\d[\d,]*(?:\.\d+)?")


def numbers_in(text: str) -> set[Decimal]:
    """Every number written in ``text`` (``1,234.50`` reads as 1234.50; signs dropped)."""
    found: set[Decimal] = set()
    for match in _NUMBER.findall(text):
        cleaned = match.replace(",", "").lstrip("+-")
        try:
            found.add(Decimal(cleaned).normalize())
        except ArithmeticError:
            continue
    return {n.normalize() for n in found}


def _sensitive_input_values(request: Request, plan: Plan) -> list[str]:
    """Values of the request's inputs that the masked plan shows as masked (sensitive inputs)."""
    from tfpilot_core.masking import MASK, sensitive_strings

    found: list[str] = []
    for name, variable in plan.variables.items():
        if isinstance(variable, dict) and variable.get("value") == MASK and name in request.inputs:
            found += sensitive_strings(request.inputs[name], True)
    return found


def extract_facts(
    request: Request,
    plan: Plan,
    context: SummaryContext,
    *,
    secrets: Sequence[str] = (),
    max_items: int | None = None,
) -> SummaryFacts:
    """The facts of a masked ``plan`` (see the module docstring and :class:`FactsExtractor`)."""
    return FactsExtractor(request, plan, context, secrets=secrets).facts(max_items)


class FactsExtractor:
    """Extracts the facts of one masked plan, as often as needed with different list lengths.

    What every extraction shares (sorted changes, counts, the rules summary, the scrubber) is
    computed once, so trying several budgets on a large plan costs little more than one.
    ``secrets`` are extra strings to scrub (e.g. resolved credentials); the values of inputs the
    plan shows masked are scrubbed in any case.
    """

    def __init__(
        self,
        request: Request,
        plan: Plan,
        context: SummaryContext,
        *,
        secrets: Sequence[str] = (),
    ) -> None:
        from tfpilot_core.default_plugins.summarizer_rules import summarize_plan
        from tfpilot_core.plan import Action

        self.request = request
        self.plan = plan
        self.context = context
        self.scrubber = Scrubber([*secrets, *_sensitive_input_values(request, plan)])
        managed = sorted(
            (c for c in plan.resource_changes if c.mode == "managed"), key=lambda c: c.address
        )
        self.counts = plan.counts()
        self._destructive = [c for c in managed if c.destructive]
        self._created = [c for c in managed if c.action is Action.CREATE]
        self._updated = [c for c in managed if c.action is Action.UPDATE]
        self._drift = sorted(plan.resource_drift, key=lambda c: c.address)
        self._outputs = sorted(o.name for o in plan.output_changes if o.action is not Action.NO_OP)
        self._findings = sorted(
            context.findings, key=lambda f: (f.rule_id, f.address or "", f.message)
        )
        text, markdown = summarize_plan(request, plan, context)
        #: The rules summary (text, Markdown): the fallback, and part of every facts' record.
        self.rules_text = text
        self.rules_markdown = markdown
        self._rules_clean = self.scrubber.text(text)

    def listed(self, max_items: int | None) -> int:
        """How many items :meth:`facts` lists with ``max_items`` (to skip hopeless budgets)."""
        lists = (self._created, self._updated, self._drift, self._outputs, self._findings)
        sizes = [len(items) for items in lists]
        if max_items is not None:
            sizes = [min(n, max_items) for n in sizes]
        return len(self._destructive) + sum(sizes)

    def facts(self, max_items: int | None = None) -> SummaryFacts:
        """The facts, listing at most ``max_items`` creations, updates, drifted objects, outputs
        and findings each (every destructive change always), the rest counted in ``omitted``.
        Only listed items are built and scrubbed."""
        from tfpilot_core.default_plugins.summarizer_rules import (
            REASONS,
            changed_attributes,
            replace_attributes,
        )

        clean = self.scrubber.text
        omitted: dict[str, int] = {}

        def keep(name: str, items: list[Any]) -> list[Any]:
            if max_items is not None and len(items) > max_items:
                omitted[name] = len(items) - max_items
                return items[:max_items]
            return items

        destructive = [
            DestructiveFact(
                address=clean(c.address),
                type=c.type,
                action=c.action.value,
                reason=clean(REASONS.get(c.action_reason, c.action_reason.replace("_", " ")))
                if c.action_reason
                else None,
                forced_by=tuple(clean(a) for a in replace_attributes(c)),
            )
            for c in self._destructive
        ]
        created = [ChangeFact(clean(c.address), c.type) for c in keep("created", self._created)]
        updated = [
            ChangeFact(clean(c.address), c.type, tuple(clean(a) for a in changed_attributes(c)))
            for c in keep("updated", self._updated)
        ]
        drift = [
            ChangeFact(clean(c.address), c.type, tuple(clean(a) for a in changed_attributes(c)))
            for c in keep("drift", self._drift)
        ]
        outputs = [clean(name) for name in keep("outputs", self._outputs)]
        cost: dict[str, str | None] | None = None
        if self.context.cost is not None:
            estimate = self.context.cost
            delta = estimate.delta
            cost = {
                "currency": estimate.currency,
                "monthly": None if estimate.monthly is None else f"{estimate.monthly:.2f}",
                "previous": None if estimate.previous is None else f"{estimate.previous:.2f}",
                "delta": None if delta is None else f"{delta:+.2f}",
            }
        findings: list[dict[str, str | None]] = [
            {
                "rule_id": f.rule_id,
                "level": f.level.value,
                "address": clean(f.address) if f.address else None,
                "message": clean(f.message),
            }
            for f in keep("findings", self._findings)
        ]
        placement = self.request.placement
        return SummaryFacts(
            request_id=self.request.id,
            module=placement.module,
            environment=placement.environment,
            counts={a.value: n for a, n in sorted(self.counts.items(), key=lambda i: i[0].value)},
            destructive=destructive,
            created=created,
            updated=updated,
            drift=drift,
            outputs=outputs,
            cost=cost,
            findings=findings,
            rules_summary=self._rules_clean,
            omitted=omitted,
        )
