"""The ``llm`` summariser: facts first, masked, then a model's narrative that is checked.

1. Facts (:func:`tfpilot_core.plan_facts.extract_facts`) are computed from the masked plan, with
   every sensitive value and every secret-looking string scrubbed. The prompt carries the facts
   only, never the plan, and must fit ``max_prompt_tokens`` (litellm's token counter): the lists are
   trimmed (never the destructive changes) until it does, or the rules summary is used.
2. The model is asked for JSON ``{"text": ..., "cited_addresses": [...]}``.
3. The answer is checked (:func:`check_answer`): every cited address, and every address-shaped
   word of the text, is in the facts; every number of the text is a number of the facts; every
   destructive change is cited or named. A failing check, an error, a timeout or an answer over
   budget gives the rules summary with ``fallback_reason`` saying why (stored on the request).
4. Accepted answers are cached by (facts digest, model, prompt version) under the plugin's home.

Nothing logs a prompt or an answer: only their sizes and sha256 digests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.plan_facts import (
    EXPOSURE_KINDS,
    FactsExtractor,
    SummaryFacts,
    numbers_in,
    scrub_secrets,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tfpilot_core.failures import Explanation
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import PlanSummary, Request
    from tfpilot_core.plan import Plan
    from tfpilot_summarize_llm.settings import LLMSettings

log = structlog.get_logger("tfpilot.summarize_llm")

NAME = "llm"
#: Bumped whenever the prompt or the answer format changes: cached answers of another version
#: are not reused.
PROMPT_VERSION = "2"
#: How far the facts' lists are trimmed, step by step, to fit the prompt budget.
_TRIM_STEPS = (200, 50, 20, 5, 0)
#: Changed attribute paths listed per resource at each step (the first: no trimming yet).
_ATTRIBUTE_STEPS = {None: 20, 200: 8, 50: 5, 20: 3, 5: 2, 0: 0}
#: More characters per token than JSON of addresses ever reaches with BPE tokenizers (about 3):
#: a prompt longer than budget x this is over budget without counting.
_MAX_CHARS_PER_TOKEN = 8
#: Fewer tokens than any listed item takes (an address alone is several).
_MIN_ITEM_TOKENS = 4

SYSTEM_PROMPT = """You summarise Terraform plans for the people who must approve them.
You receive FACTS as JSON, computed from the plan; they are all you know. Attribute values read
"(sensitive)" when hidden and "(known after apply)" when not yet known.
Answer with one JSON object and nothing else:
{"text": "<a short plain-language summary, at most 120 words>",
 "cited_addresses": ["<every resource address your text mentions>"],
 "claims": {
   "actions": [{"address": "<address>", "action": "create|update|replace|delete|forget"}
               or {"action": "<action>", "count": <how many resources get it>}],
   "findings": [{"rule_id": "<rule id>", "level": "<level>"}],
   "cost": "up|down|unchanged|unknown",
   "exposure": [{"address": "<address>",
                 "change": "made_public|made_private|encryption_off|encryption_on"}]
 }}
Rules:
- "claims" states, in structured form, everything the text says; each claim is checked.
- Claim every entry of "destructive" by its exact address and action, and say in the text why
  it is destroyed or replaced (its "reason" and "forced_by").
- Claim every action of "counts", per address or as {"action", "count"} with the exact count.
- Claim every blocking and mandatory rule of "finding_rules" by rule id and level.
- Claim an exposure change only when "exposure" lists it.
- Use only addresses and numbers that appear in FACTS. Do not invent or compute new numbers."""

#: What an action claim may say.
ACTIONS = ("create", "update", "replace", "delete", "forget", "read")
#: What a cost claim may say.
COST_DIRECTIONS = ("up", "down", "unchanged", "unknown")
#: Finding levels a summary must mention.
MUST_MENTION_LEVELS = ("blocking", "mandatory")


class AnswerRejected(Exception):
    """The model's answer failed a check; the message says which (it becomes the reason)."""


#: Resource addresses as Terraform writes them: optional module path, optional ``data.``,
#: ``<type>.<name>`` with an optional index. Types always contain ``_`` (provider prefix).
_ADDRESS = re.compile(
    r"(?:module\.[A-Za-z0-9_-]+(?:\[[^\]\s]+\])?\.)*(?:data\.)?"
    r"[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*(?:\[[^\]\s]+\])?"
)

