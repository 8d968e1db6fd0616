"""The facts a prompt is built from: deterministic, value-free, and scrubbed of secrets."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core.facts import extract_facts, looks_secret, numbers_in, scrub_secrets

from .conftest import CONTEXT, REQUEST, masked_plan

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


def test_facts_are_deterministic_and_hold_no_values() -> None:
    first = extract_facts(REQUEST, masked_plan(), CONTEXT)
    second = extract_facts(REQUEST, masked_plan(), CONTEXT)
    assert first.digest() == second.digest()
    text = first.to_json()
    # Attribute values of the plan never become facts: only addresses, names and counts.
    for value in ("local-2", "medium", "logs-abc234"):
        assert value not in text
    assert first.counts == {"create": 1, "delete": 1, "replace": 1, "update": 1}
    assert [u.attributes for u in first.updated] == [("size", "tags")]
    assert first.drift[0].attributes == ("public_ip",)
    assert first.outputs == ["name", "token"]


def test_numbers_are_read_however_they_are_written() -> None:
    assert numbers_in("1,234.50 USD, +2.30 and 3 items, not web-1") == {
        n for n in numbers_in("1234.5 2.3 3")
    }
