"""The ``llm`` summariser: facts first, masked, then a model's narrative that is checked.

1. Facts (:func:`tfpilot_core.facts.extract_facts`) are computed from the masked plan, with every
   sensitive value and every secret-looking string scrubbed. The prompt carries the facts only,
   never the plan, and must fit ``max_prompt_tokens`` (litellm's token counter): the lists are
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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tfpilot_core.facts import FactsExtractor, SummaryFacts, numbers_in, scrub_secrets

if TYPE_CHECKING:
    from tfpilot_core.interfaces import SummaryContext
    from tfpilot_core.models import PlanSummary, Request
    from tfpilot_core.plan import Plan
    from tfpilot_summarize_llm.settings import LLMSettings

log = structlog.get_logger("tfpilot.summarize_llm")

NAME = "llm"
#: Bumped whenever the prompt or the answer format changes: cached answers of another version
#: are not reused.
PROMPT_VERSION = "1"
#: How far the facts' lists are trimmed, step by step, to fit the prompt budget.
_TRIM_STEPS = (200, 50, 20, 5, 0)
#: More characters per token than JSON of addresses ever reaches with BPE tokenizers (about 3):
#: a prompt longer than budget x this is over budget without counting.
_MAX_CHARS_PER_TOKEN = 8
#: Fewer tokens than any listed item takes (an address alone is several).
_MIN_ITEM_TOKENS = 4

SYSTEM_PROMPT = """You summarise Terraform plans for the people who must approve them.
You receive FACTS as JSON, computed from the plan; they are all you know.
Answer with one JSON object and nothing else:
{"text": "<a short plain-language summary, at most 120 words>",
 "cited_addresses": ["<every resource address your text mentions>"]}
Rules:
- Mention every entry of "destructive" by its exact address, and say why it is destroyed or
  replaced (its "reason" and "forced_by").
- Use only addresses and numbers that appear in FACTS. Do not invent or compute new numbers.
- Mention drift, the cost delta and blocking or mandatory policy findings when present.
- Never guess at attribute values: FACTS hold none."""


class AnswerRejected(Exception):
    """The model's answer failed a check; the message says which (it becomes the reason)."""


#: Resource addresses as Terraform writes them: optional module path, optional ``data.``,
#: ``<type>.<name>`` with an optional index. Types always contain ``_`` (provider prefix).
_ADDRESS = re.compile(
    r"(?:module\.[A-Za-z0-9_-]+(?:\[[^\]\s]+\])?\.)*(?:data\.)?"
    r"[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*(?:\[[^\]\s]+\])?"
)


def check_answer(content: str, facts: SummaryFacts, *, max_chars: int) -> tuple[str, list[str]]:
    """The narrative and cited addresses of a model's answer, or :class:`AnswerRejected`."""
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
    known = facts.addresses()
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
    return text.strip(), list(dict.fromkeys(cited))


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
            facts = extractor.facts(step)
            messages = self.messages(facts)
            chars = sum(len(m["content"]) for m in messages)
            if chars > budget * _MAX_CHARS_PER_TOKEN:
                tokens = chars // _MAX_CHARS_PER_TOKEN  # a lower bound: no need to count
                continue
            tokens = int(litellm.token_counter(model=self.settings.model, messages=messages))
            if tokens <= budget:
                return facts, messages, tokens
        raise AnswerRejected(f"the prompt is over budget (at least {tokens} > {budget} tokens)")

    def _secrets(self) -> list[str]:
        return [self.settings.api_key.get_secret_value()] if self.settings.api_key else []

    # -- the call -----------------------------------------------------------------------------

    def _complete(self, messages: list[dict[str, str]]) -> str:
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

    def _remember(self, key: str, text: str, cited: list[str]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.cache_dir, 0o700)
        path = self.cache_dir / f"{key}.json"
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {"text": text, "cited_addresses": cited, "model": self.settings.model}, handle
            )
        os.replace(tmp, path)

    # -- the summariser -----------------------------------------------------------------------

    def summarize(self, request: Request, plan: Plan, context: SummaryContext) -> PlanSummary:
        """A checked model narrative over the rules summary, or the rules summary and why."""
        from tfpilot_core.models import PlanSummary

        secrets = self._secrets()
        extractor = FactsExtractor(request, plan, context, secrets=secrets)
        rules_text, rules_md = extractor.rules_text, extractor.rules_markdown
        started = time.monotonic()
        try:
            # The cache key is the fitted facts' digest: equal facts make an equal prompt.
            facts, messages, tokens = self.fit(extractor)
            key = self.cache_key(facts)
            cached = self._cached(key) if self.settings.cache else None
            if cached is not None:
                text, cited = check_answer(
                    json.dumps(cached), facts, max_chars=self.settings.max_answer_chars
                )
                log.info("llm_summary_cached", model=self.settings.model, cache_key=key[:16])
            else:
                prompt = json.dumps(messages)
                content = self._complete(messages)
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
                text, cited = check_answer(content, facts, max_chars=self.settings.max_answer_chars)
                if self.settings.cache:
                    self._remember(key, text, cited)
        except Exception as exc:
            reason = _reason(exc)
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
        text = scrub_secrets(text, secrets)
        byline = f"Summary written by {self.settings.model} from checked facts."
        return PlanSummary(
            text=f"{text}\n\n{byline}\n\n{rules_text}",
            markdown=f"{_md(text)}\n\n*{_md(byline)}*\n\n{rules_md}",
            summarizer=NAME,
            model=self.settings.model,
        )


def _md(text: str) -> str:
    from tfpilot_core.default_plugins.summarizer_rules import _md as escape

    return escape(text)


def _reason(exc: BaseException) -> str:
    """A short, value-free reason for a fallback."""
    if isinstance(exc, AnswerRejected):
        return str(exc)
    if isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
        return f"timed out ({exc})" if isinstance(exc, TimeoutError) else "timed out"
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    return f"model error: {name}" + (f" (HTTP {status})" if status else "")
