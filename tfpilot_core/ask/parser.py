"""The offline question parser: an English question becomes a :class:`~tfpilot_core.query.Query`.

Deterministic and closed: a fixed list of phrase rules, each of which fills a field of the query
and consumes the words it matched. A question with words left over that no rule and no filler
word explains is *not* answered (:attr:`Parsed.understood` is false, naming those words): the
parser never guesses, and nothing of the question's text ever reaches a store.

Time words are relative to ``now`` (UTC): "today" and "yesterday" are calendar days, "this week"
starts on Monday 00:00, "this month" on the 1st, "last week" and "last month" are the last 7 and
30 days, "in the last N hours/days/weeks" is what it says (at most :data:`MAX_DAYS_BACK` days:
a larger N is refused, never an overflow), "since"/"after"/"before DATE" and "between DATE and
DATE" are closed or open windows. A window attaches to the nearest word before it that names
a time: created (the default), applied/apply, drifted, or an event type.

People: "approved by X", "applied by X" / "deployed by X", "planned by X" and "what did X
approve/apply/plan" filter on who approved, applied or planned a request; "created by X", "X's"
and "my" on its author; "what did X do", "touched by X", "what has X done" on anyone who acted
on it (created, revised, planned, approved, applied, checked), with a window on that action
("this week"). A bare user name before its verb ("requests alice approved", "requests bob
touched") is read only for a user of the configuration (``users``); a user named with no verb
is refused with the forms that work, never read as an author.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.lifecycle import RequestStatus
from tfpilot_core.query.model import (
    Aggregate,
    CostFilter,
    DriftFilter,
    EventFilter,
    GroupBy,
    Query,
    SortKey,
)

__all__ = ["EXAMPLES", "KNOWN_EVENTS", "MAX_DAYS_BACK", "Parsed", "parse_question"]

#: The longest window a question may reach back ("in the last N days"): 100 years.
MAX_DAYS_BACK = 36_500

#: Questions that work, shown when one does not (and tested, with many more, in tests/ask).
EXAMPLES = (
    "how many requests are in prod?",
    "which prod requests drifted this week?",
    "list failed requests in project shop",
    "what is the total monthly cost by environment?",
    "requests costing more than $100 a month",
    "which requests are awaiting approval?",
    "top 5 most expensive applied requests",
    "requests created by alice in the last 7 days",
    "how many requests per module?",
    "requests with a policy_overridden event",
    "requests approved by carol",
    "what did alice apply yesterday?",
    "what did carol do this week?",
    "requests applied between 2026-05-01 and 2026-05-31",
)

#: Event types the platform writes (any other ``word_word`` type is accepted after "event").
KNOWN_EVENTS = frozenset(
    {
        "request_created",
        "request_updated",
        "policy_evaluated",
        "policy_overridden",
        "plan_started",
        "plan_succeeded",
        "plan_failed",
        "approved",
        "apply_started",
        "apply_succeeded",
        "apply_failed",
        "destroy_started",
        "destroy_succeeded",
        "destroy_failed",
        "drift_checked",
        "drift_detected",
        "drift_cleared",
        "drift_check_failed",
        "promoted",
        "runs_reconciled",
        "notification_sent",
        "notification_failed",
    }
)

#: Words that carry no meaning of their own in these questions.
_FILLER_WORDS = """
    a about all an and any are at be been being can currently did do does each environment
    environments envs env every exist exists find for from get give have has i in is it its
    list many me now of on one ones or our please request requests right show state status
    that the their them there these they this those to us was we were what whats which who
    with within you your how tell display currently there's are there ever so far have got
    total number count much s so than by whose where had
    """
_FILLER = frozenset(_FILLER_WORDS.split())

_GROUPS = {
    "module": GroupBy.MODULE,
    "modules": GroupBy.MODULE,
    "env": GroupBy.ENVIRONMENT,
    "envs": GroupBy.ENVIRONMENT,
    "environment": GroupBy.ENVIRONMENT,
    "environments": GroupBy.ENVIRONMENT,
    "project": GroupBy.PROJECT,
    "projects": GroupBy.PROJECT,
    "status": GroupBy.STATUS,
    "statuses": GroupBy.STATUS,
    "state": GroupBy.STATUS,
    "author": GroupBy.AUTHOR,
    "authors": GroupBy.AUTHOR,
    "user": GroupBy.AUTHOR,
    "users": GroupBy.AUTHOR,
    "person": GroupBy.AUTHOR,
}

_STATUS_PHRASES: list[tuple[str, list[RequestStatus]]] = [
    (
        r"(?:pending|awaiting|waiting for|needing|that need|need|ready for|up for) approvals?"
        r"|to approve|plan[- ]ready|planned",
        [RequestStatus.PLAN_READY],
    ),
    (
        r"open|in flight|in progress|unfinished|not yet applied|pending",
        [
            RequestStatus.REQUEST_CREATED,
            RequestStatus.PLANNING,
            RequestStatus.PLAN_READY,
            RequestStatus.APPROVED,
            RequestStatus.APPLYING,
        ],
    ),
    (
        r"new|unplanned|not (?:yet )?planned|never planned|just created",
        [RequestStatus.REQUEST_CREATED],
    ),
    (r"approved", [RequestStatus.APPROVED]),
    (r"applied|deployed|live", [RequestStatus.APPLIED]),
    (r"failed|failing|broken|errored", [RequestStatus.FAILED]),
    (r"destroyed|deleted|torn down|removed", [RequestStatus.DESTROYED]),
    (r"being planned|planning", [RequestStatus.PLANNING]),
    (r"being applied|applying", [RequestStatus.APPLYING]),
    (r"being destroyed|destroying", [RequestStatus.DESTROYING]),
]

_OPS = {
    "more than": "gt",
    "over": "gt",
    "above": "gt",
    "greater than": "gt",
    "more expensive than": "gt",
    "at least": "gte",
    "less than": "lt",
    "under": "lt",
    "below": "lt",
    "cheaper than": "lt",
    "at most": "lte",
}
_OP_RE = "|".join(sorted((re.escape(k) for k in _OPS), key=len, reverse=True))
_AMOUNT = (
    r"\$?\s?(?P<amount>\d+(?:\.\d+)?)\s?(?:\$|usd|dollars)?"
    r"(?:\s?(?:/\s?month|a month|per month|monthly|/mo|each month))?"
)
_COST_RE = re.compile(
    r"(?P<lead>(?:(?:monthly|total)\s+)?(?:cost|costs|costing|spend|spending|priced|price)"
    r"(?:\s+(?:increase|increases|increased|delta|change|changes|went up|rose|grew|"
    r"decrease|decreased|went down|dropped|fell))?"
    r"(?:\s+(?:of|by|is|are|was))*\s+"
    r"|(?:increase|increased|delta|went up|rose|grew|decreased|went down|dropped|fell)"
    r"(?:\s+(?:of|by|in cost|in price))*\s+)?"
    rf"(?P<op>{_OP_RE})\s+{_AMOUNT}"
)
_DELTA_WORDS = re.compile(
    r"increase|delta|change|went up|rose|grew|decrease|went down|dropped|fell"
)
_DOWN_WORDS = re.compile(r"decrease|went down|dropped|fell")

_UNITS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30}
_TIME_RE = re.compile(
    r"(?P<phrase>today|yesterday|this week|this month|last week|last month|past week|past month"
    r"|(?:in |within |during |over )?(?:the )?(?:last|past) (?P<n>\d+)"
    r" (?P<unit>hour|day|week|month)s?"
    r"|(?:in |within |during |over )?(?:the )?(?:last|past) (?P<unit1>24 hours|hour|day|week|month)"
    r"|between (?P<from>\d{4}-\d{2}-\d{2}) and (?P<to>\d{4}-\d{2}-\d{2})"
    r"|(?:since|after) (?P<date>\d{4}-\d{2}-\d{2})"
    r"|since yesterday"
    r"|before (?P<before>\d{4}-\d{2}-\d{2})"
    r"|older than (?P<older>\d+) (?P<ounit>hour|day|week|month)s?)"
)
_ANCHORS = [
    (re.compile(r"\b(?:drifted|drift|drifting)\b"), "drifted"),
    (re.compile(r"\b(?:applied|deployed|apply|deploy)\b"), "applied"),
    (re.compile(r"\b(?:created|opened|submitted|made|filed|requested|new)\b"), "created"),
]
_NAME = r"[a-z][a-z0-9._-]{0,38}[a-z0-9]|[a-z]"
#: "<verb> by X": the query field X goes to.
_PEOPLE_VERBS = {
    "approved": "approvers",
    "applied": "appliers",
    "deployed": "appliers",
    "planned": "planners",
    "created": "authors",
}
#: The words of each people filter's verb (taken when no time phrase spent them).
#: The verbs of "any action" ("what did carol do", "requests bob touched").
_ACTED = r"do|done|touch|touched|work on|worked on|act on|acted on|change|changed|handle|handled"
_ROLE_WORDS = {
    "approvers": "approved|approve",
    "appliers": "applied|apply|deployed|deploy",
    "planners": "planned|plan",
    "authors": "created|create",
    "actors": _ACTED,
}


@dataclass
class Parsed:
    """What the parser made of a question."""

    question: str
    query: Query | None
    #: Words no rule understood (the reason ``query`` is ``None``).
    unknown: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def understood(self) -> bool:
        """Whether the question became a query."""
        return self.query is not None


class _Text:
    """The question, with matched spans blanked out as rules consume them."""

    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, pattern: str | re.Pattern[str]) -> list[re.Match[str]]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        found = list(regex.finditer(self.text))
        for m in reversed(found):
            self.text = self.text[: m.start()] + " " * (m.end() - m.start()) + self.text[m.end() :]
        return found

    def words(self) -> list[str]:
        return re.findall(r"[a-z0-9$][a-z0-9_./$'-]*", self.text)


def _normalise(question: str) -> str:
    text = question.lower().strip()
    text = text.replace("\u2019", "'")
    text = re.sub(r"[?!,;:()\"]", " ", text)
    text = re.sub(r"(?<=\w)\.(?=\s|$)", " ", text)
    return " " + re.sub(r"\s+", " ", text) + " "


def parse_question(
    question: str,
    *,
    now: datetime,
    actor: str,
    environments: Sequence[tuple[str, str]] = (
        ("dev", "development"),
        ("stage", "staging"),
        ("prod", "production"),
    ),
    modules: Sequence[str] = (),
    projects: Sequence[str] = (),
    users: Sequence[str] = (),
) -> Parsed:
    """Parse ``question`` into a query, or say which words were not understood.

    :param now: the time "today", "this week" and friends are relative to.
    :param actor: who "my requests" and "I" are.
    :param environments: ``(key, slug)`` of every configured environment.
    :param modules: catalog module names ("aws/s3-bucket"; "s3-bucket" works when unique).
    :param projects: project names that exist: read bare ("the cost of shop in prod").
    :param users: user names of the configuration: read bare before a verb ("requests alice
        approved", "what bob applied yesterday", "requests carol touched").
    """
    if len(question) > 500:
        return Parsed(question, None, reason="the question is too long (at most 500 characters)")
    now = now.astimezone(UTC)
    t = _Text(_normalise(question))
    fields: dict[str, Any] = {}
    statuses: list[RequestStatus] = []

    # -- results: grouping, aggregation, sorting, limits ------------------------------------
    for m in t.take(
        r"\b(?:grouped by|broken down by|split by|by|per|for each|for every|each)\s+"
        r"(?P<g>" + "|".join(_GROUPS) + r")\b"
    ):
        fields["group_by"] = _GROUPS[m.group("g")]
    if t.take(r"\b(?:how many|number of|count of|count)\b"):
        fields["aggregate"] = Aggregate.COUNT
    for m in t.take(
        r"\b(?:top|first|last|latest|newest|oldest)\s+(?P<n>\d{1,4})\b"
        r"(?!\s*(?:hours?|days?|weeks?|months?)\b)"
    ):
        fields["limit"] = int(m.group("n"))
        if m.group(0).split()[0] == "oldest":
            fields["sort"] = SortKey.OLDEST
    for m in t.take(r"\b(?P<n>\d{1,4})\s+(?=(?:most|newest|latest|oldest|cheapest|recent))"):
        fields["limit"] = int(m.group("n"))
    sorts = [
        (r"most expensive|priciest|costliest|highest cost|biggest cost", SortKey.COST_DESC),
        (r"cheapest|least expensive|lowest cost", SortKey.COST_ASC),
        (r"most recently applied|recently applied|last applied", SortKey.APPLIED_DESC),
        (r"most recently drifted|recently drifted", SortKey.DRIFTED_DESC),
        (r"newest|latest|most recent|recent|youngest", SortKey.NEWEST),
        (r"oldest", SortKey.OLDEST),
    ]
    for pattern, key in sorts:
        if t.take(rf"\b(?:{pattern})\b"):
            fields["sort"] = key
            if key is SortKey.APPLIED_DESC:
                statuses.append(RequestStatus.APPLIED)
            if key is SortKey.DRIFTED_DESC:
                fields["drift"] = DriftFilter.DRIFTED

    # -- cost bounds (before the words "cost" and "spend" mean a sum) ------------------------
    bounds: list[CostFilter] = []
    for m in t.take(_COST_RE):
        span = m.group(0)
        if not (
            m.group("lead")
            or "$" in span
            or re.search(r"usd|dollar|month|/mo", span)
            or m.group("op") in ("cheaper than", "more expensive than")
        ):
            # "over 3" with no word of money is not a cost bound: put it back for the others.
            t.text = t.text[: m.start()] + span + t.text[m.end() :]
            continue
        amount = Decimal(m.group("amount"))
        lead = m.group("lead") or ""
        op = _OPS[m.group("op")]
        if _DELTA_WORDS.search(lead):
            if _DOWN_WORDS.search(lead):
                # "decreased by more than 10": the delta is below -10.
                flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}[op]
                bounds.append(CostFilter(measure="delta", op=flipped, amount=-amount))
            else:
                bounds.append(CostFilter(measure="delta", op=op, amount=amount))
        else:
            bounds.append(CostFilter(measure="total", op=op, amount=amount))
    if bounds:
        fields["cost"] = bounds
    if t.take(
        r"\b(?:total|sum of|overall|combined)?\s*(?:monthly\s+)?(?:cost|costs|spend|spending)"
        r"(?:\s+(?:per month|a month|monthly|in total|total))?\b"
        r"|\bhow much\b(?:\s+(?:does|do|are|is))?"
        r"(?:\s+we)?(?:\s+(?:spend|spending|paying|pay|cost))?(?:\s+(?:per month|a month|monthly))?"
    ):
        fields["aggregate"] = Aggregate.SUM_COST
    t.take(r"\b(?:per month|a month|monthly|in total|usd|dollars)\b")

    # -- request ids (before events: an id looks like an event type) ------------------------
    ids = [m.group("id") for m in t.take(r"\b(?P<id>req_[a-z0-9_]+)\b")]
    if ids:
        fields["ids"] = ids

    # -- events (before time: "a plan_failed event this week") -------------------------------
    events: list[tuple[str, int]] = []
    phrases = {
        r"policy overrides?|overridden polic(?:y|ies)|overrode policy": "policy_overridden",
        r"failed notifications?|notification failures?|notifications? that failed": (
            "notification_failed"
        ),
        r"failed plans?|plan failures?": "plan_failed",
        r"failed applies|failed apply|apply failures?": "apply_failed",
        r"promotions?|were promoted|promoted": "promoted",
    }
    for pattern, kind in phrases.items():
        for m in t.take(rf"\b(?:{pattern})\b"):
            events.append((kind, m.start()))
    for m in t.take(
        r"\b(?:(?:events?|kind|type)\s+(?:of\s+)?(?:kind\s+|type\s+)?)?"
        r"(?P<kind>[a-z]+(?:_[a-z]+)+)(?:\s+events?)?\b"
    ):
        kind = m.group("kind")
        if kind in KNOWN_EVENTS or "event" in m.group(0):
            events.append((kind, m.start()))
        else:
            return Parsed(
                question,
                None,
                unknown=[kind],
                reason=f"{kind!r} is not an event type (known: {', '.join(sorted(KNOWN_EVENTS))})",
            )
    t.take(r"\b(?:had|have|has|with|an?|some|any)\s+(?=\s*(?:event|events)\b)|\bevents?\b")

    # -- "who approved ...": the people to name; request ids -------------------------------
    for m in t.take(r"\bwho\s+(?=(?P<verb>approved|applied|deployed|planned|created|requested)\b)"):
        fields["who"] = _PEOPLE_VERBS.get(m.group("verb"), "authors")
    if "who" in fields and fields["who"] != "authors":
        # The verb of "who approved" is not a status ("approved" requests): spent here unless
        # a time phrase anchors on it below.
        people_verb = {"approvers": "approvers", "appliers": "appliers", "planners": "planners"}
        who_role = people_verb[fields["who"]]
    else:
        who_role = None

    # -- people: who approved, applied or planned (the verb stays: it anchors a time) -------
    people: dict[str, list[str]] = {}
    for verb, role in _PEOPLE_VERBS.items():
        for m in t.take(rf"(?<=\b{verb})\s+by\s+(?P<who>{_NAME})\b"):
            people.setdefault(role, []).append(m.group("who"))
    for m in t.take(
        rf"\bdid\s+(?P<who>{_NAME})\s+(?=(?P<verb>approve|apply|deploy|plan|create)\b)"
    ):
        role = _PEOPLE_VERBS[
            {
                "approve": "approved",
                "apply": "applied",
                "deploy": "deployed",
                "plan": "planned",
                "create": "created",
            }[m.group("verb")]
        ]
        people.setdefault(role, []).append(m.group("who"))

    # Any action ("what did carol do", "requests bob touched", "touched by dave"): the verb
    # stays, to anchor a time window on the action.
    for m in t.take(rf"\b(?:did|has|have)\s+(?P<who>{_NAME})\s+(?=(?:{_ACTED})\b)"):
        people.setdefault("actors", []).append(m.group("who"))
    for m in list(re.finditer(rf"\b(?:{_ACTED})(?P<by>\s+by\s+(?P<who>{_NAME}))\b", t.text)):
        # Only "by NAME" is spent: the verb anchors a time window ("touched by dave today").
        start, end = m.span("by")
        t.text = t.text[:start] + " " * (end - start) + t.text[end:]
        people.setdefault("actors", []).append(m.group("who"))
    # A bare user name before a verb, only when it is a user of the configuration.
    known = sorted({u.lower() for u in users}, key=len, reverse=True)
    if known:
        user_names = "|".join(re.escape(u) for u in known)
        for m in t.take(
            rf"(?<![a-z0-9._-])(?P<who>{user_names})\s+"
            rf"(?=(?P<verb>approved|applied|deployed|planned|created|{_ACTED})\b)"
        ):
            verb = m.group("verb")
            role = _PEOPLE_VERBS.get(verb, "actors")
            people.setdefault(role, []).append(m.group("who"))

    # -- time ranges (each attached to the nearest anchor word before it) -------------------
    event_since: datetime | None = None
    anchors = list(_ANCHORS)
    if "approvers" in people or who_role == "approvers":
        anchors.append((re.compile(r"\b(?:approved|approve)\b"), "approved"))
    if "actors" in people:
        anchors.append((re.compile(rf"\b(?:{_ACTED})\b"), "acted"))
    for m in _TIME_RE.finditer(t.text):
        try:
            since, before = _time_bounds(m, now)
        except (ValueError, OverflowError) as exc:
            return Parsed(question, None, unknown=[m.group(0).strip()], reason=str(exc))
        anchor = "created"
        nearest = -1
        for regex, name in anchors:
            for a in regex.finditer(t.text, 0, m.start()):
                if a.start() > nearest:
                    nearest, anchor = a.start(), name
        for _kind, position in events:
            if position > nearest and position < m.start():
                nearest, anchor = position, "event"
        if anchor in ("event", "approved") and before is not None:
            # Event windows are open-ended: a closed one would be answered as open (wrong).
            return Parsed(
                question,
                None,
                unknown=[m.group(0).strip()],
                reason=f"'{m.group(0).strip()}' works for created, applied and drifted times "
                "only (for events: since, today, this week, last N days)",
            )
        if anchor == "approved":
            events.append(("approved", m.start()))
            event_since = since
        elif anchor == "event":
            event_since = since
        elif anchor in ("drifted", "applied", "created", "acted"):
            if since is not None:
                fields[f"{anchor}_since"] = since
            if before is not None:
                fields[f"{anchor}_before"] = before
        if nearest >= 0 and anchor != "event":
            # The anchor word is spent: "drifted this week" is a time filter, not only a state.
            word = re.match(
                rf"(?:{_ACTED})\b" if anchor == "acted" else r"[a-z]+", t.text[nearest:]
            )
            if word is not None:
                size = len(word.group(0))
                t.text = t.text[:nearest] + " " * size + t.text[nearest + size :]
    t.take(_TIME_RE)
    # The verbs of the people filters and of "who ...", when no time phrase spent them.
    for role, verbs in _ROLE_WORDS.items():
        if role in people or role == who_role or (role == "authors" and "who" in fields):
            t.take(rf"\b(?:{verbs}|requested)\b")
    for role, who in people.items():
        fields[role] = who
    if events:
        fields["events"] = [EventFilter(kind=k, since=event_since) for k, _ in events]

    # -- drift ------------------------------------------------------------------------------
    drift_rules = [
        (
            r"never checked for drift|not checked for drift|unchecked for drift|unchecked"
            r"|without a drift check",
            DriftFilter.UNCHECKED,
        ),
        (
            r"drift checks? (?:that )?failed|drift errors?|drift check errors?"
            r"|failed drift checks?",
            DriftFilter.ERROR,
        ),
        (
            r"without drift|no drift|drift[- ]free|not drifted|free of drift|in sync|clean",
            DriftFilter.NONE,
        ),
        (r"(?:with|have|has|had|showing|in) drift|drifted|drifting|drift", DriftFilter.DRIFTED),
    ]
    for pattern, state in drift_rules:
        if t.take(rf"\b(?:{pattern})\b"):
            if "drifted_since" not in fields or state is not DriftFilter.DRIFTED:
                fields["drift"] = state
            break

    # -- author (before statuses: "created by", and before words like "my") -----------------
    authors: list[str] = []
    if t.take(
        r"\b(?:my|mine|i (?:created|made|opened|requested|own)|did i (?:create|make|open)|i)\b"
    ):
        authors.append(actor)
    for m in t.take(
        rf"\b(?:created|opened|made|submitted|requested|authored|filed|owned)?\s*(?:by|from)\s+(?P<who>{_NAME})\b"
    ):
        authors.append(m.group("who"))
    for m in t.take(rf"\b(?P<who>{_NAME})'s\b"):
        authors.append(m.group("who"))
    if authors:
        fields["authors"] = [*fields.get("authors", []), *authors]

    # -- statuses ---------------------------------------------------------------------------
    for pattern, found in _STATUS_PHRASES:
        if t.take(rf"\b(?:{pattern})\b"):
            statuses.extend(found)
    if statuses:
        fields["statuses"] = sorted(set(statuses), key=list(RequestStatus).index)
    t.take(r"\b(?:created|opened|submitted|made|filed)\b")

    # -- placement: environments, projects, modules -----------------------------------------
    envs: list[str] = []
    for env_key, slug in environments:
        names = [re.escape(env_key)] + ([re.escape(slug)] if slug else [])
        if t.take(rf"\b(?:{'|'.join(names)})\b"):
            envs.append(env_key)
    if envs:
        fields["environments"] = envs
    chosen_projects = [m.group("p") for m in t.take(rf"\bprojects?\s+(?P<p>{_NAME})\b")]
    chosen_projects += [m.group("p") for m in t.take(rf"\b(?P<p>{_NAME})\s+project\b")]
    for name in sorted(projects, key=len, reverse=True):
        # A bare name only when it is a project that exists (the parser never guesses).
        if t.take(rf"(?<![a-z0-9/_.-]){re.escape(name)}(?![a-z0-9/_.-])"):
            chosen_projects.append(name)
    if chosen_projects:
        fields["projects"] = chosen_projects
    chosen: list[str] = []
    for m in t.take(r"\bmodules?\s+(?P<m>[a-z0-9][a-z0-9/-]*)"):
        chosen.append(_module_name(m.group("m"), modules) or m.group("m"))
    for name in sorted(modules, key=len, reverse=True):
        short = name.rsplit("/", 1)[-1]
        pattern = re.escape(name)
        if sum(1 for other in modules if other.rsplit("/", 1)[-1] == short) == 1:
            pattern += "|" + re.escape(short) + "s?"
        if t.take(rf"(?<![a-z0-9/-])(?:{pattern})(?![a-z0-9/-])"):
            chosen.append(name)
    if chosen:
        fields["modules"] = chosen

    # -- what is left must be filler ---------------------------------------------------------
    unknown = [w for w in t.words() if w.strip("'$") not in _FILLER and w.strip("'$")]
    if unknown:
        reason = "not understood: " + ", ".join(unknown)
        named = [w for w in unknown if w in known]
        if named:
            # A user named with no verb: which of their actions is meant is not guessed.
            person = named[0]
            reason += (
                f" ({person} is a user: say what {person} did, e.g. 'created by {person}', "
                f"'approved by {person}', 'what did {person} apply', "
                f"'what did {person} do this week')"
            )
        return Parsed(question, None, unknown=unknown, reason=reason)
    try:
        return Parsed(question, Query(**fields))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Parsed(question, None, reason=f"{where}: {first['msg']}")


def _module_name(word: str, modules: Sequence[str]) -> str | None:
    if word in modules:
        return word
    matches = [m for m in modules if m.rsplit("/", 1)[-1] == word]
    return matches[0] if len(matches) == 1 else None


def _date(text: str) -> datetime:
    """A ``YYYY-MM-DD`` day at 00:00 UTC (ValueError naming it when there is no such day)."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _back(count: str, unit: str) -> timedelta:
    """``count`` ``unit`` s as a timedelta, at most :data:`MAX_DAYS_BACK` days (ValueError)."""
    # Compared as text length first: int() of a 10,000-digit number is itself slow.
    days = int(count) * _UNITS[unit] if len(count) <= 9 else float("inf")
    if days > MAX_DAYS_BACK:
        raise ValueError(
            f"'{count} {unit}s' is too far back (at most {MAX_DAYS_BACK} days, 100 years)"
        )
    return timedelta(days=days)


def _time_bounds(m: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
    """``(since, before)`` of a time phrase."""
    phrase = m.group("phrase").strip()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if m.group("from"):
        start, end = _date(m.group("from")), _date(m.group("to"))
        if end < start:
            raise ValueError(f"'{phrase}': the second date is before the first")
        return start, end + timedelta(days=1)  # both days included
    if phrase == "today":
        return midnight, None
    if phrase == "yesterday":
        return midnight - timedelta(days=1), midnight
    if phrase == "since yesterday":
        return midnight - timedelta(days=1), None
    if phrase == "this week":
        return midnight - timedelta(days=midnight.weekday()), None
    if phrase == "this month":
        return midnight.replace(day=1), None
    if m.group("date"):
        return _date(m.group("date")), None
    if m.group("before"):
        return None, _date(m.group("before"))
    if m.group("older"):
        return None, now - _back(m.group("older"), m.group("ounit"))
    if m.group("n"):
        return now - _back(m.group("n"), m.group("unit")), None
    unit = m.group("unit1") or phrase.split()[-1]
    if unit == "24 hours":
        return now - timedelta(hours=24), None
    return now - timedelta(days=_UNITS[unit]), None
