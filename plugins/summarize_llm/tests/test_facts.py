"""The facts a prompt is built from: deterministic, value-free, and scrubbed of secrets."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.interfaces import SummaryContext
from tfpilot_core.plan import Plan
from tfpilot_core.plan_facts import (
    SECRET_MASK,
    UNKNOWN,
    FactsExtractor,
    attribute_changes,
    extract_facts,
    looks_secret,
    numbers_in,
    scrub_secrets,
)

from .conftest import CONTEXT, REQUEST, change, masked_plan

TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,;:-_/", max_size=40)
UPPER = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16)
ALNUM = st.text(alphabet=string.ascii_letters + string.digits, min_size=36, max_size=40)
WORD = st.text(alphabet=string.ascii_letters + string.digits, min_size=3, max_size=12)


@given(TEXT, UPPER, TEXT)
def test_aws_access_key_ids_are_masked(before: str, key: str, after: str) -> None:
    secret = "AKIA" + key
    assert secret not in scrub_secrets(f"{before} {secret} {after}")


@given(st.sampled_from(["postgres", "mysql", "amqp", "redis", "https"]), WORD, WORD, WORD)
def test_urls_with_credentials_are_masked(scheme: str, user: str, password: str, host: str) -> None:
    text = f"connect to {scheme}://{user}:{password}@{host}.internal:5432/db now"
    scrubbed = scrub_secrets(text)
    assert f":{password}@" not in scrubbed and "connect to" in scrubbed


@given(st.sampled_from(["ghp_", "gho_", "xoxb-", "sk-"]), ALNUM, TEXT)
def test_tokens_are_masked(prefix: str, body: str, around: str) -> None:
    assert prefix + body not in scrub_secrets(f"{around} {prefix}{body} {around}")


@given(st.sampled_from(["password", "Password", "API_KEY", "token", "AccountKey"]), WORD)
def test_key_value_secrets_are_masked(key: str, value: str) -> None:
    scrubbed = scrub_secrets(f"Server=db;{key}={value};Timeout=3")
    assert f"{key}={value}" not in scrubbed


@given(st.text(min_size=4, max_size=30), TEXT)
def test_known_secrets_are_masked_anywhere(secret: str, around: str) -> None:
    assert secret not in scrub_secrets(around + secret + around, [secret])


def test_ordinary_words_are_left_alone() -> None:
    for text in ("sandbox_bucket.logs", "module.app.aws_s3_bucket.b[0]", "local-1", "12.50 USD"):
        assert scrub_secrets(text) == text and not looks_secret(text)


def test_facts_are_deterministic_with_masked_attribute_values() -> None:
    first = extract_facts(REQUEST, masked_plan(), CONTEXT)
    second = extract_facts(REQUEST, masked_plan(), CONTEXT)
    assert first.digest() == second.digest()
    assert first.counts == {"create": 1, "delete": 1, "replace": 1, "update": 1}
    [update] = first.updated
    assert update.attributes == ("size", "tags")
    # What changes, path by path, with before and after: the secret-looking tag value is masked.
    assert [(c.path, c.before, c.after) for c in update.changes] == [
        ("size", "small", "medium"),
        ("tags.token", None, SECRET_MASK),
    ]
    [replace] = [d for d in first.destructive if d.action == "replace"]
    assert replace.forced_by == ("region",)
    assert [(c.path, c.before, c.after) for c in replace.changes] == [
        ("region", "local-1", "local-2")
    ]
    # A creation lists what it sets; sensitive and secret-looking values read as the mask.
    [created] = first.created
    assert {c.path: c.after for c in created.changes} == {
        "connection": SECRET_MASK,
        "name": "new",
        "tags.ci_key": SECRET_MASK,
    }
    assert first.drift[0].attributes == ("public_ip",)
    assert [(c.path, c.before, c.after) for c in first.drift[0].changes] == [
        ("public_ip", False, True)
    ]
    assert first.outputs == ["name", "token"]
    assert first.finding_rules == [
        {"rule_id": "public_access.blocked", "level": "blocking", "count": 1},
        {"rule_id": "tags.secret", "level": "advisory", "count": 1},
    ]


def test_unknown_values_imports_moves_and_exposure() -> None:
    plan = Plan.parse(
        {
            "format_version": "1.2",
            "resource_changes": [
                change(
                    "sandbox_bucket.open",
                    ["update"],
                    before={"public_access": False, "encryption": True, "arn": "a"},
                    after={"public_access": True, "encryption": False},
                    after_unknown={"arn": True},
                ),
                change(
                    "sandbox_bucket.adopted",
                    ["no-op"],
                    before={"name": "adopted"},
                    after={"name": "adopted"},
                    importing={"id": "adopted"},
                ),
                {
                    **change("sandbox_queue.new_name", ["no-op"], before={}, after={}),
                    "previous_address": "sandbox_queue.old_name",
                },
                change(
                    "sandbox_bucket.born_public",
                    ["create"],
                    before=None,
                    after={"public_access": True, "encryption": True},
                    after_unknown={"id": True},
                ),
            ],
        }
    )
    facts = extract_facts(REQUEST, plan, SummaryContext())
    [update] = facts.updated
    assert [(c.path, c.before, c.after) for c in update.changes] == [
        ("arn", "a", UNKNOWN),
        ("encryption", True, False),
        ("public_access", False, True),
    ]
    assert facts.imports == [{"address": "sandbox_bucket.adopted", "id": "adopted"}]
    assert facts.moves == [{"address": "sandbox_queue.new_name", "from": "sandbox_queue.old_name"}]
    assert [(e.address, e.change) for e in facts.exposure] == [
        ("sandbox_bucket.born_public", "made_public"),
        ("sandbox_bucket.open", "encryption_off"),
        ("sandbox_bucket.open", "made_public"),
    ]


def test_largest_changes_first_and_the_rest_counted() -> None:
    plan = Plan.parse(
        {
            "format_version": "1.2",
            "resource_changes": [
                change(
                    f"sandbox_bucket.b{i}",
                    ["update"],
                    before={f"k{j}": 0 for j in range(i)},
                    after={f"k{j}": 1 for j in range(i)},
                )
                for i in range(1, 6)
            ],
        }
    )
    extractor = FactsExtractor(REQUEST, plan, SummaryContext())
    facts = extractor.facts(2, 3)
    assert [u.address for u in facts.updated] == ["sandbox_bucket.b5", "sandbox_bucket.b4"]
    assert [len(u.changes) for u in facts.updated] == [3, 3]
    assert [u.more for u in facts.updated] == [2, 1]
    assert facts.omitted == {"updated": 3, "attributes": 3}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORD, inner, max_size=3),
        max_leaves=20,
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORD, inner, max_size=3),
        max_leaves=20,
    ),
)
def test_attribute_changes_of_any_values(before: object, after: object) -> None:
    found = attribute_changes(before, after)
    # Terraform reads null as absent (a null attribute, an absent map): any other difference is
    # a change.
    assert (found == []) == (_normal(before) == _normal(after))
    for path, _, _ in found:
        assert isinstance(path, str) and path


def _normal(value: object) -> object:
    # Children first, then null members dropped and an empty map read as null, at any depth.
    if isinstance(value, dict):
        items = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not None} or None
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def test_attribute_changes_of_deep_values_do_not_recurse() -> None:
    deep: object = "leaf"
    for _ in range(5000):
        deep = {"a": deep}
    [(path, _, after)] = attribute_changes({"x": deep}, {"x": {"a": 1}})
    assert (path, after) == ("x.a", 1)
    # Shown in the facts as a size, not as JSON that cannot be written.
    facts_plan = Plan.parse(
        {
            "format_version": "1.2",
            "resource_changes": [
                change("sandbox_bucket.deep", ["update"], before={"x": deep}, after={"x": 1})
            ],
        }
    )
    [update] = extract_facts(REQUEST, facts_plan, SummaryContext()).updated
    assert update.changes[0].before == "(map of 1 items)"


def test_numbers_are_read_however_they_are_written() -> None:
    assert numbers_in("1,234.50 USD, +2.30 and 3 items, not web-1") == {
        n for n in numbers_in("1234.5 2.3 3")
    }
