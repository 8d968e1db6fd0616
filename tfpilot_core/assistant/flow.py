"""The request assistant: a deterministic conversation that ends in a validated request.

It picks a module from the catalog by description, asks for the inputs one at a time (choices
for allowlisted values, defaults shown, validation problems explained as they happen), shows the
normalised request with its policy preview, and creates the request only on confirmation.

The same flow runs in a terminal (:class:`TerminalConversation`), from an answers file
(:class:`AnswersConversation`) and in tests. A :class:`ValueProposer` (a model, in a plugin) may
propose values; a proposal is only ever *offered* after it passed the module schema and the
allowlist exactly as a typed answer must, and a refused proposal is said and the user asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from tfpilot_core.assistant.draft import Draft, draft_request
from tfpilot_core.catalog.types import Kind
from tfpilot_core.catalog.validation import normalize_inputs
from tfpilot_core.errors import FieldProblem, ValidationError
from tfpilot_core.lifecycle import changes
from tfpilot_core.masking import MASK

if TYPE_CHECKING:
    from tfpilot_core.catalog.spec import InputSpec, ModuleSpec
    from tfpilot_core.lifecycle.kernel import SupportsKernel
    from tfpilot_core.models import Request

__all__ = [
    "AnswersConversation",
    "AssistResult",
    "Conversation",
    "Question",
    "ValueProposer",
    "find_proposer",
    "rank_modules",
    "run_assistant",
]

log = structlog.get_logger("tfpilot.assistant")

#: How often one question is asked before the assistant gives up (answers files loop otherwise).
MAX_ATTEMPTS = 5
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")


@dataclass
class Question:
    """One question of the flow. ``key`` names it in answers files (``input:<name>`` for inputs)."""

    key: str
    prompt: str
    choices: list[str] | None = None
    default: str | None = None
    secret: bool = False


class Conversation(Protocol):
    """Where questions go and answers come from."""

    def ask(self, question: Question) -> str:
        """The answer to ``question`` (an empty string takes the default)."""
        ...

    def say(self, text: str) -> None:
        """Tell the user something."""
        ...


class ValueProposer(Protocol):
    """Proposes a value for an input (a model does, in a plugin); ``None``: no proposal."""

    def propose(self, module: ModuleSpec, name: str, description: str) -> Any:
        """A proposed value for input ``name`` of ``module``, given the user's description."""
        ...


class ModuleChooser(Protocol):
    """What a proposer may also do (optional): pick the module for a description.

    It gets only the candidates the offline ranking put first (:data:`MODEL_CANDIDATES`), and its
    pick is used only if it is one of them: the model ranks, it never adds a module.
    """

    def choose_module(self, description: str, candidates: Sequence[ModuleSpec]) -> str | None:
        """The name of the candidate that fits ``description`` best, or ``None``."""
        ...


#: How many of the offline ranking's best modules a model chooses among (and the user sees).
MODEL_CANDIDATES = 5


@dataclass
class AssistResult:
    """How the conversation ended."""

    created: Request | None
    draft: Draft | None
    transcript: list[dict[str, Any]] = field(default_factory=list)


class AnswersConversation:
    """Answers from a mapping (an ``--answers`` file): ``describe``, ``module``, ``environment``,
    ``project``, ``inputs`` (name -> value), ``opt_out:<rule id>`` (a justification) and
    ``confirm``.

    Successive answers to one question (when the first may be refused): a list for the top-level
    keys, ``{"attempts": [...]}`` for an input. A missing answer takes the question's default,
    or stops with a :class:`ValidationError` naming it.
    """

    def __init__(self, answers: Mapping[str, Any], *, say: Callable[[str], None] | None = None):
        self._answers = dict(answers)
        inputs = self._answers.get("inputs", {})
        if not isinstance(inputs, Mapping):
            raise ValidationError([FieldProblem("inputs", "type", "must be an object")])
        self._inputs = dict(inputs)
        self._used: dict[str, int] = {}
        self.said: list[str] = []
        self._say = say

    def _raw(self, key: str) -> tuple[bool, Any]:
        if key.startswith("input:"):
            name = key.removeprefix("input:")
            return (name in self._inputs, self._inputs.get(name))
        return (key in self._answers, self._answers.get(key))

    def ask(self, question: Question) -> str:
        found, value = self._raw(question.key)
        if question.key.startswith("input:"):
            # An input's value may itself be a list: several attempts are spelled out.
            several = isinstance(value, Mapping) and set(value) == {"attempts"}
            attempts = list(value["attempts"]) if several else [value]
        else:
            attempts = list(value) if isinstance(value, list) else [value]
        n = self._used.get(question.key, 0)
        self._used[question.key] = n + 1
        if not found or n >= len(attempts):
            if question.default is not None and (not found or n == 0):
                return ""
            field_name = question.key.replace("input:", "inputs.")
            why = "no answer" if not found else f"no answer left after {n} refused"
            raise ValidationError(
                [FieldProblem(field_name, "answers", f"{why} in the answers file")],
                subject="answers file",
            )
        answer = attempts[n]
        if isinstance(answer, str):
            return answer
        if isinstance(answer, bool) and question.key == "confirm":
            return "yes" if answer else "no"
        return json.dumps(answer)

    def say(self, text: str) -> None:
        self.said.append(text)
        if self._say is not None:
            self._say(text)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1}