#: Verbs of the narrative, by the action they state (a sentence naming an address with one of
#: these must state that address's action).
_VERBS: dict[str, re.Pattern[str]] = {
    "create": re.compile(r"\b(?:creat\w*|add(?:s|ed|ing)?|provision\w*|new)\b", re.I),
    "update": re.compile(
        r"\b(?:updat\w*|modif\w*|chang\w*|in[- ]place|resiz\w*|set(?:s|ting)?)\b", re.I
    ),
    "replace": re.compile(r"\b(?:replac\w*|recreat\w*|rebuil\w*)\b", re.I),
    "delete": re.compile(r"\b(?:delet\w*|destroy\w*|remov\w*|tear\w* down|drop\w*)\b", re.I),
    "forget": re.compile(r"\b(?:forget\w*|forgot\w*)\b", re.I),
}
#: What each true action lets a sentence say (a replacement deletes and creates).
_ALLOWED_VERBS = {
    "create": {"create", "update"},
    "update": {"update"},
    "replace": {"replace", "delete", "create", "update"},
    "delete": {"delete"},
    "forget": {"forget", "delete"},
    "read": {"update"},
}
_PARTICIPLES = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "forget": "forgotten",
}
_SAYS_PUBLIC = re.compile(
    r"\b(?:mak\w*|becom\w*|turn\w*|open\w*|expos\w*|set\w*)\b[^.;]*\bpublic\w*"
    r"|\bpublicly (?:access\w*|read\w*|reach\w*|expos\w*)|\bopen to the (?:internet|world)\b",
    re.I,
)
_SAYS_UNENCRYPTED = re.compile(
    r"\bunencrypt\w*|\bwithout encryption\b|\bencryption (?:is )?(?:off|disabled|removed"
    r"|turned off)\b|\b(?:disabl\w*|remov\w*|turn\w* off) (?:the )?(?:at-rest )?encryption\b",
    re.I,
)
_SAYS_NO_FINDINGS = re.compile(
    r"\bno (?:policy )?(?:findings|issues|violations|problems)\b"
    r"|\b(?:passes|meets|satisfies) (?:all|every) (?:the )?polic",
    re.I,
)
_SAYS_CHEAPER = re.compile(r"\b(?:cheaper|saves?|savings|costs? less|reduc\w* (?:the )?cost)", re.I)
_SAYS_DEARER = re.compile(
    r"\b(?:more expensive|costs? more|increas\w* (?:the )?cost|cost increases?)\b", re.I
)


@dataclass
class Truth:
    """What claims are checked against: the plan's facts, whole (not only what the prompt
    listed, so that a true claim about a trimmed item is not called invented)."""

    actions: dict[str, str]
    counts: dict[str, int]
    destructive: dict[str, str]
    drifted: set[str]
    findings: list[dict[str, str | int]]
    cost_direction: str
    exposure: set[tuple[str, str]]

    @classmethod
    def of(cls, facts: SummaryFacts, extractor: FactsExtractor | None = None) -> Truth:
        """The truth of ``extractor`` (every change), or of ``facts`` (what they list)."""
        if extractor is not None:
            actions = dict(extractor.actions)
            drifted = set(extractor.drifted)
            findings = extractor.finding_rules
            exposure = {(e.address, e.change) for e in extractor.exposure}
        else:
            actions = {d.address: d.action for d in facts.destructive}
            actions.update({c.address: "create" for c in facts.created})
            actions.update({c.address: "update" for c in facts.updated})
            drifted = {c.address for c in facts.drift}
            findings = facts.finding_rules
            exposure = {(e.address, e.change) for e in facts.exposure}
        direction = "unknown"
        delta = (facts.cost or {}).get("delta")
        if delta is not None:
            value = Decimal(delta)
            direction = "up" if value > 0 else "down" if value < 0 else "unchanged"
        return cls(
            actions=actions,
            counts=dict(facts.counts),
            destructive={d.address: d.action for d in facts.destructive},
            drifted=drifted,
            findings=findings,
            cost_direction=direction,
            exposure=exposure,
        )


