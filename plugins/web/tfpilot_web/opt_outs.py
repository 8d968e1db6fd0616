"""Opt-outs in the request form: which findings offer one, what the form posted, whose problem.

A policy finding offers "request an opt-out" when its rule is one a request may opt out of, as
the core says (:func:`tfpilot_core.lifecycle.changes.opt_out_rules`: the security defaults the
selected policy engines declare). The form posts one field per rule, ``opt_out.<rule id>``, with
the justification; a non-blank one is an opt-out, sent to the create (and to the preview's
draft) as ``{"rule_id": ..., "justification": ...}``, exactly as ``tfpilot requests create
--opt-out RULE=JUSTIFICATION`` sends it. The core checks them (known rule, security default,
length of the justification) and names ``opt_outs[i].<field>``; :func:`problems_by_rule` puts
each problem back beside its rule's field. No check of opt-outs lives here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tfpilot_core.errors import FieldProblem

#: The form field of a rule's justification: ``opt_out.<rule id>``.
PREFIX = "opt_out."

_INDEX = re.compile(r"^opt_outs\[(\d+)\]")


def allowed_rules(platform: Any) -> set[str]:
    """The rule ids a request may opt out of (the core's answer)."""
    from tfpilot_core.lifecycle.changes import opt_out_rules

    return {rule for rule, allowed in opt_out_rules(platform.kernel).items() if allowed}


def posted(form: Mapping[str, str]) -> dict[str, str]:
    """Every ``opt_out.<rule>`` field of the form, blank or not, by rule id."""
    return {
        key[len(PREFIX) :]: value
        for key, value in form.items()
        if key.startswith(PREFIX) and len(key) > len(PREFIX)
    }


def requested(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The opt-outs the form asks for (a non-blank justification), in rule id order."""
    return [
        {"rule_id": rule, "justification": text}
        for rule, text in sorted(posted(form).items())
        if text.strip()
    ]


def problems_by_rule(
    problems: Sequence[FieldProblem], opt_outs: Sequence[Mapping[str, str]]
) -> tuple[dict[str, list[str]], list[FieldProblem]]:
    """The core's ``opt_outs[i]...`` problems by the rule of opt-out ``i``; the others apart."""
    by_rule: dict[str, list[str]] = {}
    others: list[FieldProblem] = []
    for problem in problems:
        found = _INDEX.match(problem.field)
        index = int(found.group(1)) if found else -1
        if 0 <= index < len(opt_outs):
            by_rule.setdefault(opt_outs[index]["rule_id"], []).append(problem.message)
        else:
            others.append(problem)
    return by_rule, others


__all__ = ["PREFIX", "allowed_rules", "posted", "problems_by_rule", "requested"]