#: Words that mean the same thing in a request for infrastructure: a description word matches a
#: module word of its group. Kept small and concrete (kinds of resources), not a thesaurus.
SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"vm", "instance", "server", "machine", "compute", "host", "ec2", "box", "node"}),
    frozenset({"queue", "sqs", "message", "messages", "messaging", "pubsub", "broker"}),
    frozenset({"bucket", "storage", "s3", "blob", "object", "objects", "files", "store"}),
    frozenset({"database", "db", "rds", "postgres", "mysql", "sql"}),
    frozenset({"role", "iam", "permission", "permissions", "access", "policy"}),
    frozenset({"log", "logs", "logging", "cloudwatch"}),
    frozenset({"registry", "ecr", "image", "images", "container", "containers", "docker"}),
)
_SYNONYM_OF = {word: group for group in SYNONYMS for word in group}
#: Words that say nothing about which module is meant.
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "for",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "with",
        "my",
        "our",
        "we",
        "i",
        "need",
        "want",
        "some",
        "new",
        "small",
        "big",
        "large",
        "please",
        "create",
        "make",
        "get",
        "give",
        "me",
        "it",
        "that",
        "this",
    ]
)
#: How much a word found in each part of a module counts.
_WEIGHTS = {"name": 4, "category": 3, "examples": 2, "description": 2, "inputs": 1}


def _stems(words: set[str]) -> set[str]:
    # "buckets" matches "bucket": compare without a plural s as well.
    return words | {w[:-1] for w in words if w.endswith("s") and len(w) > 3}


def rank_modules(modules: Sequence[ModuleSpec], description: str) -> list[ModuleSpec]:
    """Modules by how well they match ``description``, best first (ties keep catalog order).

    Each description word (stop words left out, plurals folded) scores where it is found: in the
    module's name (4), category (3), examples' titles and descriptions (2), description (2), or
    input labels and descriptions (1); a word of the same :data:`SYNONYMS` group counts as
    the word itself, so "a small vm for builds" finds the instance module.
    """
    wanted = _stems(_words(description) - _STOP)
    expanded: dict[str, set[str]] = {w: {w} | set(_SYNONYM_OF.get(w, ())) for w in wanted}

    def score(spec: ModuleSpec) -> int:
        parts = {
            "name": _words(spec.name.replace("/", " ").replace("-", " ")),
            "category": _words(spec.category),
            "examples": set().union(
                *(_words(e.title) | _words(e.description) for e in spec.examples)
            ),
            "description": _words(spec.description),
            "inputs": set().union(
                *(_words(i.label) | _words(i.description) for i in spec.inputs.values())
            ),
        }
        total = 0
        for words in expanded.values():
            best = max(
                (_WEIGHTS[part] for part, found in parts.items() if words & _stems(found)),
                default=0,
            )
            total += best
        return total

    return sorted(modules, key=lambda s: -score(s))


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _parse(item: InputSpec, answer: str) -> Any:
    """A typed answer: strings stay strings; numbers, booleans, lists and maps are read as JSON
    (YAML-ish ``yes``/``no`` for booleans)."""

    kind = item.tftype.kind
    if kind is Kind.STRING:
        return answer
    if kind is Kind.BOOL and answer.lower() in ("yes", "y", "no", "n", "true", "false"):
        return answer.lower() in ("yes", "y", "true")
    try:
        return json.loads(answer)
    except ValueError:
        return answer