@dataclass
class Checked:
    """An accepted answer: its narrative, cited addresses, and what was checked (the label)."""

    text: str
    cited: list[str]
    checked: str


def _claims(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's claims, shape-checked (:class:`AnswerRejected` naming the field)."""
    claims = answer.get("claims")
    if not isinstance(claims, dict):
        raise AnswerRejected("the answer has no claims object")
    unknown = set(claims) - {"actions", "findings", "cost", "exposure"}
    if unknown:
        raise AnswerRejected(f"claims has unknown field {sorted(unknown)[0]!r}")
    for name in ("actions", "findings", "exposure"):
        value = claims.setdefault(name, [])
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            raise AnswerRejected(f"claims.{name} is not a list of objects")
    for i, claim in enumerate(claims["actions"]):
        if claim.get("action") not in ACTIONS:
            raise AnswerRejected(f"claims.actions[{i}].action is not one of {', '.join(ACTIONS)}")
        address, count = claim.get("address"), claim.get("count")
        if (address is None) == (count is None):
            raise AnswerRejected(f"claims.actions[{i}] needs either an address or a count")
        if address is not None and not isinstance(address, str):
            raise AnswerRejected(f"claims.actions[{i}].address is not a string")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise AnswerRejected(f"claims.actions[{i}].count is not an integer")
    for i, claim in enumerate(claims["findings"]):
        if not isinstance(claim.get("rule_id"), str) or not isinstance(claim.get("level"), str):
            raise AnswerRejected(f"claims.findings[{i}] needs a rule_id and a level")
    for i, claim in enumerate(claims["exposure"]):
        if claim.get("change") not in EXPOSURE_KINDS or not isinstance(claim.get("address"), str):
            raise AnswerRejected(
                f"claims.exposure[{i}] needs an address and a change ({', '.join(EXPOSURE_KINDS)})"
            )
    cost = claims.get("cost")
    if cost is not None and cost not in COST_DIRECTIONS:
        raise AnswerRejected(f"claims.cost is not one of {', '.join(COST_DIRECTIONS)}")
    return claims


def check_claims(claims: dict[str, Any], truth: Truth) -> str:
    """Checks shape-checked ``claims`` against ``truth``; returns what was checked.

    :raises AnswerRejected: a claim is unsupported or contradicted, or a destructive change, an
        action of the plan or a blocking/mandatory finding is left out.
    """
    per_address: dict[str, str] = {}
    counted: dict[str, int] = {}
    for claim in claims["actions"]:
        action = claim["action"]
        if claim.get("address") is not None:
            address = claim["address"]
            actual = truth.actions.get(address)
            if actual is None:
                raise AnswerRejected(f"claim: {action} {address}, which the plan does not change")
            if actual != action:
                raise AnswerRejected(f"claim: {action} {address}, but the plan would {actual} it")
            per_address[address] = action
        else:
            actual_count = truth.counts.get(action, 0)
            if claim["count"] != actual_count:
                raise AnswerRejected(
                    f"claim: {claim['count']} resources {action}d, but the plan has {actual_count}"
                )
            counted[action] = claim["count"]
    for address, action in sorted(truth.destructive.items()):
        if per_address.get(address) != action:
            raise AnswerRejected(f"claims leave out the {action} of {address}")
    for action, count in sorted(truth.counts.items()):
        if count and action not in counted:
            claimed = sum(1 for a in per_address.values() if a == action)
            if claimed != count:
                raise AnswerRejected(
                    f"claims leave out {count - claimed} of the plan's {count} {action} actions"
                )
    known = {(str(f["rule_id"]), str(f["level"])) for f in truth.findings}
    said = set()
    for claim in claims["findings"]:
        pair = (claim["rule_id"], claim["level"])
        if pair not in known:
            levels = sorted(level for rule, level in known if rule == claim["rule_id"])
            if levels:
                raise AnswerRejected(
                    f"claim: finding {claim['rule_id']} is {claim['level']}, but it is "
                    f"{'/'.join(levels)}"
                )
            raise AnswerRejected(f"claim: finding {claim['rule_id']}, which policy did not report")
        said.add(pair)
    for rule, level in sorted(known):
        if level in MUST_MENTION_LEVELS and (rule, level) not in said:
            raise AnswerRejected(f"claims leave out the {level} finding {rule}")
    cost = claims.get("cost")
    if cost is not None and cost != "unknown" and cost != truth.cost_direction:
        raise AnswerRejected(f"claim: cost goes {cost}, but it goes {truth.cost_direction}")
    for claim in claims["exposure"]:
        if (claim["address"], claim["change"]) not in truth.exposure:
            raise AnswerRejected(
                f"claim: {claim['address']} {claim['change'].replace('_', ' ')}, which the plan "
                "does not do"
            )
    return (
        f"{len(per_address)} per-resource and {len(counted)} counted action claims, "
        f"{len(said)} finding claims, "
        f"{'the cost direction, ' if cost not in (None, 'unknown') else ''}"
        f"{len(claims['exposure'])} exposure claims"
    )


def _check_narrative(text: str, claims: dict[str, Any], truth: Truth) -> None:
    """The text must say what the claims say: an address named in a sentence with an action
    verb gets that action; public access, encryption off, "no findings" and cheaper/dearer
    are said only when true and claimed."""
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        addresses = set(_ADDRESS.findall(sentence))
        verbs = {action for action, pattern in _VERBS.items() if pattern.search(sentence)}
        for address in sorted(addresses):
            actual = truth.actions.get(address)
            if actual is None and address in truth.drifted:
                continue
            if verbs and actual is not None and not verbs & _ALLOWED_VERBS.get(actual, set()):
                said = " or ".join(_PARTICIPLES[v] for v in sorted(verbs))
                raise AnswerRejected(
                    f"the text says {address} is {said}, but the plan would {actual} it"
                )
    public = {a for a, c in truth.exposure if c == "made_public"}
    if _SAYS_PUBLIC.search(text) and not (
        public and any(c["change"] == "made_public" for c in claims["exposure"])
    ):
        raise AnswerRejected("the text says something becomes public, which the plan does not do")
    if _SAYS_UNENCRYPTED.search(text) and not any(
        c["change"] == "encryption_off" for c in claims["exposure"]
    ):
        raise AnswerRejected("the text says encryption is turned off, which the plan does not do")
    if _SAYS_NO_FINDINGS.search(text) and truth.findings:
        total = sum(int(f["count"]) for f in truth.findings)
        raise AnswerRejected(
            f"the text says there are no policy findings, but policy reported {total}"
        )
    if _SAYS_CHEAPER.search(text) and truth.cost_direction != "down":
        raise AnswerRejected(
            f"the text says the cost goes down, but it goes {truth.cost_direction}"
        )
    if _SAYS_DEARER.search(text) and truth.cost_direction != "up":
        raise AnswerRejected(f"the text says the cost goes up, but it goes {truth.cost_direction}")


def check_answer(
    content: str, facts: SummaryFacts, *, max_chars: int, truth: Truth | None = None
) -> Checked:
    """The checked narrative of a model's answer, or :class:`AnswerRejected` saying why.

    Grounding: every cited address and every address-shaped word of the text is in the facts,
    every number of the text is a number of the facts. Meaning: every claim (actions, findings,
    cost direction, exposure) agrees with ``truth`` (by default, what ``facts`` list), nothing
    destructive, no action and no blocking/mandatory finding is left out, and the text's own
    statements (actions, public access, encryption off, no findings, cost) agree with both.
    """
    try:
        answer = json.loads(_strip_fence(content))
    except ValueError:
        raise AnswerRejected("the answer is not valid JSON") from None
    if not isinstance(answer, dict):
        raise AnswerRejected("the answer is not a JSON object")
    text = answer.get("text")
    cited = answer.get("cited_addresses", [])
    if not isinstance(text, str) or not text.strip():
        raise AnswerRejected("the answer has no text")
    if not isinstance(cited, list) or not all(isinstance(a, str) for a in cited):
        raise AnswerRejected("cited_addresses is not a list of strings")
    if len(text) > max_chars:
        raise AnswerRejected(f"the text is over budget ({len(text)} > {max_chars} characters)")
    truth = truth or Truth.of(facts)
    claims = _claims(answer)
    checked = check_claims(claims, truth)
    known = facts.addresses() | set(truth.actions) | truth.drifted
    for address in cited:
        if address not in known:
            raise AnswerRejected(f"cited address {address!r} is not in the facts")
    mentioned = set(_ADDRESS.findall(text))
    for address in sorted(mentioned):
        if address not in known:
            raise AnswerRejected(f"the text names address {address!r}, which is not in the facts")
    for change in facts.destructive:
        if change.address not in cited and change.address not in text:
            raise AnswerRejected(f"destructive change {change.address} is not mentioned")
    # Numbers inside names (addresses, rule ids, the request id, regions) are not claims.
    rest = text
    names = sorted(
        {
            *known,
            *mentioned,
            facts.request_id,
            facts.module,
            facts.environment,
            *(str(f["rule_id"]) for f in facts.findings),
        },
        key=len,
        reverse=True,
    )
    for name in names:
        if name:
            rest = rest.replace(name, " ")
    rest = re.sub(r"[A-Za-z_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*", " ", rest)  # words with digits
    allowed = facts.numbers()
    for number in sorted(numbers_in(rest)):
        if number not in allowed:
            raise AnswerRejected(f"the number {number} is not in the facts")
    _check_narrative(text, claims, truth)
    return Checked(text.strip(), list(dict.fromkeys(cited)), checked)


def _strip_fence(content: str) -> str:
    # Some models wrap JSON in a Markdown fence even when told not to.
    stripped = content.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.removeprefix("json").strip()
    return stripped


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Outcome:
    content: str | None = None
    error: BaseException | None = None


_warmed = False


def _import_litellm() -> Any:
    """litellm, imported (and warmed up) once per process."""
    global _warmed
    # Never fetch the model cost map from the internet (the default at import time).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    if not _warmed:
        _warmed = True
        # litellm imports about a hundred modules on its first call (a second and more on a
        # busy machine). Doing that here, with a mock answer (no network), keeps it out of the
        # deadline of the first real call, which would otherwise time out for nothing.
        try:
            litellm.completion(
                model="openai/warm-up",
                messages=[{"role": "user", "content": "warm-up"}],
                mock_response="{}",
                api_key="warm-up",
            )
            import h11  # noqa: F401
            import openai  # noqa: F401

            # The token counter loads its encodings (a second or more) on first use.
            for model in ("gpt-4o-mini", "gpt-3.5-turbo"):
                litellm.token_counter(model=model, text="warm-up")
        except Exception as exc:  # a warm-up that fails costs only the first call's time
            log.info("llm_warm_up_failed", error=type(exc).__name__)
    return litellm


class LLMSummarizer:
    """The ``llm`` summariser (see the module docstring)."""

    def __init__(self, settings: LLMSettings, home: Path) -> None:
        self.settings = settings
        self.cache_dir = home / "summarize_llm" / "cache"

    # -- prompt -------------------------------------------------------------------------------

    def messages(self, facts: SummaryFacts) -> list[dict[str, str]]:
        """The chat messages for ``facts`` (already masked)."""
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "FACTS:\n" + facts.to_json()},
        ]

    def fit(self, extractor: FactsExtractor) -> tuple[SummaryFacts, list[dict[str, str]], int]:
        """The facts, trimmed until the prompt fits its budget: (facts, messages, tokens).

        Each step lists fewer creations, updates, drifts and findings (never fewer destructive
        changes); a step that cannot fit at any tokenisation is skipped without being built or
        counted. The token counter decides for every prompt that is kept.

        :raises AnswerRejected: the prompt is over budget even with every list trimmed.
        """
        litellm = _import_litellm()
        budget = self.settings.max_prompt_tokens
        tokens = 0
        for step in (None, *_TRIM_STEPS):
            last = step == _TRIM_STEPS[-1]
            if not last and extractor.listed(step) * _MIN_ITEM_TOKENS > budget:
                tokens = extractor.listed(step) * _MIN_ITEM_TOKENS
                continue
            facts = extractor.facts(step, _ATTRIBUTE_STEPS[step])
            messages = self.messages(facts)
            chars = sum(len(m["content"]) for m in messages)
            if chars > budget * _MAX_CHARS_PER_TOKEN:
                tokens = chars // _MAX_CHARS_PER_TOKEN  # a lower bound: no need to count
                continue
            tokens = int(litellm.token_counter(model=self.settings.model, messages=messages))
            if tokens <= budget:
                return facts, messages, tokens
        raise AnswerRejected(f"the prompt is over budget (at least {tokens} > {budget} tokens)")

    def secrets(self) -> list[str]:
        """Strings to scrub from anything that leaves (the configured API key)."""
        return [self.settings.api_key.get_secret_value()] if self.settings.api_key else []

    # -- the call -----------------------------------------------------------------------------

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's answer text, or an exception; never waits past ``timeout_seconds``."""
        litellm = _import_litellm()
        settings = self.settings
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        outcome = _Outcome()

        def call() -> None:
            try:
                response = litellm.completion(
                    model=settings.model,
                    messages=messages,
                    api_base=settings.api_base,
                    api_key=key,
                    temperature=settings.temperature,
                    max_tokens=settings.max_answer_tokens,
                    timeout=settings.timeout_seconds,
                    num_retries=0,
                    max_retries=0,
                    response_format={"type": "json_object"},
                )
                outcome.content = response.choices[0].message.content or ""
            except BaseException as exc:  # reported to the caller, whatever it is
                outcome.error = exc

        # A daemon thread with a deadline: a hung endpoint (or a client that retries on its own)
        # cannot hold the plan past the configured timeout, nor the process at exit.
        worker = threading.Thread(target=call, name="tfpilot-llm", daemon=True)
        worker.start()
        worker.join(settings.timeout_seconds)
        if worker.is_alive():
            raise TimeoutError(f"no answer within {settings.timeout_seconds:g}s")
        if outcome.error is not None:
            raise outcome.error
        return outcome.content or ""

    # -- cache --------------------------------------------------------------------------------

    def cache_key(self, facts: SummaryFacts) -> str:
        """sha256 of (facts digest, model, prompt version)."""
        return _digest(f"{facts.digest()}\n{self.settings.model}\n{PROMPT_VERSION}")

    def _cached(self, key: str) -> dict[str, Any] | None:
        path = self.cache_dir / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _remember(self, key: str, answer: dict[str, Any]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.cache_dir, 0o700)
        path = self.cache_dir / f"{key}.json"
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({**answer, "model": self.settings.model}, handle)
        os.replace(tmp, path)

    # -- the summariser -----------------------------------------------------------------------

    def _within_deadline(self, work: Any) -> Checked:
        """``work()`` on a daemon thread, waited for ``timeout_seconds`` at most in all.

        Everything the model part does counts: importing litellm (seconds on a loaded machine,
        the first time in a process), counting tokens, the call, the checks. A plan never waits
        longer than the configured timeout; the import finishes in the background and the next
        summary of the process finds it done.
        """
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as exc:  # reported to the caller, whatever it is
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="tfpilot-llm-summary", daemon=True)
        worker.start()
        worker.join(self.settings.timeout_seconds)
        if worker.is_alive():
            loading = "" if "litellm" in sys.modules and _warmed else " (loading the model client)"
            raise TimeoutError(f"no answer within {self.settings.timeout_seconds:g} s{loading}")
        if "error" in outcome:
            raise outcome["error"]
        result: Checked = outcome["value"]
        return result

    def _checked(self, extractor: FactsExtractor, started: float) -> Checked:
        """The model's checked answer for ``extractor``'s facts (cached or asked for)."""
        # The cache key is the fitted facts' digest: equal facts make an equal prompt.
        facts, messages, tokens = self.fit(extractor)
        key = self.cache_key(facts)
        cached = self._cached(key) if self.settings.cache else None
        truth = Truth.of(facts, extractor)
        if cached is not None:
            checked = check_answer(
                json.dumps(cached),
                facts,
                max_chars=self.settings.max_answer_chars,
                truth=truth,
            )
            log.info("llm_summary_cached", model=self.settings.model, cache_key=key[:16])
        else:
            prompt = json.dumps(messages)
            content = self.complete(messages)
            log.info(
                "llm_summary_answer",
                model=self.settings.model,
                prompt_tokens=tokens,
                prompt_chars=len(prompt),
                prompt_sha256=_digest(prompt),
                answer_chars=len(content),
                answer_sha256=_digest(content),
                seconds=round(time.monotonic() - started, 3),
            )
            checked = check_answer(
                content, facts, max_chars=self.settings.max_answer_chars, truth=truth
            )
            if self.settings.cache:
                self._remember(key, json.loads(_strip_fence(content)))
        return checked

    def summarize(self, request: Request, plan: Plan, context: SummaryContext) -> PlanSummary:
        """A checked model narrative over the rules summary, or the rules summary and why."""
        from tfpilot_core.models import PlanSummary

        secrets = self.secrets()
        extractor = FactsExtractor(request, plan, context, secrets=secrets)
        rules_text, rules_md = extractor.rules_text, extractor.rules_markdown
        started = time.monotonic()
        try:
            checked = self._within_deadline(lambda: self._checked(extractor, started))
        except Exception as exc:
            reason = _reason(exc, self.settings)
            log.warning(
                "llm_summary_fallback",
                model=self.settings.model,
                reason=reason,
                seconds=round(time.monotonic() - started, 3),
            )
            return PlanSummary(
                text=rules_text,
                markdown=rules_md,
                summarizer="rules",
                fallback_reason=f"{NAME} ({self.settings.model}): {reason}",
            )
        # The model's words are scrubbed once more: they go to PR comments and messages.
        text = scrub_secrets(checked.text, secrets)
        byline = (
            f"Summary written by {self.settings.model}. Checked against the plan's facts: "
            f"{checked.checked}; every destructive change, every action and every blocking or "
            "mandatory finding claimed; addresses and numbers in the text grounded."
        )
        return PlanSummary(
            text=f"{text}\n\n{byline}\n\n{rules_text}",
            markdown=f"{_md(text)}\n\n*{_md(byline)}*\n\n{rules_md}",
            summarizer=NAME,
            model=self.settings.model,
        )

    def explain_failure(
        self,
        kind: str,
        log: str,
        *,
        diagnostics: Sequence[dict[str, Any]] = (),
        secrets: Sequence[str] = (),
        runbook: str | None = None,
    ) -> Explanation:
        """A failed run explained by the model, checked against the log (the rules' otherwise).

        The core asks the configured summariser for this (``PluginHost.explain_failure``), so a
        failed plan, apply or drift check is explained by the same model as the summaries,
        under the same deadline (``timeout_seconds``).
        """
        from tfpilot_summarize_llm.explain import LLMFailureExplainer

        return LLMFailureExplainer(self).explain(
            kind, log, diagnostics=diagnostics, secrets=secrets, runbook=runbook
        )