class _Flow:
    def __init__(
        self,
        platform: SupportsKernel,
        actor: str,
        conversation: Conversation,
        proposer: ValueProposer | None,
    ) -> None:
        self.kernel = platform.kernel
        self.actor = actor
        self.conv = conversation
        self.proposer = proposer
        self.transcript: list[dict[str, Any]] = []

    def ask(self, question: Question, accept: Callable[[str], Any]) -> Any:
        """Ask until ``accept`` takes the answer (it raises ValidationError to refuse)."""
        for _ in range(MAX_ATTEMPTS):
            answer = self.conv.ask(question)
            if answer == "" and question.default is not None:
                answer = question.default
            try:
                value = accept(answer)
            except ValidationError as exc:
                reasons = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
                self.conv.say(f"  not accepted: {reasons}")
                self.transcript.append(
                    {"question": question.key, "answer": _masked(question, answer),
                     "refused": reasons}
                )  # fmt: skip
                continue
            self.transcript.append({"question": question.key, "answer": _masked(question, answer)})
            return value
        raise ValidationError(
            [FieldProblem(question.key, "attempts", f"no valid answer after {MAX_ATTEMPTS} tries")],
            subject="assistant",
        )

    # -- the steps ---------------------------------------------------------------------------

    def opt_outs(self, draft: Draft) -> list[dict[str, str]]:
        """For each rule of the draft's findings that a request may opt out of (a security
        default, as :func:`~tfpilot_core.lifecycle.changes.opt_out_rules` says), ask for a
        justification; blank asks for none. Each is checked by the create's own check
        (:func:`~tfpilot_core.lifecycle.changes.validate_opt_outs`) as it is answered."""
        allowed = changes.opt_out_rules(self.kernel)
        rules = sorted({f.rule_id for f in draft.findings if allowed.get(f.rule_id)})
        chosen: list[dict[str, str]] = []
        for rule in rules:

            def accept(answer: str, rule: str = rule) -> dict[str, str] | None:
                if not answer.strip():
                    return None
                asked = {"rule_id": rule, "justification": answer.strip()}
                changes.validate_opt_outs(self.kernel, self.actor, [asked])
                return asked

            given = self.ask(
                Question(
                    f"opt_out:{rule}",
                    f"{rule} is a security default: to request an opt-out of it for this "
                    "request, give a justification (reviewers see it; blank: no opt-out)",
                    default="",
                ),
                accept,
            )
            if given is not None:
                chosen.append(given)
        return chosen

    def module(self, given: str | None) -> ModuleSpec:
        catalog = self.kernel.catalog
        if given is not None:
            spec = catalog.get(given)
            # The module is chosen, but what the user needs still informs the proposals.
            description = self.conv.ask(
                Question("describe", f"What is this {spec.name} for? (optional)", default="")
            )
            self.transcript.append({"question": "describe", "answer": description})
            return spec
        modules = catalog.list()
        if not modules:
            raise ValidationError([FieldProblem("module", "catalog", "the catalog is empty")])
        description = self.conv.ask(
            Question("describe", "What do you need? Describe it in a few words", default="")
        )
        self.transcript.append({"question": "describe", "answer": description})
        ranked = self.model_ranked(
            rank_modules(modules, description)[:MODEL_CANDIDATES], description
        )
        names = [m.name for m in ranked]
        for i, spec in enumerate(ranked, 1):
            self.conv.say(f"  {i}. {spec.name}: {spec.description}")

        def accept(answer: str) -> ModuleSpec:
            if answer.isdigit() and 1 <= int(answer) <= len(ranked):
                return ranked[int(answer) - 1]
            if answer in catalog:
                return catalog.get(answer)
            raise ValidationError(
                [FieldProblem("module", "choice", f"pick 1-{len(ranked)} or a module name")]
            )

        chosen: ModuleSpec = self.ask(
            Question("module", "Which module?", choices=names, default=names[0]), accept
        )
        return chosen

    def model_ranked(self, ranked: list[ModuleSpec], description: str) -> list[ModuleSpec]:
        """``ranked`` with the model's pick first, when a proposer can choose modules.

        Checked: a pick that is not one of the candidates is refused (and said so); any error
        means the offline order. The user still chooses; the pick is only the default.
        """
        choose = getattr(self.proposer, "choose_module", None)
        if not callable(choose) or not description.strip() or len(ranked) < 2:
            return ranked
        try:
            picked = choose(description, list(ranked))
        except Exception as exc:  # a failing model only means the offline order
            log.warning("module_chooser_failed", error=type(exc).__name__)
            return ranked
        if picked is None:
            return ranked
        names = [m.name for m in ranked]
        if picked not in names:
            self.conv.say(
                f"  the model's module {str(picked)[:80]!r} was refused (not a candidate)"
            )
            self.transcript.append(
                {"question": "module", "proposed": str(picked)[:200], "refused": "not a candidate"}
            )
            return ranked
        self.conv.say(f"  the model suggests {picked}")
        self.transcript.append({"question": "module", "proposed": picked})
        return sorted(ranked, key=lambda m: m.name != picked)

    def placement(self, environment: str | None, project: str | None) -> tuple[str, str]:
        keys = [e.key for e in self.kernel.config.core.environments]

        def accept_env(answer: str) -> str:
            if answer not in keys:
                raise ValidationError(
                    [FieldProblem("environment", "choice", f"must be one of {', '.join(keys)}")]
                )
            return answer

        def accept_project(answer: str) -> str:
            if not _PROJECT.fullmatch(answer):
                raise ValidationError(
                    [
                        FieldProblem(
                            "project",
                            "pattern",
                            "use 2-40 lowercase letters, digits and '-', starting with a letter",
                        )
                    ]
                )
            return answer

        env = accept_env(environment) if environment else None
        if env is None:
            env = self.ask(
                Question("environment", "Environment", choices=keys, default=keys[0]), accept_env
            )
        proj = accept_project(project) if project else None
        if proj is None:
            proj = self.ask(Question("project", "Project"), accept_project)
        return env, proj

    def inputs(self, spec: ModuleSpec, description: str) -> dict[str, Any]:

        collected: dict[str, Any] = {}
        asked = [(n, i) for n, i in spec.inputs.items() if not i.read_only and n != spec.tags_input]
        # Required inputs first, in the module's order; then the optional ones.
        asked.sort(key=lambda pair: not pair[1].required)

        def problems_for(name: str, value: Any) -> list[FieldProblem]:
            try:
                normalize_inputs(
                    spec,
                    {**collected, name: value},
                    request_id="req_dev_assist_aaaaaa",
                    server_tags={},
                )
            except ValidationError as exc:
                path = f"inputs.{name}"
                return [
                    p
                    for p in exc.problems
                    if p.field == path or p.field.startswith((path + "[", path + "."))
                ]
            return []

        for name, item in asked:
            default = None if item.default is None or item.sensitive else _shown(item.default)
            choices = [_shown(v) for v in item.allowed] if item.allowed is not None else None
            if self.proposer is not None and not item.sensitive:
                try:
                    proposed = self.proposer.propose(spec, name, description)
                except Exception as exc:  # a failing model only means no proposal
                    log.warning("value_proposer_failed", input=name, error=type(exc).__name__)
                    proposed = None
                if proposed is not None:
                    refused = problems_for(name, proposed)
                    if refused:
                        reasons = "; ".join(p.message for p in refused)
                        self.conv.say(
                            f"  the proposed {name} = {_shown(proposed)!s} was refused ({reasons})"
                        )
                        self.transcript.append(
                            {"question": f"input:{name}", "proposed": proposed,
                             "refused": reasons}
                        )  # fmt: skip
                    else:
                        self.conv.say(f"  proposed {name} = {_shown(proposed)}")
                        default = _shown(proposed)
            label = item.label or name
            hint = f" ({item.description})" if item.description else ""
            required = item.required

            def accept(answer: str, name: str = name, item: InputSpec = item) -> Any:
                if answer == "" and not item.required:
                    return None
                if answer == "":
                    raise ValidationError(
                        [FieldProblem(f"inputs.{name}", "required", "is required")]
                    )
                value = _parse(item, answer)
                found = problems_for(name, value)
                if found:
                    raise ValidationError(found)
                return value

            question = Question(
                f"input:{name}",
                f"{label}{hint}" + ("" if required else " [optional]"),
                choices=choices,
                default=default if default is not None else (None if required else ""),
                secret=item.sensitive,
            )
            value = self.ask(question, accept)
            if value is not None:
                collected[name] = value
        return collected


def _masked(question: Question, answer: str) -> str:

    return MASK if question.secret and answer else answer


def find_proposer(platform: SupportsKernel) -> ValueProposer | None:
    """The first value proposer a plugin registers (a configured model), or ``None``."""

    try:
        found = platform.kernel.host.value_proposers()
    except Exception as exc:  # no proposer is the offline flow, never a failure
        log.warning("value_proposers_skipped", error=type(exc).__name__)
        return None
    for _, proposer in found:
        if callable(getattr(proposer, "propose", None)):
            return proposer  # type: ignore[no-any-return]
    return None


def run_assistant(
    platform: SupportsKernel,
    actor: str,
    conversation: Conversation,
    *,
    module: str | None = None,
    environment: str | None = None,
    project: str | None = None,
    proposer: ValueProposer | None = None,
) -> AssistResult:
    """Run the conversation; the request is created only if the user confirms.

    Without ``proposer``, the first one a plugin offers (``tfpilot_register_value_proposers``)
    is used, if any; otherwise the flow is the deterministic offline one.
    """
    if proposer is None:
        proposer = find_proposer(platform)
    flow = _Flow(platform, actor, conversation, proposer)
    spec = flow.module(module)
    description = (
        next((t["answer"] for t in flow.transcript if t["question"] == "describe"), "")
        or spec.description
    )
    conversation.say(f"Module {spec.name}: {spec.description}")
    env, proj = flow.placement(environment, project)
    inputs = flow.inputs(spec, str(description))
    draft = draft_request(
        platform, actor, module=spec.name, environment=env, project=proj, inputs=inputs
    )
    conversation.say(f"Request {draft.request_id}: {spec.name} in {env}, project {proj}")
    for name, value in draft.inputs.items():
        conversation.say(f"  {name} = {_shown(value)}")
    if not draft.valid:
        for p in draft.problems:
            conversation.say(f"  problem: {p.field}: {p.message}")
        return AssistResult(None, draft, flow.transcript)
    if draft.findings:
        for f in draft.findings:
            conversation.say(f"  policy {f.level.value}: {f.rule_id} {f.message}")
    else:
        conversation.say("  policy: no findings on the inputs")
    conversation.say(f"  cost: {draft.cost}")
    opt_outs = flow.opt_outs(draft)
    if opt_outs:
        # Judged again with the opt-outs recorded, as the create will judge it (a new draft: a
        # new id, so the names are said again).
        draft = draft_request(
            platform, actor, module=spec.name, environment=env, project=proj, inputs=inputs,
            opt_outs=opt_outs,
        )  # fmt: skip
        conversation.say(f"Request {draft.request_id}, with the opt-outs:")
        for name, value in draft.inputs.items():
            conversation.say(f"  {name} = {_shown(value)}")
        for f in draft.findings:
            conversation.say(f"  policy {f.level.value}: {f.rule_id} {f.message}")
    if draft.blocked:
        conversation.say("Blocked by policy: this request cannot be created as it is.")
        return AssistResult(None, draft, flow.transcript)
    if not draft.allowed:
        conversation.say(f"{actor} may not create requests in {env} for project {proj}.")
        return AssistResult(None, draft, flow.transcript)

    def accept_confirm(answer: str) -> bool:
        if answer.lower() in ("y", "yes"):
            return True
        if answer.lower() in ("n", "no"):
            return False
        raise ValidationError([FieldProblem("confirm", "choice", "answer yes or no")])

    confirmed = flow.ask(
        Question("confirm", "Create this request?", choices=["yes", "no"], default="no"),
        accept_confirm,
    )
    if not confirmed:
        conversation.say("Not created.")
        return AssistResult(None, draft, flow.transcript)
    # The previewed id, so the names shown (they carry its suffix) are the names created.
    created = changes.create(
        platform.kernel,
        actor,
        module=spec.name,
        environment=env,
        project=proj,
        inputs=inputs,
        request_id=draft.request_id,
        opt_outs=opt_outs,
    )
    conversation.say(f"Created {created.id}.")
    return AssistResult(created, draft, flow.transcript)