def _md(text: str) -> str:
    from tfpilot_core.summary_rules import _md as escape

    return escape(text)


def _reason(exc: BaseException, settings: LLMSettings | None = None) -> str:
    """A short, value-free reason for a fallback that says what failed."""
    return describe_model_error(exc, settings)


_UNREACHABLE = re.compile(
    r"connection refused|connecterror|connection error|name or service not known|"
    r"nodename nor servname|no route to host|failed to establish|cannot connect|"
    r"temporary failure in name resolution|network is unreachable|connection reset",
    re.I,
)


def describe_model_error(exc: BaseException, settings: LLMSettings | None = None) -> str:
    """What failed, in words (``model server unreachable at URL``, ``timed out after 5 s``,
    ``model server answered HTTP 429``), never a value from the prompt or the answer."""
    if isinstance(exc, AnswerRejected):
        return str(exc)
    where = (settings.api_base if settings else None) or "the provider's default endpoint"
    timeout = settings.timeout_seconds if settings else None
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = " ".join(type(e).__name__ for e in chain)
    messages = " ".join(str(e)[:500] for e in chain)
    if isinstance(exc, TimeoutError) or "timeout" in names.lower():
        loading = " (loading the model client)" if "loading the model client" in messages else ""
        return (f"timed out after {timeout:g} s" if timeout else "timed out") + loading
    if "APIConnectionError" in names or _UNREACHABLE.search(f"{names} {messages}"):
        return f"model server unreachable at {where}"
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"model server at {where} refused the API key (HTTP {status})"
    if status == 404:
        return f"model server at {where} has no such model or route (HTTP 404)"
    if status == 429:
        return f"model server at {where} is rate limiting (HTTP 429)"
    if status:
        return f"model server at {where} answered HTTP {status} ({type(exc).__name__})"
    return f"model error: {type(exc).__name__}"
